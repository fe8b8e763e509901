"""Jobs about no single repository (account listings, contributors' activity): their status,
and the activity they bring.

Their messages are applied as they come and are idempotent by key (a listing page by
repository, an event by its id), so they need none of the per-message accounting of
repository jobs: the status says queued, collecting, retrying, done or error, for the
scheduler (nothing is dispatched twice while one runs) and for people.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from shared.events import v1
from shared.ids import contributor_id
from shared.text import clean


def kind_of(task: str) -> str:
    return task.split("-", 1)[0]


async def record_dispatches(conn: asyncpg.Connection, events: Iterable[v1.JobDispatched]) -> None:
    for e in events:
        await conn.execute(
            "INSERT INTO ops.task_status (task, kind, state, job_id, dispatched_at)"
            " VALUES ($1, $2, 'queued', $3, $4)"
            " ON CONFLICT (task) DO UPDATE SET state = 'queued', job_id = excluded.job_id,"
            " dispatched_at = excluded.dispatched_at, attempt = NULL, finished_at = NULL, retry_at = NULL,"
            " updated_at = now()"
            " WHERE ops.task_status.job_id IS DISTINCT FROM excluded.job_id"
            " AND (ops.task_status.dispatched_at IS NULL OR ops.task_status.dispatched_at <= excluded.dispatched_at)",
            e.task, kind_of(e.task), e.job_id, e.dispatched_at,
        )


async def record_started(conn: asyncpg.Connection, job_ids: Iterable[str]) -> None:
    await conn.execute(
        "UPDATE ops.task_status SET state = 'collecting', updated_at = now()"
        " WHERE job_id = ANY($1::text[]) AND state IN ('queued', 'collecting', 'retrying')",
        list(job_ids),
    )


async def record_retrying(conn: asyncpg.Connection, notes: Iterable[v1.JobRetrying]) -> None:
    for e in notes:
        await conn.execute(
            "UPDATE ops.task_status SET state = 'retrying', attempt = $2, last_error = $3, error_kind = $4,"
            " retry_at = $5, updated_at = now()"
            " WHERE job_id = $1 AND state IN ('queued', 'collecting', 'retrying') AND coalesce(attempt, 0) <= $2",
            e.job_id, e.attempt, e.error, e.error_kind, e.retry_at,
        )


async def record_finished(conn: asyncpg.Connection, markers: Iterable[v1.JobFinished]) -> None:
    """The job ended. A listing that failed for good will never be complete: its pages go."""
    for e in markers:
        ok = e.error_kind is None
        await conn.execute(
            "INSERT INTO ops.task_status (task, kind, state, job_id, attempt, finished_at, last_success_at,"
            "  last_error, error_kind)"
            " VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3::text = 'done' THEN $6::timestamptz END, $7, $8)"
            " ON CONFLICT (task) DO UPDATE SET state = excluded.state, job_id = excluded.job_id,"
            " attempt = excluded.attempt, finished_at = excluded.finished_at, retry_at = NULL,"
            " last_success_at = coalesce(excluded.last_success_at, ops.task_status.last_success_at),"
            " last_error = coalesce(excluded.last_error, ops.task_status.last_error),"
            " error_kind = excluded.error_kind, updated_at = now()"
            # A late marker of an older job (or attempt) never overrides a newer one.
            " WHERE (ops.task_status.job_id = excluded.job_id AND coalesce(ops.task_status.attempt, 0) <= excluded.attempt)"
            "    OR (ops.task_status.job_id IS DISTINCT FROM excluded.job_id"
            "        AND ops.task_status.state NOT IN ('queued', 'collecting', 'retrying'))",
            e.task, kind_of(e.task), "done" if ok else "error", e.job_id, e.attempt,
            e.finished_at, e.error, e.error_kind,
        )
        if not ok:
            await conn.execute("DELETE FROM ops.account_listings WHERE job_id = $1", e.job_id)
            await conn.execute("DELETE FROM ops.account_syncs WHERE job_id = $1", e.job_id)


async def apply_activity(conn: asyncpg.Connection, events: Sequence[v1.ContributorActivityObserved]) -> int:
    """Public events land once (by event id); each account's ETag and fetch time are kept,
    so the next run asks conditionally and reads the least recently read accounts first."""
    rows: dict[tuple[str, int], tuple[object, ...]] = {}
    cursors: dict[tuple[str, str], tuple[object, ...]] = {}
    for e in events:
        for item in e.items:
            actor = item.actor.platform_id if item.actor is not None else None
            rows[(e.namespace, item.platform_id)] = (
                e.namespace, item.platform_id, clean(item.actor.login if item.actor else e.login) or e.login,
                contributor_id(e.namespace, actor) if actor is not None else None,
                clean(item.repo_name) or "", item.repo_platform_id, clean(item.type) or "", item.created_at)
        cursors[(e.namespace, e.login.lower())] = (e.namespace, e.login.lower(), e.etag, e.missing, e.not_modified)
    if rows:
        columns = list(zip(*rows.values(), strict=True))
        await conn.execute(
            "INSERT INTO data.contributor_repo_activity (platform, event_id, login, cntrb_id, repo_full_name,"
            "  repo_platform_id, event_type, created_at)"
            " SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::uuid[], $5::text[], $6::bigint[],"
            "  $7::text[], $8::timestamptz[]) ON CONFLICT (platform, event_id) DO NOTHING",
            *[list(c) for c in columns],
        )
    for namespace, login, etag, missing, not_modified in cursors.values():
        await conn.execute(
            "INSERT INTO ops.activity_cursors (platform, login, etag, fetched_at, missing)"
            " VALUES ($1, $2, $3, now(), $4) ON CONFLICT (platform, login) DO UPDATE SET fetched_at = now(),"
            " missing = excluded.missing,"
            " etag = CASE WHEN $5 THEN ops.activity_cursors.etag ELSE excluded.etag END",
            namespace, login, etag, missing, not_modified,
        )
    return len(rows)
