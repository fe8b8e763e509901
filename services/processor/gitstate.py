"""Facade facts that are not commit rows: retracted commits and the state of the clone.

A retraction deletes rows, so where it falls in the stream matters: a commit observed before
it in the same batch must go, one observed after it (the history came back) must stay.
:func:`in_order` cuts a batch at every retraction and the processor applies the parts one after
the other, in the batch's transaction. Deleting what is not there deletes nothing, so a
retraction applied twice, or a replay of the repository's events, leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from shared.events import v1
from shared.text import clean

Part = list[v1.JobEvent] | v1.CommitsRetracted

# The clone was read: every field is current.
SYNCED = ("ok", "empty")


def in_order(events: Sequence[v1.JobEvent]) -> list[Part]:
    """The batch as runs of ordinary events separated by retractions, order kept. A batch
    without retractions is one part: the usual single set-based write."""
    parts: list[Part] = []
    run: list[v1.JobEvent] = []
    for event in events:
        if isinstance(event, v1.CommitsRetracted):
            if run:
                parts.append(run)
                run = []
            parts.append(event)
        else:
            run.append(event)
    if run:
        parts.append(run)
    return parts


async def retract_commits(conn: asyncpg.Connection, event: v1.CommitsRetracted) -> int:
    """Delete the repository's rows of these commits; returns the commits deleted. Tables keyed
    on data.commits (parents, messages) follow by ON DELETE CASCADE; data.commit_files has no
    foreign key to it, so its rows go here."""
    if not event.shas:
        return 0
    await conn.execute("DELETE FROM data.commit_files WHERE repo_id = $1 AND sha = ANY($2::text[])",
                       event.repo_id, event.shas)
    return int(await conn.fetchval(
        "WITH gone AS (DELETE FROM data.commits WHERE repo_id = $1 AND sha = ANY($2::text[]) RETURNING 1)"
        " SELECT count(*) FROM gone",
        event.repo_id, event.shas,
    ))


_SYNCED_SQL = """
INSERT INTO data.repo_clones (repo_id, state, error, default_branch, head_sha, branches, tracked_refs, all_branches,
                              disk_bytes, observed_at, synced_at)
VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, $9, $9)
ON CONFLICT (repo_id) DO UPDATE SET state = excluded.state, error = NULL, default_branch = excluded.default_branch,
    head_sha = excluded.head_sha, branches = excluded.branches, tracked_refs = excluded.tracked_refs,
    all_branches = excluded.all_branches, disk_bytes = excluded.disk_bytes, observed_at = excluded.observed_at,
    synced_at = excluded.synced_at, updated_at = now()
WHERE data.repo_clones.observed_at <= excluded.observed_at
"""

# A failed sync changed nothing on disk: only the state and its reason move.
_FAILED_SQL = """
INSERT INTO data.repo_clones (repo_id, state, error, observed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (repo_id) DO UPDATE SET state = excluded.state, error = excluded.error,
    observed_at = excluded.observed_at, updated_at = now()
WHERE data.repo_clones.observed_at <= excluded.observed_at
"""


async def record_clones(conn: asyncpg.Connection, events: Iterable[v1.CloneObserved]) -> int:
    """Each repository's clone state; an older observation (a late redelivery) never overrides
    a newer one."""
    count = 0
    for e in events:
        if e.state in SYNCED:
            await conn.execute(_SYNCED_SQL, e.repo_id, e.state, clean(e.default_branch), e.head_sha, e.branches, e.tracked,
                               e.all_branches, e.disk_bytes, e.observed_at)
        else:
            await conn.execute(_FAILED_SQL, e.repo_id, e.state, clean(e.error), e.observed_at)
        count += 1
    return count
