"""Transaction-scoped advisory locks of the processor, named in one place so no two collide.

Rows of one repository have one writer (rule 4), but a few derived rows are shared between
repositories and so between processor replicas: the effective affiliation mappings, and the
activity aggregates of a repository group. Each is computed under its own lock, which
PostgreSQL releases at commit or rollback.
"""

from __future__ import annotations

import asyncpg

# Two-integer keys: (class, object). The migrator uses the one-bigint form, a separate key space.
_PROCESSOR = 0x57415445  # "WATE"
AFFILIATIONS = (_PROCESSOR, 1)
ACTIVITY_REBUILD = (_PROCESSOR, 2)
_GROUP_ACTIVITY = _PROCESSOR + 1  # object: the repo_group_id


async def exclusive(conn: asyncpg.Connection, key: tuple[int, int]) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", *key)


async def shared(conn: asyncpg.Connection, key: tuple[int, int]) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock_shared($1, $2)", *key)


async def group_activity(conn: asyncpg.Connection, group_ids: list[int]) -> None:
    """Lock the groups in ascending order: two transactions never wait on each other in a circle."""
    for group_id in sorted(set(group_ids)):
        await exclusive(conn, (_GROUP_ACTIVITY, group_id))
