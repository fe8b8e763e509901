"""What every service is made of: a NATS connection (FastStream broker), JetStream
streams ensured at start, health flags, and a graceful stop.

A service is started and stopped by :func:`shared.runner.run_services`, alone
(``python -m services.<name>``) or six at a time (``watershed up``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fast_depends.msgspec import MsgSpecSerializer
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from shared.consumers import consumer_state
from shared.events.jetstream import Publisher, ensure_streams
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.settings import Settings


class Service:
    """Base of the six services. Subclasses register subscribers in ``setup`` and
    open their resources in ``on_start`` / close them in ``on_stop``."""

    name = "service"
    # (stream, durable consumer) pairs this service reads; their lag is polled into metrics.
    watched_consumers: tuple[tuple[str, str], ...] = ()

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        if not settings.nats_url:
            raise ValueError("WATERSHED_NATS_URL is not set")
        self.settings = settings
        self.metrics = metrics
        self.log = get_logger(self.name, service=self.name)
        self.broker = NatsBroker(
            settings.nats_url,
            serializer=MsgSpecSerializer(),
            # FastStream logs two INFO lines per message; ours are enough.
            log_level=logging.DEBUG,
            logger=logging.getLogger(f"faststream.watershed.{self.name}"),
            # How long a stop waits for handlers in flight; then they are cancelled and
            # their jobs handed back (a job resumes whole on the next delivery).
            graceful_timeout=settings.shutdown_grace_s,
            name=f"watershed-{self.name}",
            max_reconnect_attempts=-1,
        )
        self._started = False
        self._poll_task: asyncio.Task[None] | None = None
        self.setup()

    def setup(self) -> None:
        """Register subscribers on ``self.broker``."""

    async def on_start(self) -> None:
        """Open resources (pools, clients) once JetStream is reachable."""

    async def on_stopping(self) -> None:
        """Stop own loops that use the connection; called before the broker drains."""

    async def on_stop(self) -> None:
        """Close resources; called after the broker stopped taking messages."""

    async def poll_metrics(self) -> None:
        """Refresh the gauges read from JetStream (every ``metrics_poll_interval_s``)."""
        for stream, consumer in self.watched_consumers:
            state = await consumer_state(self.js, stream, consumer)
            if state is not None:
                self.metrics.consumer_pending.labels(service=self.name, consumer=consumer).set(state.pending)
                self.metrics.consumer_ack_pending.labels(service=self.name, consumer=consumer).set(state.ack_pending)

    async def _poll_loop(self) -> None:
        while True:
            try:
                await self.poll_metrics()
            except Exception as exc:  # noqa: BLE001 - a missed poll leaves the gauges a little older
                self.log.warning("metrics.poll_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.metrics_poll_interval_s)

    @property
    def js(self) -> JetStreamContext:
        return self.broker.connection.jetstream()

    def publisher(self) -> Publisher:
        return Publisher(self.js)

    async def start(self) -> None:
        await self.broker.connect()
        await ensure_streams(self.js)
        await self.on_start()
        await self.broker.start()
        self._poll_task = asyncio.create_task(self._poll_loop(), name=f"{self.name}-metrics-poll")
        self._started = True
        self.metrics.up.labels(service=self.name).set(1)
        self.log.info("service.started")

    async def stop(self) -> None:
        if not self._started:
            await self.broker.stop()
            return
        self._started = False
        self.metrics.up.labels(service=self.name).set(0)
        if self._poll_task is not None:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poll_task
        await self.on_stopping()
        # Stops subscribers first and waits (graceful_timeout) for handlers in flight;
        # an unfinished job is simply redelivered to the next worker.
        await self.broker.stop()
        await self.on_stop()
        self.log.info("service.stopped")

    def healthy(self) -> bool:
        return True

    def ready(self) -> bool:
        if not self._started:
            return False
        try:
            return bool(self.broker.connection.is_connected)
        except Exception:  # noqa: BLE001 - not connected yet
            return False
