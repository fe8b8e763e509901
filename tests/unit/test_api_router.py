"""The API's router on its own (no servers): auth, CORS, validation and problem documents,
metrics by route template, and HTML that escapes whatever it is given."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from prometheus_client import generate_latest

from services.scheduler.web.html import CSP, el, page
from services.scheduler.web.router import Access, Request, Response, Route, Router, json_response
from services.scheduler.web.schemas import PriorityChange, RepoPath, RepoQuery
from shared.metrics import Metrics
from shared.secret import Secret

TOKEN = "router-test-token-0123456789"


async def _echo(request: Request) -> Response:
    return json_response({"path": msgspec.to_builtins(request.path_params), "query": msgspec.to_builtins(request.query),
                          "body": msgspec.to_builtins(request.body)})


ROUTES = [
    Route("GET", "/api/v1/repos", _echo, query=RepoQuery),
    Route("GET", "/api/v1/repos/{repo_id}", _echo, path_params=RepoPath),
    Route("POST", "/api/v1/repos/{repo_id}/prioritize", _echo, path_params=RepoPath, body=PriorityChange,
          mutation=True),
]


async def call(router: Router, method: str, path: str, *, query: bytes = b"", body: bytes = b"",
               headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await router(scope, receive, send)
    start, content = sent
    got = {k.decode(): v.decode() for k, v in start["headers"]}
    text = content["body"]
    parsed = json.loads(text) if got["content-type"].endswith("json") and text else text
    return start["status"], got, parsed


def router(tokens: tuple[str, ...] = (TOKEN,), origins: tuple[str, ...] = (), metrics: Metrics | None = None) -> Router:
    return Router(ROUTES, Access(tuple(Secret(t) for t in tokens), origins), metrics or Metrics(), "scheduler")


AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


async def test_mutations_need_a_configured_token() -> None:
    path, body = "/api/v1/repos/3/prioritize", b'{"priority": 5}'
    status, headers, problem = await call(router(), "POST", path, body=body)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert headers["content-type"] == "application/problem+json" and problem["status"] == 401
    for wrong in ("Bearer nope", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer "):
        assert (await call(router(), "POST", path, body=body, headers={"Authorization": wrong}))[0] == 401, wrong
    status, _, echoed = await call(router(), "POST", path, body=body, headers=AUTH)
    assert status == 200 and echoed["body"] == {"priority": 5} and echoed["path"] == {"repo_id": 3}
    status, _, problem = await call(router(tokens=()), "POST", path, body=body, headers=AUTH)
    assert status == 403 and "WATERSHED_API_TOKENS" in problem["detail"]
    assert (await call(router(tokens=()), "GET", "/api/v1/repos"))[0] == 200, "reads stay open"


async def test_cors_is_off_unless_an_origin_is_configured() -> None:
    origin = {"Origin": "https://dash.example.org"}
    _, headers, _ = await call(router(), "GET", "/api/v1/repos", headers=origin)
    assert not [h for h in headers if h.startswith("access-control-")]
    assert (await call(router(), "OPTIONS", "/api/v1/repos", headers=origin))[0] == 405
    allowed = router(origins=("https://dash.example.org",))
    _, headers, _ = await call(allowed, "GET", "/api/v1/repos", headers=origin)
    assert headers["access-control-allow-origin"] == "https://dash.example.org" and headers["vary"] == "Origin"
    status, headers, _ = await call(allowed, "OPTIONS", "/api/v1/repos/1/prioritize",
                                    headers={**origin, "Access-Control-Request-Method": "POST"})
    assert status == 204 and "Authorization" in headers["access-control-allow-headers"]
    _, headers, _ = await call(allowed, "GET", "/api/v1/repos", headers={"Origin": "https://other.example.org"})
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize(("method", "path", "query", "body", "status"), [
    ("GET", "/nowhere", b"", b"", 404),
    ("DELETE", "/api/v1/repos", b"", b"", 405),
    ("GET", "/api/v1/repos", b"limit=0", b"", 400),
    ("GET", "/api/v1/repos", b"limit=abc", b"", 400),
    ("GET", "/api/v1/repos", b"state=gone", b"", 400),
    ("GET", "/api/v1/repos", b"q=%00", b"", 400),
    ("GET", "/api/v1/repos", b"q=%ff", b"", 400),
    ("GET", "/api/v1/repos", b"q=\xff", b"", 400),
    ("GET", "/api/v1/repos/0", b"", b"", 404),
    ("GET", "/api/v1/repos/2147483648", b"", b"", 404),
    ("GET", "/api/v1/repos/-1", b"", b"", 404),
    ("POST", "/api/v1/repos/1/prioritize", b"", b"", 422),
    ("POST", "/api/v1/repos/1/prioritize", b"", b"{", 400),
    ("POST", "/api/v1/repos/1/prioritize", b"", b'{"priority": "high"}', 422),
    ("POST", "/api/v1/repos/1/prioritize", b"", b'{"priority": 1, "extra": 1}', 422),
    ("POST", "/api/v1/repos/1/prioritize", b"", b'{"priority": 100000000000000000000000}', 422),
    ("POST", "/api/v1/repos/1/prioritize", b"", b"[1]", 422),
    ("POST", "/api/v1/repos/1/prioritize", b"", b" " * 70_000, 413),
])
async def test_bad_input_is_a_4xx_problem(method: str, path: str, query: bytes, body: bytes, status: int) -> None:
    got, headers, problem = await call(router(), method, path, query=query, body=body, headers=AUTH)
    assert got == status, problem
    assert headers["content-type"] == "application/problem+json" and problem["status"] == status
    if status == 405:
        assert headers["allow"] == "GET, HEAD"


async def test_body_must_be_json() -> None:
    status, _, _ = await call(router(), "POST", "/api/v1/repos/1/prioritize", body=b"priority=1",
                              headers={**AUTH, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 415


async def test_empty_query_values_are_no_filter_and_unknown_ones_are_ignored() -> None:
    status, _, echoed = await call(router(), "GET", "/api/v1/repos", query=b"state=&q=&limit=5&_=1700000000")
    assert status == 200 and echoed["query"]["state"] is None and echoed["query"]["limit"] == 5


async def test_handler_failure_is_a_bare_500() -> None:
    async def broken(request: Request) -> Response:
        raise RuntimeError("secret internals")

    r = Router([Route("GET", "/x", broken)], Access(), Metrics(), "scheduler")
    status, _, problem = await call(r, "GET", "/x")
    assert status == 500 and "secret internals" not in json.dumps(problem)


async def test_requests_are_counted_by_route_template() -> None:
    metrics = Metrics()
    r = router(metrics=metrics)
    for path in ("/api/v1/repos/1", "/api/v1/repos/2", "/random/1", "/random/2"):
        await call(r, "GET", path)
    text = generate_latest(metrics.registry).decode()
    assert 'route="/api/v1/repos/{repo_id}",service="scheduler",status="200"} 2.0' in text
    assert 'route="unmatched",service="scheduler",status="404"} 2.0' in text
    assert "/random" not in text and "repos/1" not in text


def test_html_escapes_everything_not_built_by_el() -> None:
    hostile = '<script>alert(1)</script>"\'&'
    markup = el("a", hostile, href=f'x" onclick="{hostile}', title=hostile)
    assert "<script>" not in markup and 'onclick="' not in markup
    assert markup.count("&lt;script&gt;") == 3
    response = page(hostile, el("p", hostile))
    html = response.body.decode()
    assert "<script" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3
    headers = dict(response.headers)
    assert headers[b"content-security-policy"].decode() == CSP and "script-src" not in CSP
    assert "default-src 'none'" in CSP
