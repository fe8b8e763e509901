"""A small ASGI router for the REST API and the dashboard.

Routes are declared once (method, path template, typed path/query/body structs, responses)
and that declaration is all there is: requests are decoded and validated from it, and the
OpenAPI document is generated from it (:mod:`services.scheduler.web.openapi`).

Every answer to bad input is a 4xx problem document (RFC 9457); a handler's unexpected
failure is a 500 that names nothing internal. Mutations need a bearer token (compared in
constant time); CORS headers are sent only for configured origins. Requests are counted by
route template, never by raw path, so a scan cannot blow up the metrics.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import asyncpg
import msgspec

from shared.http import Receive, Scope, Send
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.secret import Secret

log = get_logger("api", service="scheduler")

MAX_BODY_BYTES = 64 * 1024
PROBLEM = "application/problem+json"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
_PARAM = re.compile(r"\{([a-z_]+)\}")
_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                     (b"cache-control", b"no-store")]
_encoder = msgspec.json.Encoder()


class Problem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An error, as RFC 9457 describes it."""

    title: str
    status: int
    detail: str | None = None
    type: str = "about:blank"
    errors: list[str] = []


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


def json_response(value: Any, status: int = 200, headers: Sequence[tuple[bytes, bytes]] = ()) -> Response:
    return Response(status, _encoder.encode(value), JSON, list(headers))


def problem(status: int, title: str, detail: str | None = None, *, errors: Sequence[str] = (),
            headers: Sequence[tuple[bytes, bytes]] = ()) -> Response:
    body = Problem(title=title, status=status, detail=detail, errors=list(errors))
    return Response(status, _encoder.encode(body), PROBLEM, list(headers))


class HttpError(Exception):
    """Raised by a handler to answer with a problem document."""

    def __init__(self, status: int, title: str, detail: str | None = None) -> None:
        super().__init__(detail or title)
        self.response = problem(status, title, detail)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    path_params: Any = None
    query: Any = None
    body: Any = None


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    summary: str = ""
    tag: str = ""
    path_params: type[msgspec.Struct] | None = None
    query: type[msgspec.Struct] | None = None
    body: type[msgspec.Struct] | None = None
    body_required: bool = True
    responses: dict[int, tuple[Any, str]] = field(default_factory=dict)  # status -> (type or None, description)
    mutation: bool = False
    page: bool = False  # an HTML page of the dashboard: not part of the API document

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = _PARAM.split(self.template)  # literal, name, literal, name, ..., literal
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
        return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class Access:
    tokens: tuple[Secret, ...] = ()
    cors_origins: tuple[str, ...] = ()


def check_bearer(authorization: str | None, tokens: Sequence[Secret]) -> Response | None:
    """None when the request may change things; else the refusal."""
    if not tokens:
        return problem(403, "Mutations are disabled",
                       "This API has no tokens configured (WATERSHED_API_TOKENS), so it is read-only.")
    scheme, _, given = (authorization or "").partition(" ")
    challenge = [(b"www-authenticate", b'Bearer realm="watershed"')]
    if scheme.lower() != "bearer" or not given.strip():
        return problem(401, "Authentication required", "Send `Authorization: Bearer <token>` to change anything.",
                       headers=challenge)
    offered = given.strip().encode("utf-8", "surrogateescape")
    # Every configured token is compared, whether or not one matched already: the time taken
    # says nothing about which token (or how much of one) was right.
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(offered, token.reveal().encode())
    if not matched:
        return problem(401, "Invalid token", "The bearer token is not one of this API's tokens.",
                       headers=[(b"www-authenticate", b'Bearer realm="watershed", error="invalid_token"')])
    return None


def _decode_params(kind: str, values: dict[str, str], struct: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.convert(values, struct, strict=False)
    except msgspec.ValidationError as exc:
        raise HttpError(400 if kind == "query" else 404, f"Invalid {kind} parameter", str(exc)) from None


def _check_text(value: Any, where: str = "$", status: int = 422) -> None:
    """Postgres takes neither NUL characters nor lone surrogates; refuse them here, as input errors
    (a bad query is a 400, a bad path names nothing: 404, a bad body a 422)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise HttpError(status, "Invalid input", f"{where} contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise HttpError(status, "Invalid input", f"{where} is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where, status)
            _check_text(item, f"{where}.{key}", status)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]", status)


async def _read_body(receive: Receive) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise HttpError(400, "Client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HttpError(413, "Request body too large", f"At most {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


class Router:
    def __init__(self, routes: Sequence[Route], access: Access, metrics: Metrics, service: str) -> None:
        self.routes = list(routes)
        self.access = access
        self.metrics = metrics
        self.service = service
        self._compiled = [(route, route.pattern) for route in self.routes]

    def match(self, path: str) -> tuple[list[tuple[Route, dict[str, str]]], str]:
        found = [(route, m.groupdict()) for route, pattern in self._compiled if (m := pattern.match(path))]
        template = found[0][0].template if found else "unmatched"
        return found, template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = time.perf_counter()
        method = scope["method"].upper()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope["path"]
        candidates, template = self.match(path)
        try:
            response = await self._dispatch(method, path, scope, receive, headers, candidates)
        except HttpError as exc:
            response = exc.response
        except (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, ConnectionError, OSError):
            log.warning("api.database_unavailable", route=template)
            response = problem(503, "Service unavailable", "The database cannot be reached; try again shortly.",
                               headers=[(b"retry-after", b"5")])
        except Exception:  # noqa: BLE001 - logged whole here, never shown to the client
            log.exception("api.failed", route=template, method=method)
            response = problem(500, "Internal error", "The failure is logged on the server.")
        response.headers.extend(self._cors(headers.get("origin"), method, headers))
        await self._send(send, response, method == "HEAD")
        self.metrics.http_requests.labels(service=self.service, route=template, method=method,
                                          status=str(response.status)).inc()
        self.metrics.http_seconds.labels(service=self.service, route=template).observe(time.perf_counter() - started)

    async def _dispatch(self, method: str, path: str, scope: Scope, receive: Receive, headers: dict[str, str],
                        candidates: list[tuple[Route, dict[str, str]]]) -> Response:
        if not candidates:
            return problem(404, "Not found", f"No page or endpoint at {path[:200]!r}.")
        allowed = sorted({r.method for r, _ in candidates} | ({"HEAD"} if any(r.method == "GET" for r, _ in candidates)
                                                             else set()))
        if method == "OPTIONS" and self.access.cors_origins:
            return Response(204)
        chosen = next(((r, p) for r, p in candidates if r.method == method or (method == "HEAD" and r.method == "GET")),
                      None)
        if chosen is None:
            return problem(405, "Method not allowed", f"{path[:200]!r} takes {', '.join(allowed)}.",
                           headers=[(b"allow", ", ".join(allowed).encode())])
        route, params = chosen
        if route.mutation and (refusal := check_bearer(headers.get("authorization"), self.access.tokens)):
            return refusal
        request = Request(method=method, path=path, headers=headers)
        if route.path_params is not None:
            _check_text(params, "path", 404)
            request.path_params = _decode_params("path", params, route.path_params)
        if route.query is not None:
            # Unknown parameters (a cache buster, a tracking tag) are ignored, as browsers expect.
            query = {k: v for k, v in _parse_query(scope.get("query_string", b"")).items()
                     if k in route.query.__struct_fields__}
            request.query = _decode_params("query", query, route.query)
        if route.body is not None:
            request.body = await self._body(route, receive, headers)
        return await route.handler(request)

    async def _body(self, route: Route, receive: Receive, headers: dict[str, str]) -> Any:
        assert route.body is not None
        raw = await _read_body(receive)
        if not raw.strip():
            if route.body_required:
                raise HttpError(422, "Request body required", f"Send a JSON object ({route.body.__name__}).")
            return route.body()
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != JSON:
            raise HttpError(415, "Unsupported media type", "Send the body as application/json.")
        try:
            value = msgspec.json.decode(raw, type=route.body)
        except msgspec.ValidationError as exc:
            raise HttpError(422, "Invalid request body", str(exc)) from None
        except msgspec.DecodeError as exc:
            raise HttpError(400, "Malformed JSON", str(exc)) from None
        _check_text(msgspec.to_builtins(value))
        return value

    def _cors(self, origin: str | None, method: str, headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
        if not origin or origin not in self.access.cors_origins:
            return []
        extra = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin"),
                 (b"access-control-expose-headers", b"Location")]
        if method == "OPTIONS":
            extra += [(b"access-control-allow-methods", b"GET, POST, DELETE"),
                      (b"access-control-allow-headers", b"Authorization, Content-Type"),
                      (b"access-control-max-age", b"600")]
        return extra

    @staticmethod
    async def _send(send: Send, response: Response, head: bool) -> None:
        headers = [(b"content-type", response.content_type.encode()),
                   (b"content-length", str(len(response.body)).encode()), *_SECURITY_HEADERS, *response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else response.body})


def _parse_query(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=50)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HttpError(400, "Malformed query string", str(exc)[:200]) from None
    values = dict(pairs)
    _check_text(values, "query", 400)
    # An empty value means "not given": `?state=` from a form is no filter, not an invalid state.
    return {k: v for k, v in values.items() if v != ""}
