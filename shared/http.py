"""The HTTP face of a process: ``/metrics``, ``/healthz``, ``/readyz``, any extra routes, and
the pages of a service that has some (``asgi``).

A tiny ASGI app served by uvicorn; with ``watershed up`` one server answers for
all six services (healthy only when all are).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from shared.metrics import Metrics

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[Scope], Awaitable[tuple[int, str, bytes]]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Probe(Protocol):
    """What /healthz and /readyz ask of each service."""

    name: str

    def healthy(self) -> bool: ...

    def ready(self) -> bool: ...


async def _respond(send: Send, status: int, content_type: str, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                            (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


class HttpApp:
    def __init__(self, services: Sequence[Probe], metrics: Metrics, routes: dict[str, Handler] | None = None) -> None:
        self.services = list(services)
        self.metrics = metrics
        self.routes: dict[str, Handler] = dict(routes or {})
        # A service with pages of its own (the scheduler: REST API and dashboard) answers every
        # other path; one server carries them next to the probes.
        self.mounts: list[AsgiApp] = [app for s in services if (app := getattr(s, "asgi", None)) is not None]

    def _probe(self, check: str) -> tuple[int, str, bytes]:
        states = {s.name: bool(getattr(s, check)()) for s in self.services}
        ok = all(states.values())
        body = json.dumps({"status": "ok" if ok else "unavailable", "services": states}).encode()
        return (200 if ok else 503), "application/json", body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/metrics":
            await _respond(send, 200, CONTENT_TYPE_LATEST, generate_latest(self.metrics.registry))
        elif path == "/healthz":
            await _respond(send, *self._probe("healthy"))
        elif path == "/readyz":
            await _respond(send, *self._probe("ready"))
        elif path in self.routes:
            await _respond(send, *(await self.routes[path](scope)))
        elif self.mounts:
            await self.mounts[0](scope, receive, send)
        else:
            await _respond(send, 404, "application/json", b'{"error": "not found"}')


class HttpServer:
    """uvicorn in the current event loop; ``port=0`` picks a free port."""

    def __init__(self, app: HttpApp, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                access_log=False, server_header=False)
        self._server = uvicorn.Server(config)
        # Signals belong to the runner; uvicorn would capture SIGTERM and raise it again
        # once stopped, which reads as a second Ctrl-C (forced exit, servers left behind).
        self._server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
        self._task: asyncio.Task[None] | None = None
        self.host = host

    async def start(self) -> str:
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("HTTP server stopped during start")
            await asyncio.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self.host}:{port}"

    async def stop(self) -> None:
        self._server.should_exit = True
        if self._task is not None:
            await self._task
