"""Ordered, plain-SQL migrations. Applying them twice is harmless."""

from __future__ import annotations

import re
from collections.abc import Collection
from importlib import resources

import asyncpg

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x5761746572  # "Water": serialises concurrent migrators


def migration_files() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) in order."""
    found = []
    for entry in resources.files("shared.db.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return found


async def apply_migrations(dsn: str, *, skip: Collection[int] = ()) -> list[str]:
    """Apply pending migrations; returns the names applied now. Versions in ``skip`` stay
    pending (a benchmark's "before"); a later call applies them."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE SCHEMA IF NOT EXISTS ops;"
                "CREATE TABLE IF NOT EXISTS ops.schema_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM ops.schema_migrations")}
            applied = []
            for version, name, sql in migration_files():
                if version in done or version in skip:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO ops.schema_migrations (version, name) VALUES ($1, $2)", version, name
                    )
                applied.append(name)
            return applied
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
