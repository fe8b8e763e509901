"""What every service is made of: a NATS connection (FastStream broker), JetStream
streams ensured at start, health flags, and a graceful stop.

A service is started and stopped by :func:`shared.runner.run_services`, alone
(``python -m services.<name>``) or six at a time (``watershed up``).
"""

from __future__ import annotations

import logging

from fast_depends.msgspec import MsgSpecSerializer
from faststream.nats import NatsBroker
from nats.js import JetStreamContext

from shared.events.jetstream import Publisher, ensure_streams
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.settings import Settings


class Service:
    """Base of the six services. Subclasses register subscribers in ``setup`` and
    open their resources in ``on_start`` / close them in ``on_stop``."""

    name = "service"

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
        self.setup()

    def setup(self) -> None:
        """Register subscribers on ``self.broker``."""

    async def on_start(self) -> None:
        """Open resources (pools, clients) once JetStream is reachable."""

    async def on_stopping(self) -> None:
        """Stop own loops that use the connection; called before the broker drains."""

    async def on_stop(self) -> None:
        """Close resources; called after the broker stopped taking messages."""

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
        self._started = True
        self.metrics.up.labels(service=self.name).set(1)
        self.log.info("service.started")

    async def stop(self) -> None:
        if not self._started:
            await self.broker.stop()
            return
        self._started = False
        self.metrics.up.labels(service=self.name).set(0)
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
