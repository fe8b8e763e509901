"""GitHub GraphQL client: the I/O edge for what REST would need one request per pull request for.

Pull request children (reviews, commits, files, merge state, merged-by, requested teams)
come ``BATCH_SIZES[0]`` pull requests per query through ``nodes(ids: ...)``; a pull request
with more than 100 of a child is paged further on its own. GitHub answers a query that
is too big to finish in time with 502/504 (or not at all): such a batch is split into the
next smaller size, down to one pull request, which is retried like any request.

Points are metered in the ``graphql`` bucket of the shared token pool; a ``RATE_LIMITED``
error (HTTP 200) waits for the reset. Requests and points go into the REST client's counts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import msgspec

from shared.errors import AuthError, FatalError, RateLimitedError, TransientError, WatershedError
from shared.events.v1 import PrCommit, PrFile, PullRequest, PullRequestDetail, Review
from shared.forge.decode import decode_lenient
from shared.forge.github import gqlwire, queries
from shared.forge.github.client import GitHubClient
from shared.forge.github.gqlconvert import convert_commits, convert_detail, convert_files, convert_reviews
from shared.forge.http import backoff_delay, error_for_status, parse_epoch, scrub
from shared.forge.ratelimit import token_label

log = logging.getLogger("watershed.forge.github.graphql")

T = TypeVar("T")
GRAPHQL = "graphql"
BATCH_SIZES = (50, 25, 10, 1)
# Statuses GitHub gives a query that ran out of time: smaller batches, not the same again.
_TOO_BIG = frozenset({502, 504})
# A node id that no longer resolves (a deleted pull request) is null in ``nodes``, with this error.
_HARMLESS = frozenset({"NOT_FOUND"})
_MAX_RATE_WAITS = 20


class QueryTooBig(TransientError):
    """GitHub could not answer the query in time (502/504 or a client timeout)."""


def graphql_url(api_url: str) -> str:
    """``https://api.github.com/graphql``; ``https://ghe.example/api/graphql`` for an ``/api/v3`` base."""
    parts = urlsplit(api_url.rstrip("/"))
    path = parts.path
    path = path[: -len("/v3")] + "/graphql" if path.endswith("/api/v3") else path + "/graphql"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


@dataclass
class PullChildren:
    detail: PullRequestDetail
    reviews: list[Review] = field(default_factory=list)
    commits: list[PrCommit] = field(default_factory=list)
    files: list[PrFile] = field(default_factory=list)


class GraphQLClient:
    """Shares the REST client's HTTP pool, token pool, clock and counts."""

    def __init__(self, rest: GitHubClient) -> None:
        self.rest = rest
        self.url = graphql_url(rest.api_url)

    # ------------------------------------------------------------------ capabilities

    async def repo_counts(self, owner: str, name: str) -> dict[str, int | None]:
        """Open/closed issues, open/closed/merged pull requests and the default branch's commit count."""
        data = await self.execute(queries.REPO_COUNTS, {"owner": owner, "name": name}, gqlwire.counts_decoder,
                                  self.rest._what(owner, name))
        repo = data.repository
        if repo is None:
            return {}

        def total(part: gqlwire.GqlTotal | None) -> int | None:
            return part.total_count if part is not None else None

        target = repo.default_branch_ref.target if repo.default_branch_ref else None
        return {
            "open_issues": total(repo.open_issues),
            "closed_issues": total(repo.closed_issues),
            "open_pull_requests": total(repo.open_pulls),
            "closed_pull_requests": total(repo.closed_pulls),
            "merged_pull_requests": total(repo.merged_pulls),
            "commit_count": total(target.history) if target else None,
        }

    async def children_of(self, pulls: Sequence[PullRequest], what: str) -> AsyncIterator[PullChildren]:
        """Every child of ``pulls`` (those without a node id are skipped)."""
        async for children in self.pull_children([p.node_id for p in pulls if p.node_id], what):
            yield children

    async def pull_children(self, node_ids: Sequence[str], what: str) -> AsyncIterator[PullChildren]:
        """Every child of each pull request (in the order given), in batches with fallback."""
        for start in range(0, len(node_ids), BATCH_SIZES[0]):
            pulls = await self._batch(list(node_ids[start:start + BATCH_SIZES[0]]), 0, what)
            for pull in pulls:
                if pull is not None and pull.number is not None:
                    yield await self._complete(pull, what)

    # ------------------------------------------------------------------ batching and paging

    async def _batch(self, ids: list[str], level: int, what: str) -> list[gqlwire.GqlPull | None]:
        last = level >= len(BATCH_SIZES) - 1 or len(ids) == 1
        try:
            data = await self.execute(queries.PULL_REQUEST_CHILDREN, {"ids": ids}, gqlwire.nodes_decoder, what,
                                      split_when_too_big=not last)
            return data.nodes
        except QueryTooBig:
            size = next(s for s in BATCH_SIZES[level + 1:] if s < len(ids))
            log.info("forge.graphql_split", extra={"fields": {"repo": what, "from": len(ids), "to": size}})
            pulls: list[gqlwire.GqlPull | None] = []
            for start in range(0, len(ids), size):
                pulls += await self._batch(ids[start:start + size], BATCH_SIZES.index(size), what)
            return pulls

    async def _complete(self, pull: gqlwire.GqlPull, what: str) -> PullChildren:
        number = pull.number or 0
        children = PullChildren(
            detail=convert_detail(pull),
            reviews=convert_reviews(number, pull.reviews.nodes if pull.reviews else ()),
            commits=convert_commits(number, pull.commits.nodes if pull.commits else ()),
            files=convert_files(number, pull.files.nodes if pull.files else ()),
        )
        more: list[tuple[str, Any]] = [("reviews", pull.reviews), ("commits", pull.commits), ("files", pull.files)]
        for kind, connection in more:
            while connection is not None and connection.page_info.has_next_page and pull.id:
                data = await self.execute(queries.MORE_CHILDREN[kind], {"id": pull.id, "after": connection.page_info.end_cursor},
                                          gqlwire.node_decoder, what)
                node = data.node
                connection = getattr(node, kind) if node is not None else None
                if connection is None:
                    break
                if kind == "reviews":
                    children.reviews += convert_reviews(number, connection.nodes)
                elif kind == "commits":
                    children.commits += convert_commits(number, connection.nodes)
                else:
                    children.files += convert_files(number, connection.nodes)
        return children

    # ------------------------------------------------------------------ plumbing

    async def execute(
        self, query: str, variables: dict[str, Any], decoder: msgspec.json.Decoder[gqlwire.GqlResponse[T]], what: str,
        *, split_when_too_big: bool = False,
    ) -> T:
        """The query's ``data`` decoded; errors raised as the taxonomy. With ``split_when_too_big``
        a 502/504/timeout raises :class:`QueryTooBig` at once instead of being retried."""
        rest = self.rest
        attempt = rate_waits = 0
        while True:
            token = await rest.pool.acquire(GRAPHQL)
            rest.counts.requests += 1
            rest.counts.graphql += 1
            failure: WatershedError
            try:
                response = await rest._http.post(self.url, json={"query": query, "variables": variables},
                                                 headers=rest._headers(token))
            except httpx.TransportError as exc:
                detail = scrub(str(exc), rest.pool.secrets)[:200]
                failure = TransientError(f"{what}: GraphQL request failed ({type(exc).__name__}: {detail})")
                if split_when_too_big and isinstance(exc, httpx.TimeoutException):
                    raise QueryTooBig(failure.message) from None
            else:
                rest.pool.update(token, response.headers, GRAPHQL)
                status = response.status_code
                now = datetime.fromtimestamp(rest._clock(), UTC)
                error = error_for_status(status, response.headers, response.content, what=what, noun="GraphQL", now=now)
                if error is None:
                    try:
                        return self._data(response, decoder, what)
                    except RateLimitedError as exc:
                        error = exc
                    except msgspec.DecodeError:
                        failure = TransientError(f"{what}: GraphQL response is not valid JSON (truncated?)", status=status)
                        error = None
                if isinstance(error, RateLimitedError):
                    rate_waits += 1
                    if rate_waits > _MAX_RATE_WAITS:
                        raise error
                    reset = error.retry_at.timestamp() if error.retry_at else parse_epoch(response.headers.get("x-ratelimit-reset"))
                    rest.pool.spend(token, GRAPHQL, reset)
                    log.info("forge.rate_limited", extra={"fields": {"repo": what, "token": token_label(token), "bucket": GRAPHQL}})
                    continue
                if isinstance(error, AuthError) and token is not None:
                    rest.pool.retire(token)
                    continue
                if error is not None and not isinstance(error, TransientError):
                    raise error
                if error is not None:
                    failure = error
                    if split_when_too_big and status in _TOO_BIG:
                        raise QueryTooBig(failure.message, status=status)
            if attempt >= rest.max_retries:
                raise TransientError(f"{failure.message}; gave up after {attempt + 1} attempts", status=failure.status)
            delay = backoff_delay(attempt, rand=rest._rand)
            attempt += 1
            log.warning("forge.retry", extra={"fields": {"repo": what, "attempt": attempt, "delay": round(delay, 2), "error": failure.message}})
            await rest._sleep(delay)

    def _data(self, response: httpx.Response, decoder: msgspec.json.Decoder[gqlwire.GqlResponse[T]], what: str) -> T:
        try:
            envelope = decode_lenient(decoder, response.content)
        except msgspec.ValidationError as exc:
            raise FatalError(f"{what}: GraphQL response has an unexpected shape ({exc})") from None
        serious = [e for e in envelope.errors if e.type not in _HARMLESS]
        if any(e.type == "RATE_LIMITED" for e in serious):
            reset = parse_epoch(response.headers.get("x-ratelimit-reset"))
            when = datetime.fromtimestamp(reset, UTC) if reset is not None else None
            raise RateLimitedError(f"{what}: GraphQL rate limited", retry_at=when, status=response.status_code)
        if serious or envelope.data is None:
            first = serious[0] if serious else (envelope.errors[0] if envelope.errors else None)
            detail = f"{first.type or 'error'}: {first.message[:200]}" if first else "no data"
            # A query GitHub refuses is a bug here, not a passing condition: loud, not retried.
            raise FatalError(f"{what}: GraphQL query refused ({detail})", status=response.status_code)
        data = envelope.data
        rate = getattr(data, "rate_limit", None)
        self.rest.counts.charged += rate.cost if rate is not None else 1
        return data
