"""The socket side of the fake forge: parse a request, hand it to FakeForge.handle, write
the reply (or half of it, for truncation faults)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from shared.fakeforge.server import _Server

log = logging.getLogger("shared.fakeforge")


@dataclass
class Reply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    truncate: bool = False


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() in ("token", "bearer") and value.strip():
        return value.strip()
    return None


class Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, so clients' connection pools behave as against GitHub.
    protocol_version = "HTTP/1.1"
    timeout = 30
    # Headers and body go out in two writes; with Nagle on, the client's delayed ACK adds
    # ~40 ms to every keep-alive request.
    disable_nagle_algorithm = True

    def version_string(self) -> str:
        return "GitHub.com"

    def credential(self) -> str | None:
        """The token the request carries (GitHub: ``Authorization: token|Bearer ...``)."""
        return bearer_token(self.headers.get("authorization"))

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = parse_qsl(parts.query, keep_blank_values=True)
        forge = cast("_Server", self.server).forge
        reply = forge.handle(self.command, parts.path, query,
                             self.credential(),
                             self.client_address[0], self.headers.get("if-none-match"),
                             body=body)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status != 304:
            self.send_header("content-length", str(len(reply.body)))
        self.end_headers()
        if reply.truncate:
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = _serve
    do_HEAD = _serve
    do_POST = _serve
    do_PATCH = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fakeforge_request", extra={"detail": format % args})
