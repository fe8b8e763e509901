"""GitHubClient against recorded GitHub exchanges (octokit fixtures) and hand-made failures.

Every scenario runs on ``httpx.MockTransport``; sleeping and the clock are fakes, so the
retry and rate-limit paths run instantly and their waits can be asserted.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from shared.errors import (
    AuthError,
    BlockedError,
    FatalError,
    NotFoundError,
    TransientError,
)
from shared.forge.github import GitHubClient
from shared.forge.ratelimit import TokenPool

OCTOKIT = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "octokit"
API = "https://api.github.com"
SECRET = "ghp_S3CRETs3cretS3CRETs3cretS3CRET0001"
OTHER = "ghp_OTHERotherOTHERotherOTHERother0002"


class FakeTime:
    """A clock that only moves when the client sleeps."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Handler = Callable[[httpx.Request], httpx.Response]


def make_client(
    handler: Handler, tokens: list[str] | None = None, *, now: float = 1_700_000_000.0, **kwargs: Any
) -> tuple[GitHubClient, FakeTime, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    fake = FakeTime(now)

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(record))
    client = GitHubClient(
        API, [SECRET] if tokens is None else tokens, client=http, sleep=fake.sleep, clock=fake.clock, rand=lambda: 0.5, **kwargs
    )
    return client, fake, seen


def replay(scenario: str, *, method: str = "get") -> Handler:
    """Answer each request with the recorded exchange whose path matches and whose query it includes."""
    entries = [e for e in json.loads((OCTOKIT / f"{scenario}.json").read_text()) if e["method"] == method]

    def handler(request: httpx.Request) -> httpx.Response:
        asked = dict(parse_qsl(request.url.query.decode()))
        for entry in entries:
            recorded = urlsplit(entry["path"])
            if recorded.path == request.url.path and dict(parse_qsl(recorded.query)).items() <= asked.items():
                headers = {k: str(v) for k, v in entry["headers"].items() if k not in ("content-length", "connection")}
                return httpx.Response(entry["status"], headers=headers, content=json.dumps(entry["response"]).encode())
        return httpx.Response(404, json={"message": "Not Found (no recording)"})

    return handler


def sequence(*responses: httpx.Response | Exception) -> Handler:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


REPO_JSON = {"id": 1, "name": "r", "full_name": "o/r", "owner": {"login": "o", "id": 2, "type": "User"}}


# ------------------------------------------------------------------ recorded exchanges


async def test_paginate_issues_follows_link_next() -> None:
    # The clock stands just before the recorded reset, so the recorded budget still holds.
    client, fake, seen = make_client(replay("paginate-issues"), per_page=3, now=1_507_651_100.0)
    pages = [page async for page in client.iter_issues("octokit-fixture-org", "paginate-issues")]
    assert [[i.number for i in page] for page in pages] == [[13, 12, 11], [10, 9, 8], [7, 6, 5], [4, 3, 2], [1]]
    assert client.requests == 5
    first = seen[0]
    assert first.url.path == "/repos/octokit-fixture-org/paginate-issues/issues"
    assert dict(first.url.params) == {"state": "all", "sort": "updated", "direction": "asc", "per_page": "3"}
    # Next links are followed exactly as GitHub gave them.
    assert [str(r.url) for r in seen[1:]] == [f"{API}/repositories/1000/issues?per_page=3&page={n}" for n in (2, 3, 4, 5)]
    for request in seen:
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["authorization"] == f"Bearer {SECRET}"
        assert request.headers["user-agent"] == "watershed/0.1"
    budget = client.pool.budget(SECRET, "core")
    # The recording's reset is in milliseconds; it is read as the same instant in seconds.
    assert (budget.remaining, budget.reset_at) == (4999, 1_507_651_200.0)
    assert fake.sleeps == []


async def test_get_repository() -> None:
    client, _, _ = make_client(replay("get-repository"))
    repo = await client.get_repo("octokit-fixture-org", "hello-world")
    assert (repo.platform_id, repo.owner, repo.name) == (1000, "octokit-fixture-org", "hello-world")
    assert repo.html_url == "https://github.com/octokit-fixture-org/hello-world"
    assert repo.owner_user is not None and repo.owner_user.kind == "Organization"
    assert client.requests == 1


async def test_renamed_repository_follows_301_to_the_new_name() -> None:
    client, _, seen = make_client(replay("rename-repository"))
    repo = await client.get_repo("octokit-fixture-org", "rename-repository")
    assert (repo.platform_id, repo.owner, repo.name) == (1000, "octokit-fixture-org", "rename-repository-newname")
    assert [r.url.path for r in seen] == ["/repos/octokit-fixture-org/rename-repository", "/repositories/1000"]
    assert client.requests == 2
    assert seen[1].headers["authorization"] == f"Bearer {SECRET}"


async def test_validation_error_is_fatal_and_not_retried() -> None:
    recorded = json.loads((OCTOKIT / "errors.json").read_text())[0]
    response = httpx.Response(recorded["status"], json=recorded["response"])
    client, fake, _ = make_client(sequence(response))
    with pytest.raises(FatalError) as info:
        await client.get_repo("octokit-fixture-org", "errors")
    assert "HTTP 422" in str(info.value) and "Validation Failed" in str(info.value)
    assert client.requests == 1 and fake.sleeps == []


# ------------------------------------------------------------------ retries


async def test_502_then_200_is_retried_and_counted_twice() -> None:
    client, fake, _ = make_client(sequence(httpx.Response(502, text="<html>bad gateway"), httpx.Response(200, json=REPO_JSON)))
    repo = await client.get_repo("o", "r")
    assert repo.name == "r" and client.requests == 2 and len(fake.sleeps) == 1


async def test_truncated_json_then_200() -> None:
    truncated = httpx.Response(200, content=json.dumps([REPO_JSON]).encode()[:25])
    good = httpx.Response(200, json=[{"id": 1, "number": 1, "title": "t", "state": "open"}])
    client, fake, _ = make_client(sequence(truncated, good))
    pages = [page async for page in client.iter_issues("o", "r")]
    assert [[i.number for i in p] for p in pages] == [[1]] and client.requests == 2 and len(fake.sleeps) == 1


async def test_timeouts_and_connection_errors_are_retried() -> None:
    client, fake, _ = make_client(
        sequence(httpx.ConnectTimeout("slow"), httpx.ConnectError("reset"), httpx.Response(200, json=REPO_JSON))
    )
    assert (await client.get_repo("o", "r")).name == "r"
    assert client.requests == 3 and fake.sleeps == [0.75, 1.5]  # rand fixed at 0.5: backoff grows


async def test_gives_up_after_max_retries() -> None:
    client, fake, _ = make_client(sequence(httpx.Response(503)), max_retries=2)
    with pytest.raises(TransientError) as info:
        await client.get_repo("o", "r")
    assert client.requests == 3 and len(fake.sleeps) == 2
    assert "github.com/o/r" in str(info.value) and "3 attempts" in str(info.value)


async def test_unexpected_shape_is_fatal() -> None:
    client, _, _ = make_client(sequence(httpx.Response(200, json={"message": "not a list"})))
    with pytest.raises(FatalError):
        [page async for page in client.iter_issues("o", "r")]
    assert client.requests == 1


# ------------------------------------------------------------------ status → error


async def test_404_is_not_found_with_a_clear_message() -> None:
    client, _, _ = make_client(sequence(httpx.Response(404, json={"message": "Not Found"})))
    with pytest.raises(NotFoundError) as info:
        await client.get_repo("o", "r")
    assert str(info.value).startswith("github.com/o/r: repository not found (HTTP 404)")
    assert client.requests == 1


async def test_451_is_blocked() -> None:
    body = {"message": "Repository access blocked", "block": {"reason": "dmca", "html_url": "https://x"}}
    client, _, _ = make_client(sequence(httpx.Response(451, json=body)))
    with pytest.raises(BlockedError):
        await client.get_repo("o", "r")


async def test_410_on_issues_means_issues_disabled() -> None:
    client, _, _ = make_client(sequence(httpx.Response(410, json={"message": "Issues are disabled for this repo"})))
    assert [page async for page in client.iter_issues("o", "r")] == []


async def test_next_link_to_another_host_is_refused() -> None:
    page = httpx.Response(200, json=[], headers={"link": '<https://evil.example/x?page=2>; rel="next"'})
    client, _, seen = make_client(sequence(page))
    with pytest.raises(FatalError, match="another host"):
        [p async for p in client.iter_issue_comments("o", "r")]
    assert len(seen) == 1


# ------------------------------------------------------------------ rate limits and tokens


async def test_rate_limited_403_waits_for_the_reset_then_continues() -> None:
    fake_now = 1_700_000_000
    limited = httpx.Response(
        403,
        json={"message": "API rate limit exceeded"},
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(fake_now + 120), "x-ratelimit-resource": "core"},
    )
    client, fake, _ = make_client(sequence(limited, httpx.Response(200, json=REPO_JSON)))
    assert (await client.get_repo("o", "r")).name == "r"
    assert client.requests == 2
    assert len(fake.sleeps) == 1 and 120 <= fake.sleeps[0] <= 122


async def test_rate_limited_token_gives_way_to_another() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {SECRET}":
            return httpx.Response(429, headers={"retry-after": "60"})
        return httpx.Response(200, json=REPO_JSON)

    client, fake, seen = make_client(handler, tokens=[SECRET, OTHER])
    for _ in range(3):
        await client.get_repo("o", "r")
    assert fake.sleeps == []
    assert sum(r.headers["authorization"] == f"Bearer {SECRET}" for r in seen) == 1
    assert client.requests == 4


async def test_rate_limit_wait_is_cancellable() -> None:
    limited = httpx.Response(429, headers={"retry-after": "3600"})
    started = asyncio.Event()

    async def never(seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()

    http = httpx.AsyncClient(transport=httpx.MockTransport(sequence(limited)))
    client = GitHubClient(API, TokenPool([SECRET], sleep=never), client=http)
    task = asyncio.create_task(client.get_repo("o", "r"))
    await asyncio.wait_for(started.wait(), 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_refused_token_is_retired_and_the_next_one_used() -> None:
    retired: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == f"Bearer {SECRET}":
            return httpx.Response(401, json={"message": "Bad credentials"})
        return httpx.Response(200, json=REPO_JSON)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    pool = TokenPool([SECRET, OTHER], on_retire=retired.append)
    client = GitHubClient(API, pool, client=http)
    assert (await client.get_repo("o", "r")).name == "r"
    assert client.requests == 2
    assert len(pool) == 1 and len(retired) == 1 and all(label.startswith("tok#") for label in retired)


async def test_anonymous_client_sends_no_authorization() -> None:
    client, _, seen = make_client(sequence(httpx.Response(200, json=REPO_JSON)), tokens=[])
    await client.get_repo("o", "r")
    assert "authorization" not in seen[0].headers


async def test_since_is_sent_as_utc() -> None:
    client, _, seen = make_client(sequence(httpx.Response(200, json=[])))
    since = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    assert [p async for p in client.iter_issue_comments("o", "r", since=since)] == []
    assert seen[0].url.path == "/repos/o/r/issues/comments"
    assert dict(seen[0].url.params) == {"sort": "updated", "direction": "asc", "per_page": "100", "since": "2024-05-01T12:30:00Z"}


async def test_pulls_endpoint_parameters() -> None:
    client, _, seen = make_client(sequence(httpx.Response(200, json=[])))
    assert [p async for p in client.iter_pulls("o", "r")] == []
    assert seen[0].url.path == "/repos/o/r/pulls"
    assert dict(seen[0].url.params) == {"state": "all", "sort": "updated", "direction": "asc", "per_page": "100"}


# ------------------------------------------------------------------ nothing leaks


def _failures() -> Iterable[tuple[list[str], Handler, type[Exception]]]:
    yield [SECRET], sequence(httpx.Response(401, json={"message": "Bad credentials"})), AuthError
    yield [SECRET, OTHER], sequence(httpx.Response(401, json={"message": "Bad credentials"})), AuthError
    yield [SECRET], sequence(httpx.Response(500, text=f"echo Bearer {SECRET}")), TransientError
    # A transport error that (absurdly) echoes the token must still come out scrubbed.
    yield [SECRET], sequence(httpx.ConnectError(f"refused for {SECRET}")), TransientError
    yield [SECRET], sequence(httpx.Response(404)), NotFoundError


@pytest.mark.parametrize(("tokens", "handler", "kind"), list(_failures()))
async def test_tokens_never_appear_in_errors_or_logs(
    tokens: list[str], handler: Handler, kind: type[Exception], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, _, _ = make_client(handler, tokens=tokens, max_retries=2)
    with pytest.raises(kind) as info:
        await client.get_repo("o", "r")
    texts = [str(info.value), repr(info.value.args)]
    texts += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert caplog.records or kind is NotFoundError
    for text in texts:
        for token in tokens:
            assert token not in text
