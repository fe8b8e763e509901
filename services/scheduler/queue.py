"""The queue as the scheduler reads it (PostgreSQL, read-only; the processor writes it).

Every query of a tick is bounded and index-backed (migration 0008), so a tick costs the same
with 100 or 100,000 registered repositories:

- due entries per phase, in queue order, ``LIMIT`` the phase's budget
  (``collection_status_queue``: phase, urgent, priority, next_due over the waiting states);
- phases committed and waiting for their decision (``collection_status_committed``);
- queued and running jobs per phase, and the stuck ones (``collection_status_in_flight``);
- repositories registered since the last look that have no entry yet (``repos_registered``).

A sweep over every repository (at start, then every few minutes) finds the phases no entry
exists for at all: repositories rebuilt by a replay, or a phase a new version adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from services.scheduler.policy import IN_FLIGHT, PLATFORM_PHASES, Entry, phases_for

REPO_COLUMNS = "r.repo_id, r.url, r.platform, r.host, r.owner, r.name, r.registered_at"

# The repository's state is looked up per entry (a scalar subquery, never a join the planner
# could turn into a scan of every repository), in queue order, until the budget is filled.
_ACTIVE = "(SELECT r.state FROM data.repos r WHERE r.repo_id = s.repo_id) = 'active'"

_DUE = f"""
SELECT {REPO_COLUMNS}, s.phase, s.next_due, s.priority, s.urgent
FROM (SELECT s.repo_id, s.phase, s.next_due, s.priority, s.urgent FROM ops.collection_status s
      WHERE s.phase = $1 AND s.state IN ('new', 'done', 'error') AND s.next_due <= $2 AND {_ACTIVE}
      ORDER BY s.urgent DESC, s.priority DESC, s.next_due
      LIMIT $3) s
JOIN data.repos r ON r.repo_id = s.repo_id
ORDER BY s.urgent DESC, s.priority DESC, s.next_due
"""

_COMMITTED = """
SELECT s.repo_id, s.phase, s.job_id, s.error_kind, s.failures,
       coalesce(rs.recollect_interval_s, gs.recollect_interval_s) AS interval_s
FROM ops.collection_status s
JOIN data.repos r ON r.repo_id = s.repo_id
LEFT JOIN ops.repo_settings rs ON rs.repo_id = s.repo_id
LEFT JOIN ops.group_settings gs ON gs.repo_group_id = r.repo_group_id
WHERE s.state = 'committed'
LIMIT $1
"""

_IN_FLIGHT = f"""
SELECT phase, count(*) AS n FROM ops.collection_status
WHERE state IN ({", ".join(f"'{s}'" for s in IN_FLIGHT)}) GROUP BY phase
"""

_STUCK = f"""
SELECT {REPO_COLUMNS}, s.phase, s.updated_at, s.priority, s.urgent
FROM (SELECT s.repo_id, s.phase, s.updated_at, s.priority, s.urgent FROM ops.collection_status s
      WHERE s.phase = $1 AND s.state IN ({", ".join(f"'{s}'" for s in IN_FLIGHT)}) AND s.updated_at <= $2 AND {_ACTIVE}
      ORDER BY s.updated_at
      LIMIT $3) s
JOIN data.repos r ON r.repo_id = s.repo_id
"""

_NEW = f"""
SELECT {REPO_COLUMNS}, coalesce(rs.priority, gs.priority, 0) AS priority
FROM data.repos r
LEFT JOIN ops.repo_settings rs ON rs.repo_id = r.repo_id
LEFT JOIN ops.group_settings gs ON gs.repo_group_id = r.repo_group_id
WHERE r.state = 'active' AND r.registered_at >= $1
  AND NOT EXISTS (SELECT 1 FROM ops.collection_status s WHERE s.repo_id = r.repo_id)
ORDER BY r.registered_at
LIMIT $2
"""

# Repositories with fewer entries than their platform has phases ($1, $2: platform, phase count;
# $3: the count of any other platform). One pass over both tables; only the few short ones return.
_SWEEP = f"""
WITH counts AS (SELECT repo_id, array_agg(phase) AS phases FROM ops.collection_status GROUP BY repo_id)
SELECT {REPO_COLUMNS}, coalesce(rs.priority, gs.priority, 0) AS priority, coalesce(c.phases, '{{}}') AS phases
FROM data.repos r
LEFT JOIN counts c ON c.repo_id = r.repo_id
LEFT JOIN unnest($1::text[], $2::int[]) AS p(platform, n) ON p.platform = r.platform
LEFT JOIN ops.repo_settings rs ON rs.repo_id = r.repo_id
LEFT JOIN ops.group_settings gs ON gs.repo_group_id = r.repo_group_id
WHERE r.state = 'active' AND coalesce(cardinality(c.phases), 0) < coalesce(p.n, $3)
"""

# Registrations commit after their transaction's now(): look this far back for them.
VISIBILITY_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True)
class Repo:
    repo_id: int
    url: str
    platform: str
    host: str
    owner: str
    name: str
    registered_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> Repo:
        return cls(row["repo_id"], row["url"], row["platform"], row["host"], row["owner"], row["name"],
                   row["registered_at"])


@dataclass(frozen=True)
class Committed:
    repo_id: int
    phase: str
    job_id: str
    error_kind: str | None
    failures: int
    interval_s: float | None  # the repository's or its group's; None: the global default


class QueueReader:
    """The queries of a tick, and what the scheduler remembers between ticks: where it looked
    for new repositories last, and the phases without an entry that wait for their turn."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.watermark: datetime | None = None
        self.missing: dict[tuple[int, str], tuple[Entry, Repo]] = {}

    async def committed(self, limit: int) -> list[Committed]:
        rows = await self.pool.fetch(_COMMITTED, limit)
        return [Committed(r["repo_id"], r["phase"], r["job_id"], r["error_kind"], r["failures"], r["interval_s"])
                for r in rows]

    async def in_flight(self) -> dict[str, int]:
        return {r["phase"]: r["n"] for r in await self.pool.fetch(_IN_FLIGHT)}

    async def due(self, phase: str, now: datetime, limit: int) -> list[tuple[Entry, Repo]]:
        if limit <= 0:
            return []
        rows = await self.pool.fetch(_DUE, phase, now, limit)
        return [(Entry(repo_id=r["repo_id"], phase=phase, due=r["next_due"], priority=r["priority"],
                       urgent=r["urgent"]), Repo.of(r)) for r in rows]

    async def stuck(self, phase: str, before: datetime, limit: int) -> list[tuple[Entry, Repo]]:
        rows = await self.pool.fetch(_STUCK, phase, before, limit)
        # Named by when it stopped moving: every replica names the re-dispatch alike.
        return [(Entry(repo_id=r["repo_id"], phase=phase, due=r["updated_at"], priority=r["priority"],
                       urgent=r["urgent"], stuck=True), Repo.of(r)) for r in rows]

    async def new_repositories(self, limit: int) -> list[tuple[Entry, Repo]]:
        """Phases of repositories registered since the last look, which have no entry yet."""
        async with self.pool.acquire() as conn:
            now = await conn.fetchval("SELECT now()")
            since = self.watermark if self.watermark is not None else now - VISIBILITY_MARGIN
            rows = await conn.fetch(_NEW, since, limit)
        if len(rows) < limit:
            # Everything registered since ``since`` was seen; what is not dispatched now has an
            # entry in ``missing`` until it is.
            self.watermark = now - VISIBILITY_MARGIN
        found: list[tuple[Entry, Repo]] = []
        for r in rows:
            repo = Repo.of(r)
            found.extend((Entry(repo_id=repo.repo_id, phase=phase, due=repo.registered_at, priority=r["priority"]),
                          repo) for phase in phases_for(repo.platform))
        for entry, repo in found:
            self.missing.setdefault((entry.repo_id, entry.phase), (entry, repo))
        return found

    async def sweep(self) -> int:
        """Every active repository's phases that have no entry; returns how many were found."""
        found = 0
        platforms = sorted(PLATFORM_PHASES)
        rows = await self.pool.fetch(_SWEEP, platforms, [len(PLATFORM_PHASES[p]) for p in platforms],
                                     len(phases_for("")))
        for r in rows:
            repo = Repo.of(r)
            for phase in phases_for(repo.platform):
                if phase not in r["phases"] and (repo.repo_id, phase) not in self.missing:
                    self.missing[(repo.repo_id, phase)] = (
                        Entry(repo_id=repo.repo_id, phase=phase, due=repo.registered_at, priority=r["priority"]), repo)
                    found += 1
        return found

    async def still_missing(self, entries: list[Entry]) -> list[Entry]:
        """Of these entries without a status row when found, the ones that still have none (another
        replica may have dispatched them since: dispatching again would run a finished job)."""
        # Only the entries that came from ``missing`` (a due entry of the same phase, e.g. one just
        # prioritized, has its row: that is what it was read from).
        keys = [(e.repo_id, e.phase) for e in entries if self.missing.get((e.repo_id, e.phase), (None,))[0] is e]
        if not keys:
            return entries
        rows = await self.pool.fetch(
            "SELECT repo_id, phase FROM ops.collection_status s"
            " JOIN unnest($1::int[], $2::text[]) AS k(r, p) ON s.repo_id = k.r AND s.phase = k.p",
            [k[0] for k in keys], [k[1] for k in keys])
        taken = {(r["repo_id"], r["phase"]) for r in rows}
        for key in taken:
            self.missing.pop(key, None)
        return [e for e in entries if (e.repo_id, e.phase) not in taken]

    def dispatched(self, entries: list[Entry]) -> None:
        for entry in entries:
            self.missing.pop((entry.repo_id, entry.phase), None)
