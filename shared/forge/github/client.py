"""GitHub REST client: the I/O edge. Requests, retries, rate limits, paging; conversion is in convert.

Every request (retries and redirects included) is counted in ``GitHubClient.requests``.
Failures surface as the shared error taxonomy; messages name the repository and the
status, never a token.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urljoin, urlsplit

import httpx
import msgspec

from shared.errors import (
    AuthError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    TransientError,
    WatershedError,
)
from shared.events.v1 import Comment, Issue, PullRequest, RepoMeta
from shared.forge.decode import decode_lenient
from shared.forge.github import wire
from shared.forge.github.convert import (
    convert_comments,
    convert_issues,
    convert_pulls,
    convert_repo,
)
from shared.forge.http import backoff_delay, error_for_status, parse_link_header, scrub
from shared.forge.ratelimit import TokenPool, token_label

log = logging.getLogger("watershed.forge.github")

T = TypeVar("T")

USER_AGENT = "watershed/0.1"
API_VERSION = "2022-11-28"
CORE = "core"
_REDIRECTS = frozenset({301, 302, 307, 308})
_MAX_REDIRECTS = 5
# Past this many rate-limit waits for one request, hand the job back to the queue instead.
_MAX_RATE_WAITS = 20
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class GitHubClient:
    def __init__(
        self,
        api_url: str,
        tokens: TokenPool | list[str],
        *,
        client: httpx.AsyncClient | None = None,
        per_page: int = 100,
        max_retries: int = 4,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        api = urlsplit(self.api_url)
        self._origin = (api.scheme, api.netloc)
        # Messages name repositories the way people write them: github.com/o/r, ghe.example/o/r.
        self.host = "github.com" if api.netloc == "api.github.com" else api.netloc
        if isinstance(tokens, TokenPool):
            self.pool = tokens
        else:
            self.pool = TokenPool(tokens, clock=clock or time.time, sleep=sleep or asyncio.sleep)
        self._sleep = sleep or self.pool.sleep
        self._clock = clock or self.pool.clock
        self._rand = rand
        self._http = client or httpx.AsyncClient(timeout=_TIMEOUT)
        self._owns_http = client is None
        self.per_page = per_page
        self.max_retries = max_retries
        self.requests = 0

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> GitHubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ capabilities

    async def get_repo(self, owner: str, name: str) -> RepoMeta:
        """The repository's metadata; after a rename or transfer, under its new owner/name."""
        data, _ = await self._get(self._repo_path(owner, name), None, wire.repo_decoder, self._what(owner, name), "repository")
        return convert_repo(data)

    async def iter_issues(self, owner: str, name: str, since: datetime | None = None) -> AsyncIterator[list[Issue]]:
        """Issues oldest-updated first, one list per page; pages holding only pull requests are skipped."""
        params = self._list_params(since, state="all")
        path = f"{self._repo_path(owner, name)}/issues"
        async for page in self._pages(path, params, wire.issues_decoder, self._what(owner, name), "issues"):
            issues = convert_issues(page)
            if issues:
                yield issues

    async def iter_pulls(self, owner: str, name: str) -> AsyncIterator[list[PullRequest]]:
        """Pull requests oldest-updated first, one list per page (the endpoint has no ``since``)."""
        params = self._list_params(None, state="all")
        path = f"{self._repo_path(owner, name)}/pulls"
        async for page in self._pages(path, params, wire.pulls_decoder, self._what(owner, name), "pull requests"):
            if page:
                yield convert_pulls(page)

    async def iter_issue_comments(
        self, owner: str, name: str, since: datetime | None = None
    ) -> AsyncIterator[list[Comment]]:
        """Conversation comments on issues and pull requests, oldest-updated first, one list per page."""
        params = self._list_params(since)
        path = f"{self._repo_path(owner, name)}/issues/comments"
        async for page in self._pages(path, params, wire.comments_decoder, self._what(owner, name), "issue comments"):
            if page:
                yield convert_comments(page)

    # ------------------------------------------------------------------ plumbing

    def _what(self, owner: str, name: str) -> str:
        return f"{self.host}/{owner}/{name}"

    @staticmethod
    def _repo_path(owner: str, name: str) -> str:
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    def _list_params(self, since: datetime | None, **extra: str) -> dict[str, str]:
        params = {**extra, "sort": "updated", "direction": "asc", "per_page": str(self.per_page)}
        if since is not None:
            # A naive datetime is taken as UTC: cursors are stored in UTC.
            aware = since if since.tzinfo else since.replace(tzinfo=UTC)
            params["since"] = aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return params

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _same_origin(self, url: str, base: str, what: str) -> str:
        """``url`` made absolute; refused unless it is on the API host, which is the only place tokens go."""
        absolute = urljoin(base, url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc) != self._origin:
            raise FatalError(f"{what}: GitHub pointed to another host ({parts.netloc or 'none'}); not following it")
        return absolute

    async def _pages(
        self, path: str, params: dict[str, str], decoder: msgspec.json.Decoder[list[T]], what: str, noun: str
    ) -> AsyncIterator[list[T]]:
        url: str | None = self.api_url + path
        query: dict[str, str] | None = params
        while url is not None:
            try:
                page, response = await self._get(url, query, decoder, what, noun)
            except NotFoundError as exc:
                # 410 on a list means the feature is disabled (issues turned off), not a vanished repository.
                if exc.status == 410:
                    return
                raise
            yield page
            following = parse_link_header(response.headers.get("link")).get("next")
            # Next links already carry every parameter (as /repositories/{id}/... URLs).
            url = self._same_origin(following, str(response.url), what) if following else None
            query = None

    async def _get(
        self, url: str, params: dict[str, str] | None, decoder: msgspec.json.Decoder[Any], what: str, noun: str
    ) -> tuple[Any, httpx.Response]:
        if url.startswith("/"):
            url = self.api_url + url
        attempt = rate_waits = redirects = 0
        while True:
            token = await self.pool.acquire(CORE)
            self.requests += 1
            failure: WatershedError
            try:
                response = await self._http.get(url, params=params, headers=self._headers(token))
            except httpx.TransportError as exc:
                detail = scrub(str(exc), self.pool.secrets)[:200]
                failure = TransientError(f"{what}: {noun} request failed ({type(exc).__name__}: {detail})")
            else:
                self.pool.update(token, response.headers, CORE)
                status = response.status_code
                if status in _REDIRECTS and "location" in response.headers:
                    redirects += 1
                    if redirects > _MAX_REDIRECTS:
                        raise FatalError(f"{what}: too many redirects (HTTP {status})", status=status)
                    url, params = self._follow(response, params, what)
                    continue
                error = error_for_status(
                    status, response.headers, response.content, what=what, noun=noun, now=datetime.fromtimestamp(self._clock(), UTC)
                )
                if error is None:
                    try:
                        return decode_lenient(decoder, response.content), response
                    except msgspec.ValidationError as exc:
                        raise FatalError(f"{what}: {noun} response has an unexpected shape ({exc})", status=status) from None
                    except msgspec.DecodeError:
                        failure = TransientError(f"{what}: {noun} response is not valid JSON (truncated?)", status=status)
                elif isinstance(error, RateLimitedError):
                    rate_waits += 1
                    if rate_waits > _MAX_RATE_WAITS:
                        raise error
                    reset = error.retry_at.timestamp() if error.retry_at else None
                    self.pool.spend(token, CORE, reset)
                    log.info("forge.rate_limited", extra={"fields": {"repo": what, "token": token_label(token), "status": status}})
                    continue
                elif isinstance(error, AuthError) and token is not None:
                    self.pool.retire(token)  # another token may still work; the pool raises once none is left
                    continue
                elif isinstance(error, TransientError):
                    failure = error
                else:
                    raise error
            if attempt >= self.max_retries:
                raise TransientError(f"{failure.message}; gave up after {attempt + 1} attempts", status=failure.status)
            delay = backoff_delay(attempt, rand=self._rand)
            attempt += 1
            log.warning("forge.retry", extra={"fields": {"repo": what, "attempt": attempt, "delay": round(delay, 2), "error": failure.message}})
            await self._sleep(delay)

    def _follow(self, response: httpx.Response, params: dict[str, str] | None, what: str) -> tuple[str, dict[str, str] | None]:
        target = self._same_origin(response.headers["location"], str(response.url), what)
        log.info("forge.redirect", extra={"fields": {"repo": what, "status": response.status_code, "to": urlsplit(target).path}})
        # The request URL already holds the query; keep it when the Location drops it.
        if not urlsplit(target).query and response.request.url.query:
            return target, dict(response.request.url.params)
        return target, None
