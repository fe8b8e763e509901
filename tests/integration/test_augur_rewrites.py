"""Migrations 0013 and 0014 change how the Augur layer computes its relations, not what they
hold: on a synthetic history (bench/synthetic.py) every rewritten relation has exactly the rows
0012's definition gives, and both migrations can run again."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from bench.synthetic import Shape, load
from shared.db import apply_migrations
from shared.db.augur import refresh_explorer_views
from shared.db.migrate import migration_files

pytestmark = pytest.mark.integration

REWRITTEN = ("commits", "contributors_aliases", "message", "explorer_contributor_actions")


def sql_of(version: int) -> str:
    [sql] = [sql for v, _, sql in migration_files() if v == version]
    return sql


async def digest(conn: asyncpg.Connection, relation: str) -> tuple[str, int]:
    row = await conn.fetchrow(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)), count(*) FROM {relation} t")
    return row[0], row[1]


async def in_rolled_back_transaction(conn: asyncpg.Connection,
                                     work: Callable[[], Awaitable[dict[str, tuple[str, int]]]]) -> dict[str, tuple[str, int]]:
    tx = conn.transaction()
    await tx.start()
    try:
        return await work()
    finally:
        await tx.rollback()


async def test_the_rewritten_relations_hold_the_rows_0012_defined(fresh_database_url: str) -> None:
    await apply_migrations(fresh_database_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await load(conn, Shape(repos=15, seed=5))
        await conn.execute("ANALYZE")
        await refresh_explorer_views(conn)
        now = {name: await digest(conn, f"augur_data.{name}") for name in REWRITTEN}
        assert all(count > 0 for _, count in now.values()), now
        # Every source of addresses reaches the aliases: the resolver's, public emails it does not
        # know, addresses of pull request commits neither knows.
        sources = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE EXISTS (SELECT 1 FROM data.contributor_aliases b"
            "                                      WHERE lower(b.email) = lower(a.alias_email))) AS resolver,"
            "       count(*) FILTER (WHERE EXISTS (SELECT 1 FROM data.contributors c WHERE c.email = a.alias_email)"
            "                        AND NOT EXISTS (SELECT 1 FROM data.contributor_aliases b"
            "                                        WHERE lower(b.email) = lower(a.alias_email))) AS public,"
            "       count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM data.contributors c"
            "                                          WHERE lower(c.email) = lower(a.alias_email))"
            "                        AND NOT EXISTS (SELECT 1 FROM data.contributor_aliases b"
            "                                        WHERE lower(b.email) = lower(a.alias_email))) AS pr_commits"
            " FROM augur_data.contributors_aliases a")
        assert all(n > 0 for n in sources.values()), dict(sources)

        actions_0012 = re.search(r"CREATE MATERIALIZED VIEW IF NOT EXISTS augur_data\.explorer_contributor_actions AS\n"
                                 r"(.*?)\nWITH NO DATA;", sql_of(12), re.S)
        assert actions_0012 is not None

        async def as_0012() -> dict[str, tuple[str, int]]:
            await conn.execute(sql_of(12))  # its views replace 0014's; its materialized views exist already
            found = {name: await digest(conn, f"augur_data.{name}") for name in REWRITTEN[:-1]}
            found["explorer_contributor_actions"] = await digest(conn, f"({actions_0012.group(1)})")
            return found

        assert await in_rolled_back_transaction(conn, as_0012) == now

        async def again() -> dict[str, tuple[str, int]]:
            await conn.execute(sql_of(13))
            await conn.execute(sql_of(14))  # refills the populated materialized view
            return {name: await digest(conn, f"augur_data.{name}") for name in REWRITTEN}

        assert await in_rolled_back_transaction(conn, again) == now
    finally:
        await conn.close()


async def test_a_database_migrated_without_them_gets_both_and_keeps_its_explorer_rows(fresh_database_url: str) -> None:
    # As a deployment that ran 0015 before 0013 and 0014 existed: versions apply by number, gaps
    # and late arrivals alike.
    assert await apply_migrations(fresh_database_url, skip={13, 14})
    conn = await asyncpg.connect(fresh_database_url)
    try:
        await load(conn, Shape(repos=8, seed=2))
        await refresh_explorer_views(conn)
        before = await digest(conn, "augur_data.explorer_contributor_actions")

        assert await apply_migrations(fresh_database_url) == ["0013_analytics_indexes.sql", "0014_analytics_views.sql"]
        # 8Knot never finds the recreated view empty: 0014 refills it.
        assert await digest(conn, "augur_data.explorer_contributor_actions") == before and before[1] > 0
        await refresh_explorer_views(conn)  # concurrently, on the recreated view's unique index
        assert await digest(conn, "augur_data.explorer_contributor_actions") == before
    finally:
        await conn.close()
