"""Commit activity per repository and per repository group: year, month and ISO week.

Per period: commits, lines added and removed, and distinct authors (lower-cased author
email), by author date in UTC; a merge counts as a commit with no lines; a commit whose
author date git could not read is left out.

When a facade job is committed, :func:`refresh` recomputes that repository's rows (one
GROUP BY over its commits), writes only the rows that differ, and recomputes the group's
rows for exactly the periods whose repository rows changed: distinct authors cannot be
summed across repositories, so those periods are counted again over the group's commits
(one read of them, from the first changed period to the end of the last). Whatever the job
did (commits added, or retracted ones deleted) the recomputation sees it. The cost of a
group's recount grows with the group: a daily update of one repository recounts the current
year of every repository in its group.
:func:`ensure_built` rebuilds everything when ``ops.derived_versions`` says the aggregates
are missing or were computed by an older :data:`VERSION`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

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


def span(periods: Iterable[Period]) -> tuple[datetime, datetime]:
    """From the first period's first moment to the last one's end, in UTC."""
    starts, ends = [], []
    for name, start in periods:
        starts.append(start)
        if name == "year":
            ends.append(date(start.year + 1, 1, 1))
        elif name == "month":
            ends.append(date(start.year + start.month // 12, start.month % 12 + 1, 1))
        else:
            ends.append(start + timedelta(days=7))
    return (datetime.combine(min(starts), time.min, UTC), datetime.combine(max(ends), time.min, UTC))


# ------------------------------------------------------------------ SQL

_JOIN_REPO = "JOIN data.repos r ON r.repo_id = f.repo_id"
_IN_GROUP = ("c.repo_id IN (SELECT repo_id FROM data.repos WHERE repo_group_id = $1)"
             " AND c.author_date >= $2 AND c.author_date < $3")

# One row per commit: its repository, UTC author time, lines (none for a merge) and author.
# The merge test is a probe of the parents' primary key per commit, whatever the planner
# believes about the tables' sizes (a join planned without statistics compared every commit
# with every merge). The OFFSET 0s keep it to one probe per commit, not one per use.
_FACTS = """
SELECT c.repo_id, c.author_date AT TIME ZONE 'UTC' AS t,
       CASE WHEN merge THEN 0 ELSE c.additions END AS added,
       CASE WHEN merge THEN 0 ELSE c.deletions END AS removed,
       nullif(lower(c.author_email), '') AS author
FROM data.commits c,
     LATERAL (SELECT EXISTS (SELECT 1 FROM data.commit_parents m
                             WHERE m.repo_id = c.repo_id AND m.sha = c.sha AND m.position = 2) AS merge
              OFFSET 0) k
WHERE c.author_date IS NOT NULL AND {where}
OFFSET 0"""
# date_trunc('week') starts ISO weeks on Monday; t is UTC, so the session's time zone plays no part.
_PERIODS = """CROSS JOIN LATERAL (VALUES ('year', date_trunc('year', f.t)::date),
                               ('month', date_trunc('month', f.t)::date),
                               ('week', date_trunc('week', f.t)::date)) AS p(period, period_start)"""
_COLUMNS = "period, period_start, commits, lines_added, lines_removed, authors"


def _activity(where: str, owner: str = "", join: str = "") -> str:
    """Rows of ``_COLUMNS`` for the commits ``where`` selects, after an ``owner`` column (an
    expression on the fact ``f`` and what ``join`` adds) if given. Per author first, then per
    period: both steps can hash, where a count(DISTINCT) would sort every (period, commit) row."""
    key = f"{owner} AS owner, " if owner else ""
    outer = "owner, " if owner else ""
    return (f"SELECT {outer}period, period_start, sum(n)::int, sum(added)::bigint, sum(removed)::bigint,"
            f" count(author)::int FROM ("
            f"SELECT {key}p.period, p.period_start, f.author, count(*) AS n, sum(f.added) AS added,"
            f" sum(f.removed) AS removed FROM ({_FACTS.format(where=where)}) f {join} {_PERIODS}"
            f" GROUP BY {'1, ' if owner else ''}p.period, p.period_start, f.author) x"
            f" GROUP BY {outer}period, period_start")


REPO_FRESH = _activity("c.repo_id = $1")

# The group's commits from the first changed period's start to the last one's end, read once
# (the year periods alone cover every commit of the range, so reading per period would read
# them all again for the months and weeks). Periods the span only cuts into are counted too,
# partially, and dropped by the caller, which keeps the changed ones.
GROUP_SPAN = _activity(_IN_GROUP)

_REBUILD = (
    "DELETE FROM data.repo_activity",
    f"INSERT INTO data.repo_activity (repo_id, {_COLUMNS}) {_activity('true', 'f.repo_id')}",
    "DELETE FROM data.repo_group_activity",
    f"INSERT INTO data.repo_group_activity (repo_group_id, {_COLUMNS}) {_activity('true', 'r.repo_group_id', _JOIN_REPO)}",
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
        counted = _rows(await conn.fetch(GROUP_SPAN, group_id, *span(periods)))
        change = diff(_rows(await conn.fetch(GROUPS.stored_sql(only_wanted=True), group_id, *wanted)),
                      {p: counted[p] for p in periods if p in counted})
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
