"""Operational state the processor records: registrations, dispatches, job accounting.

A job attempt is complete when its ``JobFinished`` marker has arrived and every
data message it announced is committed. ``ops.job_messages`` remembers which
(job, attempt, seq) were applied, so a message redelivered after its commit is
neither applied nor counted twice, and the order of arrival does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from shared.errors import ErrorKind
from shared.events import subjects, v1

_FEEDS_RESOLVER = (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE)
# The phases that ask the repository's own remote (its forge's repository, its git URL).
_ASKS_THE_REPOSITORY = (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE)


@dataclass(frozen=True)
class Completed:
    repo_id: int
    phase: str
    job_id: str
    ok: bool
    error: str | None
    error_kind: str | None
    requests: int


async def claim_messages(conn: asyncpg.Connection, events: Sequence[v1.JobEvent]) -> set[tuple[str, int, int]]:
    """Record data messages as applied; returns the keys that are new (to apply now)."""
    keys = list(dict.fromkeys((e.job_id, e.attempt, e.seq) for e in events))
    if not keys:
        return set()
    jobs, attempts, seqs = zip(*keys, strict=True)
    new = await conn.fetch(
        "INSERT INTO ops.job_messages (job_id, attempt, seq)"
        " SELECT * FROM unnest($1::text[], $2::int[], $3::int[]) ON CONFLICT DO NOTHING"
        " RETURNING job_id, attempt, seq",
        list(jobs), list(attempts), list(seqs),
    )
    return {(r["job_id"], r["attempt"], r["seq"]) for r in new}


async def group_id(conn: asyncpg.Connection, name: str) -> int:
    """The id of the repository group ``name``, created when it does not exist yet."""
    return int(await conn.fetchval(
        "INSERT INTO data.repo_groups (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = excluded.name"
        " RETURNING repo_group_id",
        name,
    ))


async def register_repos(conn: asyncpg.Connection, events: Iterable[v1.RepoRegistered]) -> list[v1.RepoAdded]:
    added = []
    for e in events:
        group = await group_id(conn, e.group)
        # Registering into a removed group, or a removed repository again, brings it back.
        await conn.execute("UPDATE data.repo_groups SET removed_at = NULL WHERE repo_group_id = $1"
                           " AND removed_at IS NOT NULL", group)
        await conn.execute(
            "UPDATE data.repos SET state = 'active', state_reason = NULL, repo_group_id = $2"
            " WHERE url = $1 AND state = 'removed'",
            e.url, group,
        )
        row = await conn.fetchrow(
            "INSERT INTO data.repos (url, platform, host, owner, name, repo_group_id)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (url) DO NOTHING RETURNING repo_id",
            e.url, e.platform, e.host, e.owner, e.name, group,
        )
        if row is not None:
            added.append(v1.RepoAdded(repo_id=row["repo_id"], url=e.url, created=True))
        else:
            rid = await conn.fetchval("SELECT repo_id FROM data.repos WHERE url = $1", e.url)
            added.append(v1.RepoAdded(repo_id=rid, url=e.url, created=False))
    return added


async def record_dispatches(conn: asyncpg.Connection, events: Iterable[v1.JobDispatched]) -> None:
    for e in events:
        # A dispatch seen after its job already reported (redelivery reorders) must not regress it.
        # A dispatched phase leaves the front of the queue: `prioritize` moves it there once.
        await conn.execute(
            "INSERT INTO ops.collection_status (repo_id, phase, state, job_id, dispatched_at, expected_messages, priority)"
            " VALUES ($1, $2, 'queued', $3, $4, NULL, coalesce(ops.effective_priority($1), 0))"
            " ON CONFLICT (repo_id, phase) DO UPDATE SET state = 'queued', job_id = excluded.job_id,"
            " dispatched_at = excluded.dispatched_at, attempt = NULL, expected_messages = NULL,"
            " started_at = NULL, requests = 0, urgent = false, updated_at = now()"
            " WHERE ops.collection_status.job_id IS DISTINCT FROM excluded.job_id"
            " AND (ops.collection_status.dispatched_at IS NULL"
            "      OR ops.collection_status.dispatched_at <= excluded.dispatched_at)",
            e.repo_id, e.phase, e.job_id, e.dispatched_at,
        )


async def record_started(conn: asyncpg.Connection, jobs: Iterable[str]) -> None:
    """Messages of these jobs were committed: they run. ``updated_at`` follows their progress,
    so only a job that stopped sending for long looks stuck to the scheduler."""
    await conn.execute(
        "UPDATE ops.collection_status SET state = 'collecting', started_at = coalesce(started_at, now()),"
        " updated_at = now() WHERE job_id = ANY($1::text[]) AND state IN ('queued', 'collecting')",
        list(jobs),
    )


async def record_cursors(conn: asyncpg.Connection, events: Iterable[v1.CursorObserved]) -> None:
    """Cursors wait beside the job until it is complete (see :func:`complete_jobs`);
    checkpoints until what came before them is (see :func:`promote_checkpoints`)."""
    events = list(events)
    rows = [(e.job_id, e.attempt, e.repo_id, e.stream, e.value, e.etag) for e in events if not e.checkpoint]
    if rows:
        await conn.executemany(
            "INSERT INTO ops.pending_cursors (job_id, attempt, repo_id, stream, value, etag)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, attempt, stream)"
            " DO UPDATE SET value = excluded.value, etag = excluded.etag",
            rows,
        )
    points = [(e.job_id, e.attempt, e.seq, e.repo_id, e.stream, moment)
              for e in events if e.checkpoint and (moment := _moment(e.value)) is not None]
    if points:
        await conn.executemany(
            "INSERT INTO ops.pending_checkpoints (job_id, attempt, seq, repo_id, stream, value)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            points,
        )


def _moment(value: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None  # an unreadable checkpoint only costs a longer next pass
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


async def promote_checkpoints(conn: asyncpg.Connection, jobs: Iterable[str]) -> None:
    """Keep every checkpoint of ``jobs`` whose earlier messages are all committed (they may
    arrive after it: redelivery reorders). The latest one per stream wins."""
    await conn.execute(
        "WITH ready AS ("
        "  DELETE FROM ops.pending_checkpoints p WHERE p.job_id = ANY($1::text[])"
        "  AND p.seq <= (SELECT count(*) FROM ops.job_messages m"
        "                WHERE m.job_id = p.job_id AND m.attempt = p.attempt AND m.seq < p.seq)"
        "  RETURNING p.*)"
        " INSERT INTO ops.checkpoints (repo_id, stream, job_id, value, updated_at)"
        " SELECT DISTINCT ON (repo_id, stream) repo_id, stream, job_id, value, now() FROM ready"
        " ORDER BY repo_id, stream, attempt DESC, seq DESC"
        " ON CONFLICT (repo_id, stream) DO UPDATE SET job_id = excluded.job_id, value = excluded.value,"
        " updated_at = now()",
        list(jobs),
    )


async def record_finished(conn: asyncpg.Connection, events: Iterable[v1.JobFinished]) -> None:
    for e in events:
        await conn.execute(
            "INSERT INTO ops.collection_status (repo_id, phase, state, job_id, attempt, expected_messages,"
            "  requests, started_at, finished_at, last_error, error_kind, requests_graphql, not_modified, charged,"
            "  priority)"
            " VALUES ($1, $2, 'collecting', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13,"
            "  coalesce(ops.effective_priority($1), 0))"
            " ON CONFLICT (repo_id, phase) DO UPDATE SET job_id = excluded.job_id, attempt = excluded.attempt,"
            " expected_messages = excluded.expected_messages, requests = excluded.requests,"
            " requests_graphql = excluded.requests_graphql, not_modified = excluded.not_modified,"
            " charged = excluded.charged,"
            " started_at = excluded.started_at, finished_at = excluded.finished_at,"
            " last_error = coalesce(excluded.last_error, ops.collection_status.last_error),"
            " error_kind = excluded.error_kind,"
            " state = CASE WHEN ops.collection_status.state IN ('committed', 'done', 'error')"
            "              AND ops.collection_status.job_id = excluded.job_id"
            "         THEN ops.collection_status.state ELSE 'collecting' END, updated_at = now()"
            # A late marker of an older attempt never overrides a newer attempt's.
            " WHERE ops.collection_status.job_id IS DISTINCT FROM excluded.job_id"
            "    OR ops.collection_status.attempt IS NULL OR ops.collection_status.attempt <= excluded.attempt",
            e.repo_id, e.phase, e.job_id, e.attempt, e.messages, e.requests, e.started_at, e.finished_at,
            e.error, e.error_kind, e.requests_graphql, e.not_modified, e.charged,
        )


async def record_retrying(conn: asyncpg.Connection, events: Iterable[v1.JobRetrying]) -> None:
    """A failed attempt of a job that will be delivered again: its error shows now, and
    ``next_due`` says when the retry is due. Its next marker (retrying or finished) replaces it."""
    for e in events:
        await conn.execute(
            "UPDATE ops.collection_status SET state = 'retrying', attempt = $3, last_error = $4, error_kind = $5,"
            " next_due = $6, updated_at = now()"
            " WHERE job_id = $1 AND phase = $2 AND state IN ('queued', 'collecting', 'retrying')"
            # A late note of an older attempt never overrides a newer attempt's.
            " AND (attempt IS NULL OR attempt <= $3)",
            e.job_id, e.phase, e.attempt, e.error, e.error_kind, e.retry_at,
        )


async def complete_jobs(conn: asyncpg.Connection, jobs: Iterable[str]) -> list[Completed]:
    """Mark every touched job whose messages are all committed; returns them."""
    rows = await conn.fetch(
        "UPDATE ops.collection_status s SET state = 'committed', updated_at = now()"
        " WHERE s.job_id = ANY($1::text[]) AND s.state IN ('queued', 'collecting')"
        " AND s.expected_messages IS NOT NULL"
        " AND s.expected_messages <= (SELECT count(*) FROM ops.job_messages m"
        "                             WHERE m.job_id = s.job_id AND m.attempt = s.attempt)"
        " RETURNING s.repo_id, s.phase, s.job_id, s.attempt, s.last_error, s.error_kind, s.requests",
        list(jobs),
    )
    done = []
    for r in rows:
        ok = r["error_kind"] is None
        done.append(Completed(r["repo_id"], r["phase"], r["job_id"], ok, None if ok else r["last_error"],
                              r["error_kind"], r["requests"]))
        if ok:
            # The pass is complete: what it read becomes where the next one starts.
            await conn.execute(
                "INSERT INTO ops.cursors (repo_id, stream, value, etag, updated_at)"
                " SELECT repo_id, stream, value, etag, now() FROM ops.pending_cursors"
                " WHERE job_id = $1 AND attempt = $2"
                " ON CONFLICT (repo_id, stream) DO UPDATE SET value = excluded.value, etag = excluded.etag,"
                " updated_at = now()",
                r["job_id"], r["attempt"],
            )
            if r["phase"] in _FEEDS_RESOLVER:
                # New commits or pull request commits: their emails want resolving now, not at the
                # resolver's next regular pass; a resolver job in flight may have read too early.
                await conn.execute(
                    "UPDATE ops.collection_status SET updated_at = now(),"
                    " next_due = CASE WHEN state IN ('done', 'error') THEN least(next_due, now()) ELSE next_due END,"
                    " rerun = state NOT IN ('done', 'error')"
                    " WHERE repo_id = $1 AND phase = $2 AND (state NOT IN ('done', 'error') OR next_due IS NOT NULL)",
                    r["repo_id"], subjects.PHASE_RESOLVER)
            # The streams it finished are at least as far as any checkpoint of an earlier,
            # unfinished pass; other phases' and other streams' checkpoints stay.
            await conn.execute(
                "DELETE FROM ops.checkpoints k USING ops.pending_cursors p"
                " WHERE p.job_id = $1 AND p.attempt = $2 AND k.repo_id = p.repo_id AND k.stream = p.stream",
                r["job_id"], r["attempt"])
            # A repository that answers again (after a forced collection) is active again; one a
            # person removed stays removed, whatever a job that was already running reports. Only
            # a phase that asked the repository's own remote knows (the resolver asks the forge
            # about emails: its success says nothing of a repository that is gone).
            if r["phase"] in _ASKS_THE_REPOSITORY:
                await conn.execute(
                    "UPDATE data.repos SET state = 'active', state_reason = NULL"
                    " WHERE repo_id = $1 AND state NOT IN ('active', 'removed')",
                    r["repo_id"],
                )
            # What dead-lettered this phase before has healed.
            await conn.execute(
                "UPDATE ops.dead_letters SET resolved_at = now()"
                " WHERE repo_id = $1 AND phase = $2 AND kind = 'job' AND resolved_at IS NULL",
                r["repo_id"], r["phase"],
            )
        elif r["error_kind"] in (ErrorKind.NOT_FOUND.value, ErrorKind.BLOCKED.value):
            state = "missing" if r["error_kind"] == ErrorKind.NOT_FOUND.value else "blocked"
            await conn.execute(
                "UPDATE data.repos SET state = $2, state_reason = $3 WHERE repo_id = $1 AND state <> 'removed'",
                r["repo_id"], state, r["last_error"],
            )
    if done:
        finished_jobs = [d.job_id for d in done]
        await conn.execute("DELETE FROM ops.job_messages WHERE job_id = ANY($1::text[])", finished_jobs)
        await conn.execute("DELETE FROM ops.pending_cursors WHERE job_id = ANY($1::text[])", finished_jobs)
        await conn.execute("DELETE FROM ops.pending_checkpoints WHERE job_id = ANY($1::text[])", finished_jobs)
    return done


async def record_scheduled(conn: asyncpg.Connection, events: Iterable[v1.PhaseScheduled]) -> None:
    for e in events:
        # Only a committed job takes its decision: a copy arriving later (a replay, a second
        # scheduler's) finds the phase decided, or already running its next job, and changes nothing.
        await conn.execute(
            "UPDATE ops.collection_status SET state = $4, updated_at = now(), rerun = false,"
            " next_due = CASE WHEN rerun AND $5::timestamptz IS NOT NULL THEN least($5, now()) ELSE $5 END,"
            " last_success_at = CASE WHEN $4 = 'done' THEN coalesce(finished_at, now()) ELSE last_success_at END,"
            " last_error = CASE WHEN $4 = 'done' THEN NULL ELSE last_error END,"
            " failures = coalesce($6, CASE WHEN $4 = 'done' THEN 0 ELSE failures + 1 END)"
            " WHERE repo_id = $1 AND phase = $2 AND job_id = $3 AND state = 'committed'",
            e.repo_id, e.phase, e.job_id, e.state, e.next_due, e.failures,
        )
