"""An organization's or user's repository listing, applied to the group that follows it.

Pages wait in ``ops.account_listings`` until the listing is complete: its closing
``AccountListed`` says how many repositories it holds, and pages may arrive before or after
it. Only a complete listing is applied, since only a complete listing says which
repositories are gone. Applying it:

- a listed repository known by its platform id under another name (renamed, or transferred
  into the account) keeps its row and takes the new name and URL, unless another row holds
  that URL already (then the two stay apart, as for renames seen by the collector);
- a listed repository not known at all is registered in the source's group; a known one in
  the ``default`` group moves to it; others keep their group;
- a repository the source listed last time and lists no more (deleted, transferred away,
  made private) is marked ``unlisted``: its rows stay, it is no longer collected; listed
  again, it is active again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from shared.events import v1

DEFAULT_GROUP = "default"

# The listing of one job attempt, with the URL each repository has under its listed name
# (forge names are case-insensitive: URLs are lower case, as shared.forge.urls makes them).
_LISTED = """
SELECT platform_repo_id, owner, name, lower('https://' || $3 || '/' || owner || '/' || name) AS url
FROM ops.account_listings WHERE job_id = $1 AND attempt = $2
"""

_RENAME = f"""
WITH listed AS ({_LISTED})
UPDATE data.repos r SET owner = l.owner, name = l.name,
    url = CASE WHEN NOT EXISTS (SELECT 1 FROM data.repos o WHERE o.url = l.url AND o.repo_id <> r.repo_id)
               THEN l.url ELSE r.url END
FROM listed l
WHERE r.host = $3 AND r.platform = $4 AND r.platform_repo_id = l.platform_repo_id
  AND r.url <> l.url
RETURNING r.repo_id
"""

_ADOPT = f"""
WITH listed AS ({_LISTED})
UPDATE data.repos r SET platform_repo_id = l.platform_repo_id
FROM listed l WHERE r.url = l.url AND r.platform_repo_id IS NULL
"""

_REGISTER = f"""
WITH listed AS ({_LISTED})
INSERT INTO data.repos (url, platform, host, owner, name, platform_repo_id, repo_group_id)
SELECT l.url, $4, $3, l.owner, l.name, l.platform_repo_id, $5 FROM listed l
WHERE NOT EXISTS (SELECT 1 FROM data.repos r WHERE r.host = $3 AND r.platform_repo_id = l.platform_repo_id)
  AND NOT EXISTS (SELECT 1 FROM data.repos r WHERE r.url = l.url)
ON CONFLICT DO NOTHING
RETURNING repo_id
"""

_MATCHED = f"""
WITH listed AS ({_LISTED})
SELECT r.repo_id FROM data.repos r JOIN listed l ON r.host = $3 AND r.platform_repo_id = l.platform_repo_id
UNION
SELECT r.repo_id FROM data.repos r JOIN listed l ON r.url = l.url
"""


@dataclass
class Synced:
    """What applying one listing did (becomes the ``AccountSynced`` progress event)."""

    source_id: int
    job_id: str
    group: str
    listed: int
    added: list[int] = field(default_factory=list)
    renamed_ids: list[int] = field(default_factory=list)
    unlisted: int = 0
    relisted: int = 0
    unchanged: bool = False

    def event(self) -> v1.AccountSynced:
        return v1.AccountSynced(source_id=self.source_id, job_id=self.job_id, group=self.group, listed=self.listed,
                                added=self.added, renamed=len(self.renamed_ids), unlisted=self.unlisted,
                                relisted=self.relisted, unchanged=self.unchanged)


async def stage(conn: asyncpg.Connection, pages: Sequence[v1.AccountReposObserved],
                heads: Sequence[v1.AccountListed]) -> set[tuple[str, int]]:
    """Keep pages and closing counts; returns the listings (job, attempt) they belong to."""
    rows = {(p.job_id, p.attempt, r.platform_id): (r.owner, r.name) for p in pages for r in p.items}
    if rows:
        keys, names = list(rows), list(rows.values())
        await conn.execute(
            "INSERT INTO ops.account_listings (job_id, attempt, platform_repo_id, owner, name)"
            " SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[])"
            " ON CONFLICT (job_id, attempt, platform_repo_id) DO NOTHING",
            [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
            [n[0] for n in names], [n[1] for n in names],
        )
    for h in heads:
        await conn.execute(
            "INSERT INTO ops.account_syncs (job_id, attempt, source_id, total, unchanged, etag, platform_account_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id, attempt) DO NOTHING",
            h.job_id, h.attempt, h.source_id, h.total, h.unchanged, h.etag, h.platform_account_id,
        )
    return {(p.job_id, p.attempt) for p in pages} | {(h.job_id, h.attempt) for h in heads}


async def complete(conn: asyncpg.Connection, listings: Iterable[tuple[str, int]]) -> list[Synced]:
    """Apply every listing among ``listings`` that is complete now."""
    done = []
    for job_id, attempt in sorted(listings):
        head = await conn.fetchrow(
            "SELECT s.*, g.repo_group_id, g.host, g.platform, g.account, rg.name AS group_name"
            " FROM ops.account_syncs s JOIN ops.group_sources g USING (source_id)"
            " JOIN data.repo_groups rg ON rg.repo_group_id = g.repo_group_id"
            " WHERE s.job_id = $1 AND s.attempt = $2", job_id, attempt)
        if head is None:
            continue
        if not head["unchanged"]:
            have = await conn.fetchval(
                "SELECT count(*) FROM ops.account_listings WHERE job_id = $1 AND attempt = $2", job_id, attempt)
            if have < head["total"]:
                continue
        done.append(await _apply(conn, head))
        await conn.execute("DELETE FROM ops.account_listings WHERE job_id = $1", job_id)
        await conn.execute("DELETE FROM ops.account_syncs WHERE job_id = $1", job_id)
    return done


async def _apply(conn: asyncpg.Connection, head: asyncpg.Record) -> Synced:
    source, group_id = head["source_id"], head["repo_group_id"]
    synced = Synced(source_id=source, job_id=head["job_id"], group=head["group_name"], listed=head["total"],
                    unchanged=head["unchanged"])
    if not head["unchanged"]:
        args = (head["job_id"], head["attempt"], head["host"], head["platform"])
        synced.renamed_ids = [r["repo_id"] for r in await conn.fetch(_RENAME, *args)]
        await conn.execute(_ADOPT, *args[:3])
        synced.added = [r["repo_id"] for r in await conn.fetch(_REGISTER, *args, group_id)]
        matched = [r["repo_id"] for r in await conn.fetch(_MATCHED, *args[:3])]
        await conn.execute(
            "UPDATE data.repos SET repo_group_id = $2 WHERE repo_id = ANY($1::int[])"
            " AND repo_group_id = (SELECT repo_group_id FROM data.repo_groups WHERE name = $3) AND $2 <> repo_group_id",
            matched, group_id, DEFAULT_GROUP)
        relisted = await conn.fetch(
            "UPDATE data.repos SET state = 'active', state_reason = NULL"
            " WHERE repo_id = ANY($1::int[]) AND state = 'unlisted' RETURNING repo_id", matched)
        synced.relisted = len(relisted)
        # Listed again: due now; unlisted (below): off the queue, so no tick walks past them.
        await conn.execute(
            "UPDATE ops.collection_status SET next_due = now() WHERE repo_id = ANY($1::int[]) AND next_due IS NULL"
            " AND state IN ('new', 'done', 'error')", [r["repo_id"] for r in relisted])
        unlisted = await conn.fetch(
            "UPDATE data.repos SET state = 'unlisted',"
            " state_reason = 'no longer listed by ' || $3 || ' (deleted, transferred or made private) since '"
            "   || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
            " WHERE repo_id IN (SELECT repo_id FROM ops.source_repos WHERE source_id = $1)"
            " AND NOT (repo_id = ANY($2::int[])) AND state = 'active' RETURNING repo_id",
            source, matched, head["account"])
        synced.unlisted = len(unlisted)
        await conn.execute("UPDATE ops.collection_status SET next_due = NULL WHERE repo_id = ANY($1::int[])"
                           " AND state IN ('new', 'done', 'error')", [r["repo_id"] for r in unlisted])
        await conn.execute("DELETE FROM ops.source_repos WHERE source_id = $1 AND NOT (repo_id = ANY($2::int[]))",
                           source, matched)
        await conn.execute(
            "INSERT INTO ops.source_repos (source_id, repo_id, listed_at) SELECT $1, unnest($2::int[]), now()"
            " ON CONFLICT (source_id, repo_id) DO UPDATE SET listed_at = now()", source, matched)
    changes = (f"{synced.listed} listed, {len(synced.added)} added, {len(synced.renamed_ids)} renamed,"
               f" {synced.unlisted} unlisted, {synced.relisted} listed again") if not synced.unchanged else "unchanged"
    await conn.execute(
        "UPDATE ops.group_sources SET listed_at = now(), listed_job_id = $6, listed_count = $2,"
        " etag = coalesce($3, etag), platform_account_id = coalesce($4, platform_account_id), last_changes = $5"
        " WHERE source_id = $1",
        source, head["total"], head["etag"], head["platform_account_id"], changes, head["job_id"])
    return synced
