"""What the resolver reads: the addresses of a repository's history that no alias explains yet,
and what the database already knows about them. Read-only (the reader role)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from services.resolver.identities import Email, Known
from shared.events import v1

# Every address of the repository's commits with no account yet: never asked, or asked and
# unknown before ``$3``. One commit per address, preferring one it authored.
_UNRESOLVED = """
WITH seen AS (
    SELECT lower(author_email) AS address, 'author' AS role, sha FROM data.commits
    WHERE repo_id = $1 AND author_email <> ''
    UNION ALL
    SELECT lower(committer_email), 'committer', sha FROM data.commits
    WHERE repo_id = $1 AND committer_email <> ''
)
SELECT DISTINCT ON (address) address, role, sha FROM seen s
WHERE NOT EXISTS (SELECT 1 FROM data.contributor_aliases a
                  WHERE a.namespace = $2 AND a.email = s.address AND (a.cntrb_id IS NOT NULL OR a.checked_at > $3))
ORDER BY address, role, sha
"""

_KNOWN = """
SELECT DISTINCT ON (address) address, source, platform_user_id, login, kind, name FROM (
    SELECT lower(p.author_email) AS address, 'pr_commit' AS source, 0 AS pref, c.*
    FROM data.pr_commits p JOIN data.contributors c ON c.cntrb_id = p.author_id
    WHERE lower(p.author_email) = ANY($1::text[])
    UNION ALL
    SELECT lower(p.committer_email), 'pr_commit', 0, c.*
    FROM data.pr_commits p JOIN data.contributors c ON c.cntrb_id = p.committer_id
    WHERE lower(p.committer_email) = ANY($1::text[])
    UNION ALL
    SELECT lower(c.email), 'public_email', 1, c.* FROM data.contributors c WHERE lower(c.email) = ANY($1::text[])
) k
WHERE k.platform = $2
ORDER BY address, pref, platform_user_id
"""

_LOGINS = """
SELECT DISTINCT ON (lower(login)) lower(login) AS key, platform_user_id, login, kind, name
FROM data.contributors WHERE platform = $1 AND lower(login) = ANY($2::text[])
ORDER BY lower(login), platform_user_id
"""


def _user(row: asyncpg.Record) -> v1.User:
    return v1.User(platform_id=row["platform_user_id"], login=row["login"], kind=row["kind"], name=row["name"])


async def unresolved(pool: asyncpg.Pool, repo_id: int, namespace: str, asked_before: datetime) -> list[Email]:
    rows = await pool.fetch(_UNRESOLVED, repo_id, namespace, asked_before)
    return [Email(r["address"], r["sha"], r["role"]) for r in rows]


async def known(pool: asyncpg.Pool, namespace: str, addresses: list[str]) -> dict[str, Known]:
    rows = await pool.fetch(_KNOWN, addresses, namespace) if addresses else []
    return {r["address"]: Known(_user(r), r["source"]) for r in rows}


async def by_login(pool: asyncpg.Pool, namespace: str, logins: list[str]) -> dict[str, v1.User]:
    rows = await pool.fetch(_LOGINS, namespace, logins) if logins else []
    return {r["key"]: _user(r) for r in rows}
