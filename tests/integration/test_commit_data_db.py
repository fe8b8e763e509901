"""Commit data on a real PostgreSQL, below the pipeline: migration 0007 moves existing rows,
re-applied affiliation mappings agree with the Python matcher on awkward addresses and
dates, and the activity aggregates follow deleted commits and survive a rebuild unchanged."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import asyncpg
import pytest

from services.processor import activity
from services.processor.affiliations import sync_mappings
from shared.affiliations import Matcher, default_mappings, merge, parse_mappings
from shared.db import apply_migrations, migration_files
from tests.integration.expected_activity import CommitFact, expected_activity

pytestmark = pytest.mark.integration

T0 = datetime(2021, 12, 31, 23, 30, tzinfo=UTC)


async def connect_migrated(dsn: str, *, below: int | None = None) -> asyncpg.Connection:
    if below is None:
        await apply_migrations(dsn)
    conn = await asyncpg.connect(dsn)
    if below is not None:
        # The schema as a deployment had it before `below`, recorded as applied.
        await conn.execute("CREATE SCHEMA IF NOT EXISTS ops; CREATE TABLE ops.schema_migrations ("
                           " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz DEFAULT now())")
        for version, name, sql in migration_files():
            if version < below:
                await conn.execute(sql)
                await conn.execute("INSERT INTO ops.schema_migrations (version, name) VALUES ($1, $2)", version, name)
    return conn


async def add_repo(conn: asyncpg.Connection, url: str, group: str = "default") -> int:
    gid = await conn.fetchval("INSERT INTO data.repo_groups (name) VALUES ($1) ON CONFLICT (name)"
                              " DO UPDATE SET name = excluded.name RETURNING repo_group_id", group)
    return await conn.fetchval("INSERT INTO data.repos (url, platform, host, repo_group_id)"
                               " VALUES ($1, 'git', 'example.org', $2) RETURNING repo_id", url, gid)


async def test_migration_moves_parents_and_messages(fresh_database_url: str) -> None:
    conn = await connect_migrated(fresh_database_url, below=7)
    try:
        rid = await add_repo(conn, "https://example.org/old.git")
        await conn.executemany(
            "INSERT INTO data.commits (repo_id, sha, parents, author_email, author_date, message, additions, deletions)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [(rid, "a" * 40, [], "Ann@RedHat.com", T0, "root\n\nbody", 5, 0),
             (rid, "b" * 40, ["a" * 40], "bob@gmail.com", T0 + timedelta(days=1), None, 2, 1),
             (rid, "m" * 40, ["b" * 40, "c" * 40], "ann@redhat.com", T0 + timedelta(days=2), "Merge", 4, 4)])

        await apply_migrations(fresh_database_url)
        assert await apply_migrations(fresh_database_url) == []
        parents = [tuple(r) for r in await conn.fetch(
            "SELECT sha, parent_sha, position FROM data.commit_parents ORDER BY sha, position")]
        assert parents == [("b" * 40, "a" * 40, 1), ("m" * 40, "b" * 40, 1), ("m" * 40, "c" * 40, 2)]
        messages = dict(await conn.fetch("SELECT sha, message FROM data.commit_messages"))
        assert messages == {"a" * 40: "root\n\nbody", "b" * 40: "", "m" * 40: "Merge"}
        columns = {r[0] for r in await conn.fetch("SELECT column_name FROM information_schema.columns"
                                                  " WHERE table_schema = 'data' AND table_name = 'commits'")}
        assert not {"parents", "message"} & columns
        assert {"author_affiliation", "committer_affiliation"} <= columns
        # Applying the file itself again is harmless too.
        await conn.execute(next(sql for v, _, sql in migration_files() if v == 7))
        assert await conn.fetchval("SELECT count(*) FROM data.commit_parents") == 3

        # The first processor start then fills what the migration could not know.
        async with conn.transaction():
            assert await sync_mappings(conn, merge(default_mappings(), ())) == {"commits": 2, "contributors": 0}
            assert await activity.ensure_built(conn) is True
        async with conn.transaction():
            assert await sync_mappings(conn, merge(default_mappings(), ())) is None
            assert await activity.ensure_built(conn) is False
        assert dict(await conn.fetch("SELECT sha, author_affiliation FROM data.commits")) == {
            "a" * 40: "Red Hat", "b" * 40: None, "m" * 40: "Red Hat"}
        rows = {(r["period"], r["period_start"]): tuple(r)[3:] for r in await conn.fetch(
            "SELECT * FROM data.repo_activity WHERE repo_id = $1", rid)}
        # 2021-12-31 23:30 UTC is in 2021, the next two days in 2022, all three in the ISO week
        # of Monday 2021-12-27. The merge counts as a commit with no lines, whatever its row says.
        assert rows == {
            ("year", date(2021, 1, 1)): (1, 5, 0, 1), ("year", date(2022, 1, 1)): (2, 2, 1, 2),
            ("month", date(2021, 12, 1)): (1, 5, 0, 1), ("month", date(2022, 1, 1)): (2, 2, 1, 2),
            ("week", date(2021, 12, 27)): (3, 7, 1, 2)}
        # A deleted commit takes its parents and message along.
        await conn.execute("DELETE FROM data.commits WHERE sha = $1", "m" * 40)
        assert await conn.fetchval("SELECT count(*) FROM data.commit_parents WHERE sha = $1", "m" * 40) == 0
        assert await conn.fetchval("SELECT count(*) FROM data.commit_messages WHERE sha = $1", "m" * 40) == 0
    finally:
        await conn.close()


EMAILS = ["ann@redhat.com", "Ann@Mail.Corp.RedHat.COM", "x@redhat.com.", " y @ redhat.com ", "odd@a@ibm.com",
          "no-at-sign", "", None, "trailing@", "1+u@users.noreply.github.com", "noreply@github.com", "z@GitHub.com",
          "a@lab.example.com", "b@example.com", "c@other.example.com", "d@ÄB.example.com", "e@gmail.com",
          "f@sub.gmail.com", "g@unknown.test", "h@com"]
MOMENTS = [None, datetime(2019, 12, 31, 23, 59, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC),
           datetime(2019, 12, 31, 20, 0, tzinfo=timezone(timedelta(hours=-5))),  # 2020-01-01 01:00 UTC
           datetime(2021, 6, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)]
USER_FILE = """
example.com,Example Old
example.com,Example Middle,2020-01-01
example.com,Example New,2023-07-01
lab.example.com,Example Lab,2021-01-01
corp.redhat.com,Red Hat Corporate,2020-01-01
github.com,GitHub Inc.
sub.gmail.com,Not Really Gmail
"""


async def test_reapplied_mappings_agree_with_the_matcher(fresh_database_url: str) -> None:
    conn = await connect_migrated(fresh_database_url)
    try:
        rid = await add_repo(conn, "https://example.org/affiliations.git")
        # Every address at every moment, as author, with another one as committer.
        rows = [(rid, f"{i * len(MOMENTS) + k:040x}", author, when, EMAILS[-1 - i], when)
                for i, author in enumerate(EMAILS) for k, when in enumerate(MOMENTS)]
        await conn.executemany("INSERT INTO data.commits (repo_id, sha, author_email, author_date, committer_email,"
                               " committer_date) VALUES ($1, $2, $3, $4, $5, $6)", rows)
        await conn.executemany("INSERT INTO data.contributors (cntrb_id, platform, platform_user_id, login, email)"
                               " VALUES (gen_random_uuid(), 'github', $1, $2, $3)",
                               [(i, f"u{i}", e) for i, e in enumerate(EMAILS)])
        for user_text in ("", USER_FILE, "example.com,Example Only\ngithub.com,"):
            mappings = merge(default_mappings(), parse_mappings(user_text))
            async with conn.transaction():
                await sync_mappings(conn, mappings)
            match = Matcher(mappings)
            stored = {r["sha"]: r for r in await conn.fetch("SELECT * FROM data.commits")}
            for _, sha, author, when, committer, _ in rows:
                assert stored[sha]["author_affiliation"] == match.at(author, when), (user_text, author, when)
                assert stored[sha]["committer_affiliation"] == match.at(committer, when), (user_text, committer)
            if user_text == USER_FILE:  # the cases reach every rule: suffixes, dates, overrides
                assert len({r["author_affiliation"] for r in stored.values()}) >= 9
            people = await conn.fetch("SELECT email, affiliation FROM data.contributors")
            assert {r["email"]: r["affiliation"] for r in people} == {e: match.current(e) for e in EMAILS}
        assert {r["email"]: r["affiliation"] for r in people}["b@example.com"] == "Example Only"
    finally:
        await conn.close()


async def test_activity_follows_deleted_commits_and_rebuilds_the_same(fresh_database_url: str) -> None:
    conn = await connect_migrated(fresh_database_url)
    try:
        one, two = await add_repo(conn, "https://example.org/one.git"), await add_repo(conn, "https://example.org/two.git")
        other = await add_repo(conn, "https://example.org/three.git", group="other")
        commits = [(rid, f"{rid}{i:039x}", f"dev{i % 3}@example.org", T0 + timedelta(days=9 * i), i, 1)
                   for rid in (one, two, other) for i in range(12)]
        await conn.executemany("INSERT INTO data.commits (repo_id, sha, author_email, author_date, additions,"
                               " deletions) VALUES ($1, $2, $3, $4, $5, $6)", commits)
        async with conn.transaction():
            await activity.refresh(conn, [one, two, other])
        built = await activity_rows(conn)
        async with conn.transaction():
            await activity.rebuild(conn)
        assert await activity_rows(conn) == built

        # A retraction (a force-push) deletes repository one's last four commits; the next
        # refresh takes them out of its rows and its group's, and leaves group "other" alone.
        gone = [c[1] for c in commits if c[0] == one][-4:]
        await conn.execute("DELETE FROM data.commits WHERE repo_id = $1 AND sha = ANY($2::text[])", one, gone)
        async with conn.transaction():
            written = await activity.refresh(conn, [one])
        assert written["repo_activity"] > 0 and written["repo_group_activity"] > 0
        after = await activity_rows(conn)
        async with conn.transaction():
            await activity.rebuild(conn)
        assert await activity_rows(conn) == after
        assert after != built
        group = await conn.fetchval("SELECT repo_group_id FROM data.repos WHERE repo_id = $1", other)
        assert {k: v for k, v in after.items() if k[0] == ("group", group)} == \
               {k: v for k, v in built.items() if k[0] == ("group", group)}
        # Nothing changed since: a refresh writes nothing.
        async with conn.transaction():
            assert await activity.refresh(conn, [one, two, other]) == {"repo_activity": 0, "repo_group_activity": 0}
        # The rows, counted the plain way; distinct authors of a group are not the sum of its repositories'.
        kept = [c for c in commits if c[1] not in gone]
        groups = dict(await conn.fetch("SELECT repo_id, repo_group_id FROM data.repos"))
        expected = {}
        for owner, of in ((("repo", rid), lambda c, rid=rid: c[0] == rid) for rid in (one, two, other)):
            expected |= {(owner, *k): v for k, v in expected_activity(fact(c) for c in kept if of(c)).items()}
        for gid in set(groups.values()):
            expected |= {(("group", gid), *k): v for k, v in expected_activity(
                fact(c) for c in kept if groups[c[0]] == gid).items()}
        assert after == expected
        assert after[(("group", groups[one]), "year", date(2022, 1, 1))][3] == 3
    finally:
        await conn.close()


def fact(row: tuple[int, str, str, datetime, int, int]) -> CommitFact:
    return CommitFact(row[3], row[4], row[5], row[2])


async def activity_rows(conn: asyncpg.Connection) -> dict[tuple[object, ...], tuple[int, ...]]:
    rows = {(("repo", r["repo_id"]), r["period"], r["period_start"]): tuple(r)[3:]
            for r in await conn.fetch("SELECT * FROM data.repo_activity")}
    rows |= {(("group", r["repo_group_id"]), r["period"], r["period_start"]): tuple(r)[3:]
             for r in await conn.fetch("SELECT * FROM data.repo_group_activity")}
    return rows
