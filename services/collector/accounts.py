"""Collector jobs about accounts rather than repositories.

- An account listing (``kind="account"``): the repositories a GitHub organization or user owns,
  or the projects of a GitLab group and its subgroups, in pages, then ``AccountListed`` with
  their count, so the processor applies the listing only once it holds all of it. A GitHub
  listing that fit in one page last time is asked conditionally: unchanged, it costs nothing
  and says so (``unchanged``). GitLab's group listing has no ETag: it is always read whole.
- Contributor activity (``kind="activity"``): for each login of the batch, the public events
  (conditional on the last ETag), as ``ContributorActivityObserved``.

What was stored last time (ETags, counts) is read from the processor's tables through the
collector's read-only pool, as repository cursors are.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from services.collector.streams import kind_of
from shared.errors import FatalError
from shared.events import v1
from shared.events.jetstream import chunk_by_size
from shared.forge.github import GitHubClient, Listing
from shared.forge.github.accounts import AccountsClient
from shared.forge.gitlab import GitLabClient
from shared.ids import identity_namespace
from shared.worker import JobContext

ITEMS_PER_MESSAGE = 100


@dataclass(frozen=True)
class SourceState:
    etag: str | None = None
    count: int | None = None


async def read_source(pool: asyncpg.Pool | None, source_id: int | None) -> SourceState:
    if pool is None or source_id is None:
        return SourceState()
    row = await pool.fetchrow("SELECT etag, listed_count FROM ops.group_sources WHERE source_id = $1", source_id)
    return SourceState(row["etag"], row["listed_count"]) if row is not None else SourceState()


async def read_activity_etags(pool: asyncpg.Pool | None, namespace: str, logins: list[str]) -> dict[str, str]:
    if pool is None:
        return {}
    rows = await pool.fetch("SELECT login, etag FROM ops.activity_cursors WHERE platform = $1 AND login = ANY($2::text[])"
                            " AND etag IS NOT NULL", namespace, [login.lower() for login in logins])
    return {r["login"]: r["etag"] for r in rows}


async def emit_listing(ctx: JobContext, account: str, pages: AsyncIterator[list[v1.RepoMeta]]) -> int:
    """Publish the listing's pages; returns how many repositories they hold. A repository a page
    repeats (paging by offset while the account changes shifts items into the next page) is
    published once: the closing count must be what the processor can hold."""
    seen: set[int] = set()
    async for page in pages:
        fresh = [r for r in page if r.platform_id not in seen]
        seen.update(r.platform_id for r in fresh)
        for chunk in chunk_by_size(fresh, max_items=ITEMS_PER_MESSAGE):
            await ctx.emit(v1.AccountReposObserved, kind_of(v1.AccountReposObserved), account=account, items=chunk)
    return len(seen)


def _source(job: v1.Job) -> int:
    if job.source_id is None:
        raise FatalError(f"{job.url}: an account job without its source")
    return job.source_id


async def list_account(client: GitHubClient, job: v1.Job, ctx: JobContext, stored: SourceState) -> None:
    source_id = _source(job)
    accounts = AccountsClient(client)
    account = await accounts.get_account(job.owner)
    one_page = stored.count is not None and stored.count <= client.per_page
    listing = Listing(sent_etag=stored.etag if one_page and not job.full else None)
    total = await emit_listing(ctx, account.login, accounts.iter_repos(account, listing))
    unchanged = listing.not_modified
    await ctx.emit(v1.AccountListed, kind_of(v1.AccountListed), source_id=source_id, account=account.login,
                   total=(stored.count or 0) if unchanged else total, unchanged=unchanged,
                   # Only a one-page listing is ever asked conditionally (see AccountsClient).
                   etag=listing.etag if total <= client.per_page else None, platform_account_id=account.platform_id)


async def list_gitlab_group(client: GitLabClient, job: v1.Job, ctx: JobContext) -> None:
    """A GitLab group's projects, subgroups' included. A group that is gone (404) ends the job
    with that error before anything is published, so its repositories stay as they were."""
    source_id = _source(job)
    group = await client.get_group(job.owner)
    total = await emit_listing(ctx, group.full_path, client.iter_group_projects(group))
    await ctx.emit(v1.AccountListed, kind_of(v1.AccountListed), source_id=source_id, account=group.full_path,
                   total=total, platform_account_id=group.platform_id)


async def read_activity(client: GitHubClient, job: v1.Job, ctx: JobContext, etags: dict[str, str]) -> None:
    accounts = AccountsClient(client)
    namespace = identity_namespace(job.platform, job.host)
    for login in job.logins:
        events = await accounts.public_events(login, etags.get(login.lower()))
        for chunk in chunk_by_size(events.items, max_items=ITEMS_PER_MESSAGE) or [[]]:
            await ctx.emit(v1.ContributorActivityObserved, kind_of(v1.ContributorActivityObserved),
                           namespace=namespace, login=login, items=chunk, etag=events.etag,
                           not_modified=events.not_modified, missing=events.missing)
