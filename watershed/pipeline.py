"""All six services in one process, on the embedded servers or on given ones.

``watershed up``, ``collect`` (when nothing runs yet) and ``demo`` use this; the
services are the same objects ``python -m services.<name>`` runs alone.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from services.analysis.app import create_app as create_analysis
from services.collector.app import create_app as create_collector
from services.facade.app import create_app as create_facade
from services.processor.app import create_app as create_processor
from services.resolver.app import create_app as create_resolver
from services.scheduler.app import Scheduler
from services.scheduler.app import create_app as create_scheduler
from shared.db import apply_migrations
from shared.embedded.nats import EmbeddedNats
from shared.embedded.postgres import EmbeddedPostgres
from shared.embedded.stack import EmbeddedStack
from shared.http import HttpApp, HttpServer
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.service import Service
from shared.settings import Settings

log = get_logger("pipeline")

# In start order: the processor first, since everything the others publish needs it to land.
SERVICES = {
    "processor": create_processor,
    "scheduler": create_scheduler,
    "collector": create_collector,
    "facade": create_facade,
    "analysis": create_analysis,
    "resolver": create_resolver,
}


class Servers:
    """NATS and PostgreSQL: the ones configured, or embedded ones under the data dir."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stack: EmbeddedStack | None = None
        self._parts: list[EmbeddedNats | EmbeddedPostgres] = []
        self.nats_url = settings.nats_url or ""
        self.database_url = settings.database_url or ""

    @property
    def stack(self) -> EmbeddedStack | None:
        return self._stack

    async def start(self) -> None:
        data = self.settings.data_dir
        if not self.nats_url and not self.database_url:
            self._stack = EmbeddedStack(data)
            info = await self._stack.start()
            self.nats_url, self.database_url = info.nats_url, info.database_url
            return
        # Only one of the two given: embed the other alone.
        from shared.embedded._proc import free_port

        if not self.nats_url:
            nats = EmbeddedNats(data / "nats", free_port())
            await nats.start()
            self._parts.append(nats)
            self.nats_url = nats.url
        if not self.database_url:
            postgres = EmbeddedPostgres(data / "postgres", free_port())
            await postgres.start()
            self._parts.append(postgres)
            self.database_url = postgres.dsn

    async def stop(self) -> None:
        if self._stack is not None:
            await self._stack.stop()
        for part in reversed(self._parts):
            await part.stop()


class Pipeline:
    """Servers + migrations + the six services + one HTTP endpoint for all of them."""

    def __init__(self, settings: Settings, *, http_port: int | None = None,
                 without: frozenset[str] = frozenset()) -> None:
        self.servers = Servers(settings)
        self.without = without  # services run elsewhere (tests run the processor as its own process)
        self.base_settings = settings
        self.http_port = settings.http_port if http_port is None else http_port
        self.metrics = Metrics()
        self.services: list[Service] = []
        self.http: HttpServer | None = None
        self.http_url = ""

    @property
    def settings(self) -> Settings:
        return self.base_settings.replace(nats_url=self.servers.nats_url, database_url=self.servers.database_url)

    @property
    def scheduler(self) -> Scheduler:
        return next(s for s in self.services if isinstance(s, Scheduler))

    async def start(self) -> None:
        await self.servers.start()
        try:
            await apply_migrations(self.servers.database_url)
            settings = self.settings
            for name, build in SERVICES.items():
                if name in self.without:
                    continue
                service = build(settings, self.metrics)
                await service.start()
                self.services.append(service)
            self.http = HttpServer(HttpApp(self.services, self.metrics), settings.http_host, self.http_port)
            self.http_url = await self.http.start()
            if self.servers.stack is not None:
                self.servers.stack.record_http_url(self.http_url)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.http is not None:
            await self.http.stop()
            self.http = None
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("service.stop_failed", service=service.name)
        self.services.clear()
        await self.servers.stop()

    async def __aenter__(self) -> Pipeline:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await asyncio.shield(self.stop())

