"""Running services until SIGTERM/SIGINT, then stopping them gracefully."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from typing import Protocol

from shared.http import Handler, HttpApp, HttpServer
from shared.logging import configure_logging, get_logger
from shared.metrics import Metrics
from shared.settings import Settings, SettingsError, load_settings

log = get_logger("runner")


class Runnable(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...


def stop_event_on_signals() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (the second one exits at once)."""
    loop = asyncio.get_running_loop()
    event = asyncio.Event()

    def on_signal() -> None:
        if event.is_set():
            log.warning("shutdown.forced")
            sys.exit(130)
        log.info("shutdown.requested")
        event.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal)
    return event


async def run_services(
    services: Sequence[Runnable],
    metrics: Metrics,
    *,
    http_host: str,
    http_port: int,
    routes: dict[str, Handler] | None = None,
    stop: asyncio.Event | None = None,
    on_ready: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Start services in order, serve HTTP, wait for ``stop``, stop in reverse order."""
    stop = stop or stop_event_on_signals()
    started: list[Runnable] = []
    http = HttpServer(HttpApp(services, metrics, routes), http_host, http_port)
    try:
        for service in services:
            await service.start()
            started.append(service)
        http_url = await http.start()
        log.info("http.listening", url=http_url)
        if on_ready is not None:
            result = on_ready(http_url)
            if asyncio.iscoroutine(result):
                await result
        await stop.wait()
    finally:
        with suppress(Exception):
            await http.stop()
        for service in reversed(started):
            try:
                await service.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("service.stop_failed", service=service.name)


def service_main(build: Callable[[Settings, Metrics], Runnable]) -> None:
    """Entry point of ``python -m services.<name>``."""
    try:
        settings = load_settings()
        if not settings.nats_url or not settings.database_url:
            raise SettingsError("WATERSHED_NATS_URL and WATERSHED_DATABASE_URL must be set to run one service alone"
                                " (or use `watershed up` for the embedded stack)")
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(settings.log_level, settings.log_format, settings.secrets)
    metrics = Metrics()

    async def main() -> None:
        service = build(settings, metrics)
        await run_services([service], metrics, http_host=settings.http_host, http_port=settings.http_port)

    asyncio.run(main())
