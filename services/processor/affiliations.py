"""The effective affiliation mappings in ``data.affiliations``, and re-applying them to stored rows.

The processor writes a commit's and a contributor's organisation when it first writes the
row (:func:`shared.affiliations.Matcher.at` / ``current``). When it starts with mappings that
differ from the ones in the table (a new shipped list, an edited user file), it replaces the
table and re-applies the mappings to every stored row in one set-wise UPDATE per table,
touching only the rows whose organisation changes. The SQL below is the matching of
:mod:`shared.affiliations` written for PostgreSQL; tests/integration/test_commit_data.py
checks that the two agree.
"""

from __future__ import annotations

import asyncpg

from services.processor import locks
from shared.affiliations import Mapping

# Re-applying reads every commit: far longer than a batch may take.
REAPPLY_TIMEOUT_S = 6 * 3600.0


def _domain(column: str) -> str:
    """SQL for :func:`shared.affiliations.email_domain` (ASCII lower-casing, as there)."""
    return (f"CASE WHEN strpos({column}, '@') > 0 THEN nullif(rtrim(btrim(translate(split_part({column}, '@', -1),"
            f" 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), ' '), '.'), '') END")


def _candidates(domains: str) -> str:
    """CTEs ``domains`` (distinct, from the query ``domains`` selecting ``d``) and ``candidates``:
    every mapping of every domain or parent domain of each, with its domain's length."""
    return f"""
domains AS (SELECT DISTINCT d FROM ({domains}) x WHERE d IS NOT NULL),
candidates AS (
    SELECT dm.d, a.organization, a.since, length(a.domain) AS len
    FROM domains dm
    CROSS JOIN LATERAL generate_series(1, array_length(string_to_array(dm.d, '.'), 1)) AS i
    JOIN data.affiliations a ON a.domain = array_to_string((string_to_array(dm.d, '.'))[i:], '.')
)"""


def _picked(role: str) -> str:
    """The organisation of the ``role`` (author or committer) address of each commit on its
    date (UTC): the longest matching domain with a mapping in force, its newest one."""
    return f"""
{role} AS (
    SELECT DISTINCT ON (c.commit_id) c.commit_id, k.organization
    FROM data.commits c
    JOIN candidates k ON k.d = {_domain(f"c.{role}_email")}
     AND (k.since IS NULL OR k.since <= (c.{role}_date AT TIME ZONE 'UTC')::date)
    ORDER BY c.commit_id, k.len DESC, k.since DESC NULLS LAST
)"""


REAPPLY_COMMITS = f"""
WITH {_candidates(f"SELECT {_domain('author_email')} AS d FROM data.commits"
                  f" UNION SELECT {_domain('committer_email')} FROM data.commits")},
{_picked("author")},
{_picked("committer")},
fresh AS (
    SELECT c.commit_id, a.organization AS author_org, m.organization AS committer_org
    FROM data.commits c LEFT JOIN author a USING (commit_id) LEFT JOIN committer m USING (commit_id)
)
UPDATE data.commits c SET author_affiliation = f.author_org, committer_affiliation = f.committer_org
FROM fresh f
WHERE f.commit_id = c.commit_id
  AND (c.author_affiliation, c.committer_affiliation) IS DISTINCT FROM (f.author_org, f.committer_org)
"""

# A contributor has no date: the newest mapping of the longest matching domain.
REAPPLY_CONTRIBUTORS = f"""
WITH {_candidates(f"SELECT {_domain('email')} AS d FROM data.contributors")},
picked AS (
    SELECT DISTINCT ON (c.cntrb_id) c.cntrb_id, k.organization
    FROM data.contributors c JOIN candidates k ON k.d = {_domain("c.email")}
    ORDER BY c.cntrb_id, k.len DESC, k.since DESC NULLS LAST
),
fresh AS (SELECT c.cntrb_id, p.organization FROM data.contributors c LEFT JOIN picked p USING (cntrb_id))
UPDATE data.contributors c SET affiliation = f.organization
FROM fresh f
WHERE f.cntrb_id = c.cntrb_id AND c.affiliation IS DISTINCT FROM f.organization
"""


def _row(m: Mapping) -> tuple[object, ...]:
    return m.domain, m.since, m.organization, m.source


async def sync_mappings(conn: asyncpg.Connection, mappings: tuple[Mapping, ...]) -> dict[str, int] | None:
    """Inside the caller's transaction: make ``data.affiliations`` hold ``mappings`` and re-apply
    them if they changed. Returns the rows re-applied per table, or None when nothing changed."""
    await locks.exclusive(conn, locks.AFFILIATIONS)  # replicas starting together: one applies, the rest compare
    stored = {tuple(r) for r in await conn.fetch("SELECT domain, since, organization, source FROM data.affiliations")}
    wanted = [_row(m) for m in mappings]
    if stored == set(wanted):
        return None
    await conn.execute("DELETE FROM data.affiliations")
    if wanted:
        await conn.execute(
            "INSERT INTO data.affiliations (domain, since, organization, source)"
            " SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[])",
            *(list(column) for column in zip(*wanted, strict=True)))
    return {"commits": _count(await conn.execute(REAPPLY_COMMITS, timeout=REAPPLY_TIMEOUT_S)),
            "contributors": _count(await conn.execute(REAPPLY_CONTRIBUTORS, timeout=REAPPLY_TIMEOUT_S))}


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[1])
