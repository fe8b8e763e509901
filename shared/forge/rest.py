"""The REST request loop the forge clients share: the I/O edge under GitHub's and GitLab's clients.

:class:`RestClient` asks the token pool for a token (waiting out spent quota), sends the GET,
feeds the pool the response's rate-limit headers, and maps the status through
:func:`shared.forge.http.error_for_status`:

- a rate-limit answer (GitHub's 403/429, GitLab's 429 with ``Retry-After``) spends the token
  until its reset and tries again, another token or after the wait, up to
  :data:`MAX_RATE_WAITS` times;
- a 401 retires a token and tries the next one (the pool raises once none is left; anonymous
  requests raise at once);
- transport errors, 5xx and truncated bodies are retried with jittered exponential backoff
  (:func:`shared.forge.http.backoff_delay`), ``max_retries`` times;
- redirects are followed on the API's own origin only, which is the only place tokens go;
- everything else raises its taxonomy error.

:meth:`RestClient._pages` walks a list by its ``Link: rel="next"`` header (GitHub and GitLab
both send one; GitLab's ``X-Next-Page`` is the fallback). Every request is counted in
``counts``. Messages name the resource (``what``) and the status, never a token: a transport
error's text is scrubbed of the pool's tokens. A platform's client subclasses this with its
request headers (:meth:`RestClient._headers`) and its capabilities.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx
import msgspec

from shared.errors import AuthError, FatalError, NotFoundError, RateLimitedError, TransientError, WatershedError
from shared.forge.decode import decode_lenient
from shared.forge.http import backoff_delay, error_for_status, parse_link_header, scrub
from shared.forge.ratelimit import TokenPool, token_label

log = logging.getLogger("watershed.forge.rest")

T = TypeVar("T")

USER_AGENT = "watershed/0.1"
CORE = "core"
NOT_MODIFIED = 304
_REDIRECTS = frozenset({301, 302, 307, 308})
_MAX_REDIRECTS = 5
# Past this many rate-limit waits for one request, hand the job back to the queue instead.
MAX_RATE_WAITS = 20
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass
class RequestCounts:
    """Requests of one pass: ``requests`` counts every HTTP request (retries, redirects, GraphQL);
    ``charged`` is the quota spent (REST answers other than 304, plus GraphQL points)."""

    requests: int = 0
    graphql: int = 0
    not_modified: int = 0
    charged: int = 0


@dataclass
class Listing:
    """One conditional read of a stream. In: the ETag stored last time. Out: the first page's
    ETag, whether it was unchanged (304), and the newest time seen (the next cursor)."""

    sent_etag: str | None = None
    etag: str | None = None
    not_modified: bool = False
    newest: datetime | None = None
    # Oldest-first streams: the ``since`` of the next request (during the walk: where a pass cut
    # short resumes) or, once the walk ended, of its last request; and that request's ETag when
    # it asked the first page, which is what the next pass will ask again.
    resume: datetime | None = None
    resume_etag: str | None = None

    def see(self, moment: datetime | None) -> None:
        if moment is not None and (self.newest is None or moment > self.newest):
            self.newest = moment


class RestClient:
    """One pass's client on one forge API (see the module docstring)."""

    forge = "the forge"  # names the platform in messages
    bucket = CORE  # the rate-limit bucket REST requests are metered in

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
        host: str | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        api = urlsplit(self.api_url)
        self._origin = (api.scheme, api.netloc)
        # Messages name resources the way people write them (github.com/o/r, gitlab.com/g/p);
        # ``host`` is the repositories' host when the API is elsewhere (a proxy, a test server).
        self.host = host or self._default_host(api.netloc)
        if isinstance(tokens, TokenPool):
            self.pool = tokens
        else:
            self.pool = TokenPool(tokens, clock=clock or time.time, sleep=sleep or asyncio.sleep)
        self._sleep = sleep or self.pool.sleep
        self._clock = clock or self.pool.clock
        self._rand = rand
        self._http = client or httpx.AsyncClient(timeout=TIMEOUT)
        self._owns_http = client is None
        self.per_page = per_page
        self.max_retries = max_retries
        self.counts = RequestCounts()

    @staticmethod
    def _default_host(api_netloc: str) -> str:
        return api_netloc

    def _headers(self, token: str | None) -> dict[str, str]:
        """The request headers, with the credential when ``token`` is not None."""
        raise NotImplementedError

    @property
    def requests(self) -> int:
        return self.counts.requests

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ plumbing

    def _same_origin(self, url: str, base: str, what: str) -> str:
        """``url`` made absolute; refused unless it is on the API host, which is the only place tokens go."""
        absolute = urljoin(base, url)
        parts = urlsplit(absolute)
        if (parts.scheme, parts.netloc) != self._origin:
            raise FatalError(f"{what}: {self.forge} pointed to another host ({parts.netloc or 'none'}); not following it")
        return absolute

    async def _pages(
        self, path: str, params: dict[str, str], decoder: msgspec.json.Decoder[list[T]], what: str, noun: str,
        listing: Listing | None = None,
    ) -> AsyncIterator[list[T]]:
        url: str | None = self.api_url + path
        query: dict[str, str] | None = params
        etag = listing.sent_etag if listing else None
        while url is not None:
            try:
                page, response = await self._get(url, query, decoder, what, noun, etag=etag)
            except NotFoundError as exc:
                # 410 on a list means the feature is disabled (issues turned off), not a vanished repository.
                if exc.status == 410:
                    return
                raise
            if listing is not None and query is not None:  # the first page
                listing.etag = response.headers.get("etag") or listing.sent_etag
                if page is None:
                    listing.not_modified = True
                    return
            etag = None
            yield page
            following = parse_link_header(response.headers.get("link")).get("next") or _next_page(response)
            # Next links already carry every parameter (as /repositories/{id}/... URLs).
            url = self._same_origin(following, str(response.url), what) if following else None
            query = None

    async def _get(
        self, url: str, params: dict[str, str] | None, decoder: msgspec.json.Decoder[Any], what: str, noun: str,
        *, etag: str | None = None,
    ) -> tuple[Any, httpx.Response]:
        """The decoded body and the response; the body is None for a 304 to ``etag``."""
        if url.startswith("/"):
            url = self.api_url + url
        attempt = rate_waits = redirects = 0
        while True:
            token = await self.pool.acquire(self.bucket)
            self.counts.requests += 1
            failure: WatershedError
            headers = self._headers(token)
            if etag:
                headers["If-None-Match"] = etag
            try:
                response = await self._http.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                detail = scrub(str(exc), self.pool.secrets)[:200]
                failure = TransientError(f"{what}: {noun} request failed ({type(exc).__name__}: {detail})")
            else:
                self.pool.update(token, response.headers, self.bucket)
                status = response.status_code
                if status == NOT_MODIFIED and etag:
                    # Free with a token: GitHub does not charge conditional requests that match.
                    self.counts.not_modified += 1
                    return None, response
                self.counts.charged += 1
                if status == 204:
                    return [], response  # an empty repository's contributors
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
                    if rate_waits > MAX_RATE_WAITS:
                        raise error
                    reset = error.retry_at.timestamp() if error.retry_at else None
                    self.pool.spend(token, self.bucket, reset)
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


def _next_page(response: httpx.Response) -> str | None:
    """The next page from GitLab's ``X-Next-Page`` (empty on the last page), for a response
    whose ``Link`` header was dropped on the way (GitLab omits nothing else we need)."""
    number = (response.headers.get("x-next-page") or "").strip()
    if not number.isdigit():
        return None
    return str(response.request.url.copy_set_param("page", number))
