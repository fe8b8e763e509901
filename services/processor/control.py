"""What the control plane decided, recorded: registrations, removals and groups asked for
through the CLI or the REST API, repository identities, queue settings of repositories and
groups, prioritized phases, followed accounts, dead letters retried.

Every function here is idempotent: the events may come twice, out of order, or again in a
replay. Settings carry their ``changed_at`` and only a newer change replaces an older one.
Registrations, removals and groups go through one loop in the order they were published: a
repository removed and registered again in the same batch ends up active, as it would one
message at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from services.processor.jobs import group_id, register_repos
from shared.events import v1

Request = v1.RepoRegistered | v1.RepoRemoved | v1.GroupAdded | v1.GroupRemoved
REQUEST_TYPES = (v1.RepoRegistered, v1.RepoRemoved, v1.GroupAdded, v1.GroupRemoved)

_IDENTITIES = """
SELECT r.repo_id, r.url, r.platform, r.host, r.owner, r.name, g.name AS "group", r.registered_at
FROM data.repos r JOIN data.repo_groups g USING (repo_group_id)
WHERE r.repo_id = ANY($1::int[])
"""

# The queue order of a repository's phases follows its settings at once; a recollect interval
# set explicitly also moves the next due time of phases waiting for their next collection.
# (An interval set back to "inherit" applies from the next collection: the default is the
# scheduler's to know.)
_REQUEUE = """
UPDATE ops.collection_status s SET priority = coalesce(ops.effective_priority(s.repo_id), 0),
    next_due = CASE WHEN $2::float8 IS NOT NULL AND s.state = 'done' AND s.last_success_at IS NOT NULL
                    AND NOT (s.repo_id = ANY($3::int[]))
               THEN s.last_success_at + make_interval(secs => $2::float8) ELSE s.next_due END
WHERE s.repo_id = ANY($1::int[])
"""


async def identities(conn: asyncpg.Connection, repo_ids: Sequence[int]) -> list[v1.RepoIdentified]:
    """The identity facts of these repositories, as the processor publishes them."""
    if not repo_ids:
        return []
    rows = await conn.fetch(_IDENTITIES, list(repo_ids))
    return [v1.RepoIdentified(repo_id=r["repo_id"], url=r["url"], platform=r["platform"], host=r["host"],
                              owner=r["owner"], name=r["name"], group=r["group"], registered_at=r["registered_at"])
            for r in rows]


async def restore_repos(conn: asyncpg.Connection, events: Iterable[v1.RepoIdentified]) -> list[int]:
    """Recreate repository rows under the ids they had (a replay into a database without them).
    A row that exists, or whose URL another row holds now, stays as it is. Returns the ids made."""
    made = []
    for e in events:
        group = await group_id(conn, e.group)
        repo_id = await conn.fetchval(
            "INSERT INTO data.repos (repo_id, url, platform, host, owner, name, repo_group_id, registered_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8, now())) ON CONFLICT DO NOTHING RETURNING repo_id",
            e.repo_id, e.url, e.platform, e.host, e.owner, e.name, group, e.registered_at,
        )
        if repo_id is not None:
            made.append(repo_id)
    if made:
        # Ids given explicitly do not move the identity's sequence: move it past them, or the
        # next registration would be handed an id that is taken. (nextval needs only USAGE,
        # which the writer role has; setval would need more.)
        await conn.execute(
            "SELECT count(nextval('data.repos_repo_id_seq')) FROM generate_series(1, greatest(0,"
            " $1 - (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM data.repos_repo_id_seq)))",
            max(made),
        )
    return made


async def record_repo_settings(conn: asyncpg.Connection, events: Iterable[v1.RepoSettingsChanged]) -> None:
    for e in events:
        changed = await conn.fetchval(
            "INSERT INTO ops.repo_settings (repo_id, priority, recollect_interval_s, changed_at)"
            " SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM data.repos WHERE repo_id = $1)"
            " ON CONFLICT (repo_id) DO UPDATE SET priority = excluded.priority,"
            " recollect_interval_s = excluded.recollect_interval_s, changed_at = excluded.changed_at"
            " WHERE ops.repo_settings.changed_at <= excluded.changed_at RETURNING repo_id",
            e.repo_id, e.priority, e.recollect_interval_s, e.changed_at,
        )
        if changed is not None:
            await conn.execute(_REQUEUE, [e.repo_id], e.recollect_interval_s, [])


async def record_group_settings(conn: asyncpg.Connection, events: Iterable[v1.GroupSettingsChanged]) -> None:
    for e in events:
        group = await group_id(conn, e.group)
        changed = await conn.fetchval(
            "INSERT INTO ops.group_settings (repo_group_id, priority, recollect_interval_s, changed_at)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (repo_group_id) DO UPDATE SET priority = excluded.priority,"
            " recollect_interval_s = excluded.recollect_interval_s, changed_at = excluded.changed_at"
            " WHERE ops.group_settings.changed_at <= excluded.changed_at RETURNING repo_group_id",
            group, e.priority, e.recollect_interval_s, e.changed_at,
        )
        if changed is None:
            continue
        members = [r["repo_id"] for r in await conn.fetch(
            "SELECT repo_id FROM data.repos WHERE repo_group_id = $1", group)]
        # Repositories with an interval of their own keep it.
        own = [r["repo_id"] for r in await conn.fetch(
            "SELECT repo_id FROM ops.repo_settings WHERE repo_id = ANY($1::int[]) AND recollect_interval_s IS NOT NULL",
            members)]
        await conn.execute(_REQUEUE, members, e.recollect_interval_s, own)


async def record_prioritized(conn: asyncpg.Connection, events: Iterable[v1.RepoPrioritized]) -> None:
    """Phases waiting for their next collection become due now, ahead of everything else; a
    phase whose job is running already keeps running it."""
    for e in events:
        await conn.execute(
            "INSERT INTO ops.collection_status (repo_id, phase, state, next_due, urgent, priority)"
            " SELECT $1, phase, 'new', $3, true, coalesce(ops.effective_priority($1), 0)"
            " FROM unnest($2::text[]) AS phase WHERE EXISTS (SELECT 1 FROM data.repos WHERE repo_id = $1)"
            " ON CONFLICT (repo_id, phase) DO UPDATE SET urgent = true,"
            " next_due = least(coalesce(ops.collection_status.next_due, excluded.next_due), excluded.next_due)"
            " WHERE ops.collection_status.state IN ('new', 'done', 'error')",
            e.repo_id, e.phases, e.at,
        )


async def record_sources(conn: asyncpg.Connection, events: Iterable[v1.GroupSourceAdded]) -> None:
    for e in events:
        group = await group_id(conn, e.group)
        await conn.execute(
            "INSERT INTO ops.group_sources (repo_group_id, platform, host, account, url, added_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (url) DO NOTHING",
            group, e.platform, e.host, e.account, e.url, e.added_at,
        )


async def record_retried(conn: asyncpg.Connection, events: Iterable[v1.DeadLetterRetried]) -> None:
    """A message handed back to the processor is resolved by that; a job dispatched again is
    resolved when a job of its phase succeeds."""
    for e in events:
        await conn.execute(
            "UPDATE ops.dead_letters SET retried_at = $2, retry_job_id = $3,"
            " resolved_at = CASE WHEN kind = 'message' THEN coalesce(resolved_at, $2) ELSE resolved_at END"
            " WHERE dead_letter_id = $1",
            e.dead_letter_id, e.retried_at, e.job_id,
        )


async def record_control(conn: asyncpg.Connection, events: Sequence[v1.StagedEvent]) -> None:
    """Every control decision of a batch, in an order that holds whatever the batch mixes:
    groups and sources before the settings and priorities that may name them."""
    await record_sources(conn, [e for e in events if isinstance(e, v1.GroupSourceAdded)])
    await record_group_settings(conn, [e for e in events if isinstance(e, v1.GroupSettingsChanged)])
    await record_repo_settings(conn, [e for e in events if isinstance(e, v1.RepoSettingsChanged)])
    await record_prioritized(conn, [e for e in events if isinstance(e, v1.RepoPrioritized)])
    await record_retried(conn, [e for e in events if isinstance(e, v1.DeadLetterRetried)])


async def apply_requests(conn: asyncpg.Connection, events: Sequence[Request]) -> list[v1.RepoAdded]:
    added: list[v1.RepoAdded] = []
    for e in events:
        if isinstance(e, v1.RepoRegistered):
            added.extend(await register_repos(conn, [e]))
        elif isinstance(e, v1.RepoRemoved):
            await conn.execute(
                "UPDATE data.repos SET state = 'removed', state_reason = 'removed by request'"
                " WHERE repo_id = $1", e.repo_id)
        elif isinstance(e, v1.GroupAdded):
            await conn.execute(
                "INSERT INTO data.repo_groups (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET removed_at = NULL",
                e.name)
        elif isinstance(e, v1.GroupRemoved):
            await conn.execute(
                "UPDATE data.repo_groups SET removed_at = coalesce(removed_at, $2) WHERE repo_group_id = $1",
                e.group_id, e.requested_at)
            await conn.execute(
                "UPDATE data.repos SET state = 'removed', state_reason = 'its group was removed by request'"
                " WHERE repo_group_id = $1", e.group_id)
    return added
