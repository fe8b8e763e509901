"""Commit activity per repository and per repository group: year, month and ISO week.

Per period: commits, lines added and removed, and distinct authors (lower-cased author
email), by author date in UTC; a merge counts as a commit with no lines; a commit whose
author date git could not read is left out.

When a facade job is committed, :func:`refresh` recomputes that repository's rows (one
GROUP BY over its commits), writes only the rows that differ, and recomputes the group's
rows for exactly the periods whose repository rows changed: distinct authors cannot be
summed across repositories, so those periods are counted again over the group's commits.
Whatever the job did (commits added, or retracted ones deleted) the recomputation sees it.
:func:`ensure_built` rebuilds everything when ``ops.derived_versions`` says the aggregates
are missing or were computed by an older :data:`VERSION`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

import asyncpg

from services.processor import locks

VERSION = 1  # bump when what the rows mean changes: the next processor start rebuilds them
NAME = "activity"
# A rebuild reads every commit: far longer than a batch may take.
REBUILD_TIMEOUT_S = 6 * 3600.0

Period = tuple[str, date]  # ("year" | "month" | "week", first day)
Measures = tuple[int, int, int, int]  # commits, lines added, lines removed, authors


# ------------------------------------------------------------------ pure


@dataclass
class Diff:
    upserts: list[tuple[Period, Measures]] = field(default_factory=list)
    deletes: list[Period] = field(default_factory=list)

    @property
    def changed(self) -> set[Period]:
        return {p for p, _ in self.upserts} | set(self.deletes)


def diff(stored: Mapping[Period, Measures], fresh: Mapping[Period, Measures]) -> Diff:
    """What turns ``stored`` into ``fresh``: new or different rows, and rows with no commits left."""
    result = Diff()
    for period in sorted(fresh):
        if stored.get(period) != fresh[period]:
            result.upserts.append((period, fresh[period]))
    result.deletes = sorted(p for p in stored if p not in fresh)
    return result


# ------------------------------------------------------------------ SQL

# One row per commit: its repository, UTC author time, lines (none for a merge) and author.
_FACTS = """
SELECT c.repo_id, c.author_date AT TIME ZONE 'UTC' AS t,
       CASE WHEN m.sha IS NULL THEN c.additions ELSE 0 END AS added,
       CASE WHEN m.sha IS NULL THEN c.deletions ELSE 0 END AS removed,
       nullif(lower(c.author_email), '') AS author
FROM data.commits c
LEFT JOIN data.commit_parents m ON m.repo_id = c.repo_id AND m.sha = c.sha AND m.position = 2
WHERE c.author_date IS NOT NULL AND {where}"""
# date_trunc('week') starts ISO weeks on Monday; t is UTC, so the session's time zone plays no part.
_PERIODS = """CROSS JOIN LATERAL (VALUES ('year', date_trunc('year', f.t)::date),
                               ('month', date_trunc('month', f.t)::date),
                               ('week', date_trunc('week', f.t)::date)) AS p(period, period_start)"""
_MEASURES = ("count(*)::int, coalesce(sum(f.added), 0)::bigint, coalesce(sum(f.removed), 0)::bigint,"
             " count(DISTINCT f.author)::int")
_COLUMNS = "period, period_start, commits, lines_added, lines_removed, authors"

REPO_FRESH = (f"SELECT p.period, p.period_start, {_MEASURES} FROM ({_FACTS.format(where='c.repo_id = $1')}) f"
              f" {_PERIODS} GROUP BY p.period, p.period_start")

_IN_GROUP_AND_PERIOD = ("c.repo_id IN (SELECT repo_id FROM data.repos WHERE repo_group_id = $1)"
                        " AND c.author_date >= w.lo AND c.author_date < w.hi")
GROUP_FRESH = f"""
WITH wanted AS (
    SELECT w.period, w.period_start, w.period_start::timestamp AT TIME ZONE 'UTC' AS lo,
           (w.period_start + CASE w.period WHEN 'year' THEN interval '1 year'
                                           WHEN 'month' THEN interval '1 month'
                                           ELSE interval '1 week' END) AT TIME ZONE 'UTC' AS hi
    FROM unnest($2::text[], $3::date[]) AS w(period, period_start)
)
SELECT w.period, w.period_start, {_MEASURES}
FROM wanted w
JOIN LATERAL ({_FACTS.format(where=_IN_GROUP_AND_PERIOD)}) f ON true
GROUP BY w.period, w.period_start"""

_REBUILD = (
    "DELETE FROM data.repo_activity",
    f"INSERT INTO data.repo_activity (repo_id, {_COLUMNS})"
    f" SELECT f.repo_id, p.period, p.period_start, {_MEASURES} FROM ({_FACTS.format(where='true')}) f {_PERIODS}"
    " GROUP BY f.repo_id, p.period, p.period_start",
    "DELETE FROM data.repo_group_activity",
    f"INSERT INTO data.repo_group_activity (repo_group_id, {_COLUMNS})"
    f" SELECT r.repo_group_id, p.period, p.period_start, {_MEASURES}"
    f" FROM ({_FACTS.format(where='true')}) f JOIN data.repos r USING (repo_id) {_PERIODS}"
    " GROUP BY r.repo_group_id, p.period, p.period_start",
)


@dataclass(frozen=True)
class _Table:
    name: str
    owner: str  # the column that says whose rows they are

    def stored_sql(self, *, only_wanted: bool) -> str:
        sql = f"SELECT {_COLUMNS} FROM {self.name} WHERE {self.owner} = $1"
        if only_wanted:
            sql += " AND (period, period_start) IN (SELECT * FROM unnest($2::text[], $3::date[]))"
        return sql

    async def write(self, conn: asyncpg.Connection, owner_id: int, change: Diff) -> None:
        if change.deletes:
            await conn.execute(
                f"DELETE FROM {self.name} WHERE {self.owner} = $1"
                " AND (period, period_start) IN (SELECT * FROM unnest($2::text[], $3::date[]))",
                owner_id, *_periods(change.deletes))
        if change.upserts:
            periods, measures = zip(*change.upserts, strict=True)
            await conn.execute(
                f"INSERT INTO {self.name} ({self.owner}, {_COLUMNS}) SELECT $1::int, u.*"
                " FROM unnest($2::text[], $3::date[], $4::int[], $5::bigint[], $6::bigint[], $7::int[]) AS u"
                f" ON CONFLICT ({self.owner}, period, period_start) DO UPDATE SET commits = excluded.commits,"
                " lines_added = excluded.lines_added, lines_removed = excluded.lines_removed,"
                " authors = excluded.authors",
                owner_id, *_periods(periods), *(list(column) for column in zip(*measures, strict=True)))


REPOS = _Table("data.repo_activity", "repo_id")
GROUPS = _Table("data.repo_group_activity", "repo_group_id")


def _periods(periods: Iterable[Period]) -> tuple[list[str], list[date]]:
    names, starts = [], []
    for name, start in periods:
        names.append(name)
        starts.append(start)
    return names, starts


def _rows(records: Iterable[asyncpg.Record]) -> dict[Period, Measures]:
    return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in records}


# ------------------------------------------------------------------ I/O


async def refresh(conn: asyncpg.Connection, repo_ids: Iterable[int]) -> dict[str, int]:
    """Inside the caller's transaction, after the repositories' rows are written: recompute
    their activity and their groups' changed periods. Returns the rows changed per table."""
    repo_ids = sorted(set(repo_ids))
    written = {"repo_activity": 0, "repo_group_activity": 0}
    if not repo_ids:
        return written
    await locks.shared(conn, locks.ACTIVITY_REBUILD)
    group_of = dict(await conn.fetch("SELECT repo_id, repo_group_id FROM data.repos WHERE repo_id = ANY($1::int[])",
                                     repo_ids))
    changed: dict[int, set[Period]] = {}
    for repo_id in repo_ids:
        if repo_id not in group_of:
            continue  # deleted meanwhile: its rows went with it
        change = diff(_rows(await conn.fetch(REPOS.stored_sql(only_wanted=False), repo_id)),
                      _rows(await conn.fetch(REPO_FRESH, repo_id)))
        await REPOS.write(conn, repo_id, change)
        written["repo_activity"] += len(change.upserts) + len(change.deletes)
        changed.setdefault(group_of[repo_id], set()).update(change.changed)
    # Another replica may be counting the same group: whoever waits here counts after the
    # other's commits are visible, so the last count includes both.
    await locks.group_activity(conn, [g for g, periods in changed.items() if periods])
    for group_id, periods in sorted(changed.items()):
        if not periods:
            continue
        wanted = _periods(sorted(periods))
        change = diff(_rows(await conn.fetch(GROUPS.stored_sql(only_wanted=True), group_id, *wanted)),
                      _rows(await conn.fetch(GROUP_FRESH, group_id, *wanted)))
        await GROUPS.write(conn, group_id, change)
        written["repo_group_activity"] += len(change.upserts) + len(change.deletes)
    return written


async def rebuild(conn: asyncpg.Connection) -> None:
    """Inside the caller's transaction: every activity row recomputed from the commits."""
    await locks.exclusive(conn, locks.ACTIVITY_REBUILD)
    for statement in _REBUILD:
        await conn.execute(statement, timeout=REBUILD_TIMEOUT_S)
    await conn.execute(
        "INSERT INTO ops.derived_versions (name, version, built_at) VALUES ($1, $2, now())"
        " ON CONFLICT (name) DO UPDATE SET version = excluded.version, built_at = excluded.built_at",
        NAME, VERSION)


async def ensure_built(conn: asyncpg.Connection) -> bool:
    """Inside the caller's transaction: rebuild unless the stored version is current; True if rebuilt."""
    query = "SELECT version FROM ops.derived_versions WHERE name = $1"
    if (await conn.fetchval(query, NAME) or 0) >= VERSION:
        return False
    await locks.exclusive(conn, locks.ACTIVITY_REBUILD)
    if (await conn.fetchval(query, NAME) or 0) >= VERSION:
        return False  # another replica rebuilt while this one waited
    await rebuild(conn)
    return True
