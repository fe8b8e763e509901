"""Connection pools. Every pool but the processor's runs as the read-only role."""

from __future__ import annotations

import enum
import logging

import asyncpg

log = logging.getLogger("watershed.db")


class Role(str, enum.Enum):
    READER = "watershed_reader"
    WRITER = "watershed_writer"


async def _set_role(conn: asyncpg.Connection, role: Role) -> None:
    try:
        await conn.execute(f"SET ROLE {role.value}")
    except (asyncpg.UndefinedObjectError, asyncpg.InsufficientPrivilegeError) as exc:
        # Roles come from a migration that needs CREATEROLE; without them the
        # database cannot enforce read-only access, so say so once per connection.
        log.warning("db.role_unavailable role=%s reason=%s", role.value, type(exc).__name__)


async def connect_pool(dsn: str, *, role: Role, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    async def init(conn: asyncpg.Connection) -> None:
        await _set_role(conn, role)

    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init, command_timeout=300,
        server_settings={"application_name": f"watershed-{role.name.lower()}"},
    )
    assert pool is not None
    return pool
