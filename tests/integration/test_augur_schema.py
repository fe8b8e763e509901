"""The Augur-compatible layer has Augur's relations, with Augur's column names, order and types
(tests/fixtures/augur/schema.json, transcribed from Augur), on a real PostgreSQL; its
materialized views can be refreshed concurrently; its migration can run twice."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from shared.db import apply_migrations
from shared.db.augur import EXPLORER_VIEWS, refresh_explorer_views
from shared.db.migrate import migration_files

pytestmark = pytest.mark.integration

AUGUR = json.loads((Path(__file__).parent.parent / "fixtures" / "augur" / "schema.json").read_text())["relations"]
# Our repository, group, issue and pull request keys are 32-bit (8Knot binds and caches them as
# int); Augur declares them bigint. Every other column has Augur's type exactly.
NARROWED_KEYS = {"repo_id", "repo_group_id", "issue_id", "pull_request_id", "id"}


def expected_type(column: str, augur_type: str) -> str:
    return "integer" if column in NARROWED_KEYS and augur_type == "bigint" else augur_type


async def columns(conn: asyncpg.Connection, relation: str) -> list[tuple[str, str]]:
    rows = await conn.fetch(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
        " WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        f"augur_data.{relation}")
    return [(r[0], r[1]) for r in rows]


async def test_every_augur_relation_has_augurs_columns_in_order_with_augurs_types(fresh_database_url: str) -> None:
    await apply_migrations(fresh_database_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        mismatches = {}
        for relation, augur_columns in AUGUR.items():
            ours = await columns(conn, relation)
            want = [(name, expected_type(name, typ)) for name, typ in augur_columns]
            if ours != want:
                mismatches[relation] = [(i, o, w) for i, (o, w) in
                                        enumerate(zip(ours + [None] * len(want), want + [None] * len(ours), strict=False))
                                        if o != w][:5]
        assert not mismatches, json.dumps(mismatches, indent=1, default=str)

        matviews = {r[0] for r in await conn.fetch(
            "SELECT matviewname FROM pg_matviews WHERE schemaname = 'augur_data'")}
        assert matviews == set(EXPLORER_VIEWS) == {r for r in AUGUR if r.startswith("explorer_")}
    finally:
        await conn.close()


async def test_explorer_views_refresh_concurrently_and_the_migration_runs_twice(fresh_database_url: str) -> None:
    await apply_migrations(fresh_database_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        for view in EXPLORER_VIEWS:
            # A unique index on plain columns covering every row: what CONCURRENTLY needs.
            unique = await conn.fetchval(
                "SELECT count(*) FROM pg_index i WHERE i.indrelid = to_regclass($1) AND i.indisunique"
                " AND i.indexprs IS NULL AND i.indpred IS NULL", f"augur_data.{view}")
            assert unique == 1, view
        # The processor's role refreshes views it does not own; a reader may not.
        await conn.execute("SET ROLE watershed_writer")
        await refresh_explorer_views(conn)  # first time: plain (the views are created empty)
        await refresh_explorer_views(conn)  # then concurrently
        await conn.execute("SELECT augur_data.refresh_explorer_views()")
        await conn.execute("SET ROLE watershed_reader")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SELECT augur_data.refresh_explorer_views()")
        await conn.execute("RESET ROLE")

        [(_, name, sql)] = [m for m in migration_files() if m[1] == "0012_augur_compat.sql"]
        async with conn.transaction():
            await conn.execute(sql)
        assert await columns(conn, "commits") == [(n, expected_type(n, t)) for n, t in AUGUR["commits"]]
        assert await conn.fetchval("SELECT count(*) FROM augur_data.explorer_contributor_actions") == 0
    finally:
        await conn.close()
