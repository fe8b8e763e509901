"""GitHub REST client: the I/O edge. Requests, retries, rate limits, paging; conversion is in convert.

The request loop (tokens, retries, rate limits, redirects, Link paging) is
:class:`shared.forge.rest.RestClient`'s. Every request (retries and redirects included) is
counted in ``GitHubClient.counts`` (shared with the GraphQL client of the same pass): all
requests, 304s, and the quota actually charged. Failures surface as the shared error
taxonomy; messages name the repository and the status, never a token.

Streams (:data:`STREAMS`) come in two orders:

- Oldest first (issues, issue comments, review comments: the lists that take ``since``) are
  walked by keyset: each request asks ``since`` the last item of the page before, never a page
  number, so an item updated while paging cannot slip between two pages, and the walk can be
  resumed where a pass was cut short (``Listing.resume``). The first request of an unchanged
  stream repeats the last one of the previous pass: its ETag makes it a free 304.
- Newest first (pull requests, issue events: no ``since``) with a constant URL, so the first
  page's ETag is the same on the next pass when nothing changed; reading stops at the first item
  older than the caller's cutoff. An item updated while paging moves to the front, where the
  next pass finds it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import msgspec

from shared.errors import FatalError, NotFoundError
from shared.events.v1 import CloneDay, Comment, Issue, PullRequest, RepoMeta, User
from shared.forge.github import wire
from shared.forge.github.convert import (
    convert_clone_traffic,
    convert_comments,
    convert_contributors,
    convert_issue_events,
    convert_issues,
    convert_pulls,
    convert_releases,
    convert_repo,
    convert_review_comments,
    convert_user,
    convert_users,
)
from shared.forge.rest import CORE, NOT_MODIFIED, USER_AGENT, Listing, RequestCounts, RestClient

__all__ = ["CORE", "NOT_MODIFIED", "STREAMS", "CloneTraffic", "GitHubClient", "Listing", "RequestCounts"]

log = logging.getLogger("watershed.forge.github")

T = TypeVar("T")

API_VERSION = "2022-11-28"
_KEYSET_STEP = timedelta(seconds=1)


@dataclass(frozen=True)
class CloneTraffic:
    """One conditional read of a repository's clone traffic."""

    days: list[CloneDay] | None  # None: unchanged since the ETag sent, or refused
    etag: str | None  # the ETag to keep
    refused: bool = False  # the token may not read traffic: only those with push access may


@dataclass(frozen=True)
class StreamSpec:
    path: str  # under /repos/{owner}/{name}
    decoder: msgspec.json.Decoder[Any]
    convert: Callable[[Sequence[Any]], list[Any]]
    noun: str
    params: dict[str, str] = field(default_factory=dict)
    time_of: Callable[[Any], datetime | None] | None = None  # None: always read whole
    # GitHub refuses some lists on huge repositories with a 403 ("contributor list is too large");
    # such a stream is skipped, not the whole pass.
    refused_is_empty: bool = False
    ascending: bool = False  # oldest first by keyset on ``since`` (see the module docstring)


def _updated(item: Any) -> datetime | None:
    return item.updated_at  # type: ignore[no-any-return]


def _created(item: Any) -> datetime | None:
    return item.created_at  # type: ignore[no-any-return]


_NEWEST = {"sort": "updated", "direction": "desc"}
_OLDEST = {"sort": "updated", "direction": "asc"}
STREAMS: dict[str, StreamSpec] = {
    "issues": StreamSpec("/issues", wire.issues_decoder, convert_issues, "issues", {"state": "all", **_OLDEST},
                         _updated, ascending=True),
    # The pulls list has no ``since``: newest first down to the cursor.
    "pull_requests": StreamSpec("/pulls", wire.pulls_decoder, convert_pulls, "pull requests",
                                {"state": "all", **_NEWEST}, _updated),
    "comments": StreamSpec("/issues/comments", wire.comments_decoder, convert_comments, "issue comments", _OLDEST,
                           _updated, ascending=True),
    "review_comments": StreamSpec("/pulls/comments", wire.review_comments_decoder, convert_review_comments,
                                  "review comments", _OLDEST, _updated, ascending=True),
    # Newest first is the only order this list has, and it has no ``since``.
    "issue_events": StreamSpec("/issues/events", wire.issue_events_decoder, convert_issue_events, "issue events",
                               {}, _created),
    "releases": StreamSpec("/releases", wire.releases_decoder, convert_releases, "releases"),
    "contributors": StreamSpec("/contributors", wire.contributors_decoder, convert_contributors, "contributors",
                               refused_is_empty=True),
}


class GitHubClient(RestClient):
    forge = "GitHub"

    @staticmethod
    def _default_host(api_netloc: str) -> str:
        return "github.com" if api_netloc == "api.github.com" else api_netloc

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

    async def iter_stream(
        self, owner: str, name: str, stream: str, listing: Listing, start: datetime | None = None
    ) -> AsyncIterator[list[Any]]:
        """One of :data:`STREAMS`, converted, one list per page.

        With ``listing.sent_etag`` an unchanged first page is a free 304 and nothing is yielded.
        ``start`` is where the previous pass stopped: the first ``since`` of an oldest-first
        stream, the cutoff of a newest-first one (reading stops at the first older item).
        """
        spec = STREAMS[stream]
        if spec.ascending:
            async for page in self._keyset(owner, name, spec, listing, start):
                yield page
            return
        params = {**spec.params, "per_page": str(self.per_page)}
        path = self._repo_path(owner, name) + spec.path
        pages = self._pages(path, params, spec.decoder, self._what(owner, name), spec.noun, listing)
        async for page in self._refusable(pages, listing) if spec.refused_is_empty else pages:
            older = False
            kept = []
            for item in page:
                moment = spec.time_of(item) if spec.time_of else None
                listing.see(moment)
                if start is not None and moment is not None and moment < start:
                    older = True
                else:
                    kept.append(item)
            facts = spec.convert(kept)
            if facts:
                yield facts
            if older:
                return

    async def _keyset(
        self, owner: str, name: str, spec: StreamSpec, listing: Listing, since: datetime | None
    ) -> AsyncIterator[list[Any]]:
        """An oldest-first stream from ``since``: each next request asks ``since`` one second
        before the last item of the page (``since`` is inclusive; the second covers items sharing
        it). Only when a whole page shares that second (a bulk edit) does the walk turn the page."""
        assert spec.time_of is not None
        path = self.api_url + self._repo_path(owner, name) + spec.path
        what = self._what(owner, name)
        page_no, first = 1, True
        listing.resume = since
        while True:
            params = {**spec.params, "per_page": str(self.per_page)}
            if since is not None:
                params["since"] = _iso(since)
            if page_no > 1:
                params["page"] = str(page_no)
            try:
                page, response = await self._get(path, params, spec.decoder, what, spec.noun,
                                                 etag=listing.sent_etag if first else None)
            except NotFoundError as exc:
                if exc.status == 410:  # the feature is disabled (issues turned off), not a vanished repository
                    return
                raise
            if first:
                listing.etag = response.headers.get("etag") or listing.sent_etag
                if page is None:
                    listing.not_modified = True
                    return
                first = False
            listing.resume_etag = response.headers.get("etag") if page_no == 1 else None
            last = None
            for item in page:
                moment = spec.time_of(item)
                listing.see(moment)
                last = moment if moment is not None else last
            full = len(page) >= self.per_page and last is not None
            if full:
                step = last - _KEYSET_STEP  # type: ignore[operator]
                if since is None or step > since:
                    since, page_no = step, 1
                else:
                    page_no += 1
                listing.resume, listing.resume_etag = since, None
            facts = spec.convert(page)
            if facts:
                yield facts
            if not full:
                return

    @staticmethod
    async def _refusable(pages: AsyncIterator[list[T]], listing: Listing) -> AsyncIterator[list[T]]:
        try:
            async for page in pages:
                yield page
        except FatalError as exc:
            if exc.status != 403:
                raise
            log.info("forge.list_refused", extra={"fields": {"status": exc.status, "error": exc.message}})
            listing.not_modified = True  # nothing read, so no cursor to record either

    async def get_repo_conditional(self, owner: str, name: str, etag: str | None) -> tuple[RepoMeta | None, str | None]:
        """The repository, or None when it is unchanged since ``etag``; and the ETag to keep."""
        data, response = await self._get(
            self._repo_path(owner, name), None, wire.repo_decoder, self._what(owner, name), "repository", etag=etag
        )
        kept = response.headers.get("etag") or etag
        return (None if data is None else convert_repo(data)), kept

    async def get_commit_accounts(self, owner: str, name: str, sha: str) -> tuple[User | None, User | None] | None:
        """The accounts GitHub attributes commit ``sha`` to (author, committer; None where no
        account has the address); None when the repository has no such commit."""
        path = f"{self._repo_path(owner, name)}/commits/{quote(sha, safe='')}"
        try:
            data, _ = await self._get(path, None, wire.commit_decoder, self._what(owner, name), f"commit {sha[:12]}")
        except (NotFoundError, FatalError) as exc:
            if exc.status in (404, 422):  # unknown sha (422), or history rewritten since (404)
                return None
            raise
        return convert_user(data.author), convert_user(data.committer)

    async def get_community_profile(self, owner: str, name: str) -> wire.WireCommunityProfile | None:
        """The community profile (health percentage, README/CONTRIBUTING/CODE_OF_CONDUCT); None if unavailable."""
        path = f"{self._repo_path(owner, name)}/community/profile"
        try:
            data, _ = await self._get(path, None, wire.community_decoder, self._what(owner, name), "community profile")
        except (NotFoundError, FatalError) as exc:
            if exc.status in (403, 404):
                return None
            raise
        return data  # type: ignore[no-any-return]

    async def has_file(self, owner: str, name: str, file_path: str) -> bool:
        """Whether ``file_path`` exists on the default branch (a GET of its contents; 404 = absent)."""
        path = f"{self._repo_path(owner, name)}/contents/{quote(file_path)}"
        try:
            await self._get(path, None, wire.content_decoder, self._what(owner, name), file_path)
        except NotFoundError:
            return False
        return True

    async def get_clone_traffic(self, owner: str, name: str, etag: str | None = None) -> CloneTraffic:
        """Daily clones of the last two weeks, conditional on ``etag``. GitHub refuses them (403,
        or 404 on a private repository) to a token without push access."""
        path = f"{self._repo_path(owner, name)}/traffic/clones"
        try:
            data, response = await self._get(path, {"per": "day"}, wire.clone_traffic_decoder, self._what(owner, name),
                                             "clone traffic", etag=etag)
        except (FatalError, NotFoundError) as exc:
            if exc.status in (403, 404):
                return CloneTraffic(None, None, refused=True)
            raise
        kept = response.headers.get("etag") or etag
        return CloneTraffic(None if data is None else convert_clone_traffic(data), kept)

    async def iter_org_members(self, org: str, listing: Listing) -> AsyncIterator[list[User]]:
        """Public and (with an owner's token) private members of an organization, one list per page."""
        path = f"/orgs/{quote(org, safe='')}/members"
        params = {"per_page": str(self.per_page)}
        async for page in self._pages(path, params, wire.users_decoder, f"{self.host}/{org}", "organization members", listing):
            if page:
                yield convert_users(page)

    # ------------------------------------------------------------------ plumbing

    def _what(self, owner: str, name: str) -> str:
        return f"{self.host}/{owner}/{name}"

    @staticmethod
    def _repo_path(owner: str, name: str) -> str:
        return f"/repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    def _list_params(self, since: datetime | None, **extra: str) -> dict[str, str]:
        params = {**extra, "sort": "updated", "direction": "asc", "per_page": str(self.per_page)}
        if since is not None:
            params["since"] = _iso(since)
        return params

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION, "User-Agent": USER_AGENT}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return headers


def _iso(moment: datetime) -> str:
    # A naive datetime is taken as UTC: cursors are stored in UTC.
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
