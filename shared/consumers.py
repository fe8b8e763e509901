"""How far behind JetStream consumers are, read from consumer info (polled, never pushed).

Each service reports the consumers it reads (its lag is what a Deployment scales on); the
scheduler also reports every job queue's depth, for the API and dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.events import subjects


@dataclass(frozen=True)
class ConsumerState:
    stream: str
    consumer: str
    pending: int  # not yet delivered: the lag
    ack_pending: int  # delivered, not yet acknowledged: in flight
    redelivered: int  # delivered more than once and not yet acknowledged

    @property
    def depth(self) -> int:
        """Messages the consumer still has to finish."""
        return self.pending + self.ack_pending


async def consumer_state(js: JetStreamContext, stream: str, consumer: str) -> ConsumerState | None:
    """None when the stream or consumer does not exist (yet)."""
    try:
        info = await js.consumer_info(stream, consumer)
    except NotFoundError:
        return None
    return ConsumerState(stream, consumer, int(info.num_pending or 0), int(info.num_ack_pending or 0),
                         int(info.num_redelivered or 0))


async def job_queues(js: JetStreamContext) -> dict[str, ConsumerState | None]:
    """The work queue of every job phase (None: no worker of that phase has started yet)."""
    return {phase: await consumer_state(js, subjects.COMMANDS, subjects.job_consumer(phase))
            for phase in subjects.JOB_PHASES}


async def stream_messages(js: JetStreamContext, stream: str) -> int:
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return 0
    return int(info.state.messages or 0)
