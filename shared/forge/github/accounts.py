"""Account-level GitHub reads: what an organization or user owns, and where a person is active.

- :meth:`AccountsClient.get_account`: ``GET /users/{login}`` answers for users and
  organizations alike and says which it is (``type``);
- :meth:`AccountsClient.iter_repos`: ``GET /orgs/{org}/repos?type=all`` for an organization,
  ``GET /users/{user}/repos?type=owner`` for a user, paged by Link, sorted by name. A listing
  that fits in one page can be asked conditionally (``Listing.sent_etag``): a 304 says nothing
  changed. A longer listing cannot: a repository deleted from a later page leaves the first
  one as it was;
- :meth:`AccountsClient.public_events`: ``GET /users/{login}/events/public`` (GitHub keeps 90
  days, at most 300 events, in pages of up to 100), conditional on the last ETag.

Requests go through the :class:`GitHubClient` of the pass: its token pool, retries, counts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import msgspec

from shared.errors import NotFoundError
from shared.events.v1 import PublicEvent, RepoMeta
from shared.forge.github import wire
from shared.forge.github.client import GitHubClient, Listing
from shared.forge.github.convert import convert_repo, convert_user

ORGANIZATION = "Organization"
EVENTS_PAGE = 100
EVENTS_MAX_PAGES = 3  # GitHub serves at most 300 public events


class WireEventRepo(wire.Wire):
    name: str
    id: int | None = None


class WireEvent(wire.Wire):
    id: str
    type: str | None = None
    actor: wire.WireUser | None = None
    repo: WireEventRepo | None = None
    created_at: datetime | None = None


events_decoder = msgspec.json.Decoder(list[WireEvent])
account_decoder = msgspec.json.Decoder(wire.WireUser)
minimal_repos_decoder = msgspec.json.Decoder(list[wire.WireRepo])


@dataclass(frozen=True)
class Account:
    login: str  # as the forge spells it
    platform_id: int
    kind: str  # User | Organization

    @property
    def is_organization(self) -> bool:
        return self.kind == ORGANIZATION


@dataclass(frozen=True)
class PublicEvents:
    items: list[PublicEvent]
    etag: str | None
    not_modified: bool = False
    missing: bool = False  # the account is gone (deleted or renamed)


def convert_events(wires: list[WireEvent]) -> list[PublicEvent]:
    events = []
    for w in wires:
        if not w.id.isdigit() or w.repo is None:
            continue  # not an event we can key
        events.append(PublicEvent(platform_id=int(w.id), type=w.type or "", repo_name=w.repo.name,
                                  repo_platform_id=w.repo.id, actor=convert_user(w.actor), created_at=w.created_at))
    return events


class AccountsClient:
    def __init__(self, client: GitHubClient) -> None:
        self.client = client

    async def get_account(self, login: str) -> Account:
        path = f"/users/{quote(login, safe='')}"
        data, _ = await self.client._get(path, None, account_decoder, f"{self.client.host}/{login}", "account")
        return Account(login=data.login, platform_id=data.id, kind=data.type or "User")

    async def iter_repos(self, account: Account, listing: Listing) -> AsyncIterator[list[RepoMeta]]:
        """Every repository the account owns, one list per page; nothing when unchanged (304)."""
        login = quote(account.login, safe="")
        if account.is_organization:
            path, params = f"/orgs/{login}/repos", {"type": "all"}
        else:
            path, params = f"/users/{login}/repos", {"type": "owner"}
        params.update(sort="full_name", direction="asc", per_page=str(self.client.per_page))
        what = f"{self.client.host}/{account.login}"
        async for page in self.client._pages(path, params, minimal_repos_decoder, what, "repositories", listing):
            yield [convert_repo(w) for w in page]

    async def public_events(self, login: str, etag: str | None) -> PublicEvents:
        path = f"/users/{quote(login, safe='')}/events/public"
        listing = Listing(sent_etag=etag)
        items: list[PublicEvent] = []
        pages = 0
        try:
            async for page in self.client._pages(path, {"per_page": str(EVENTS_PAGE)}, events_decoder,
                                                  f"{self.client.host}/{login}", "public events", listing):
                items.extend(convert_events(page))
                pages += 1
                if pages >= EVENTS_MAX_PAGES:
                    break
        except NotFoundError:
            return PublicEvents([], None, missing=True)
        return PublicEvents(items, listing.etag, not_modified=listing.not_modified)
