"""Contributor breadth: the public activity of a collected repository's contributors, read by
collector jobs of a batch of accounts each, stored by the processor, and read again only
conditionally (an unchanged account costs a free 304)."""

from __future__ import annotations

import asyncpg
import pytest

from shared.fakeforge import SAMPLE_REPO, FakeForge, generate_public_events
from tests.integration.conftest import Collect
from tests.integration.test_processor_children import wait_for
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

EVENTS = 40


async def test_contributors_public_activity_lands_once_and_is_read_again_conditionally(
        collect_repos: Collect, pipeline: Pipeline, forge: FakeForge) -> None:
    await collect_repos([f"https://github.com/{SAMPLE_REPO}"])
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        people = await conn.fetch(
            "SELECT c.login, c.platform_user_id FROM data.contributors c JOIN data.repo_contributors rc USING (cntrb_id)"
            " WHERE c.kind = 'User' ORDER BY c.login")
        assert people, "the sample repository has contributors"
        users = {u["login"]: u for u in forge.dataset.distinct_users().values()}
        for person in people:
            forge.dataset.user_events[person["login"]] = generate_public_events(3, users[person["login"]], EVENTS)

        await pipeline.scheduler.work.contributor_breadth(slot=1)
        await wait_for(conn, "SELECT count(*) FROM ops.task_status WHERE kind = 'activity' AND state = 'done'",
                       (len(people) + 99) // 100, timeout=60)
        await wait_for(conn, "SELECT count(*) FROM ops.activity_cursors", len(people))
        stored = await conn.fetchval("SELECT count(*) FROM data.contributor_repo_activity")
        assert stored == EVENTS * len(people)
        first = people[0]["login"]
        row = await conn.fetchrow("SELECT * FROM data.contributor_repo_activity WHERE login = $1"
                                  " ORDER BY created_at DESC LIMIT 1", first)
        latest = forge.dataset.user_events[first][0]
        assert (row["event_id"], row["event_type"], row["repo_full_name"]) == (
            int(latest["id"]), latest["type"], latest["repo"]["name"])
        assert row["cntrb_id"] == await conn.fetchval(
            "SELECT cntrb_id FROM data.contributors WHERE login = $1", first)

        # Read a week ago: asked again, conditionally; nothing changed, nothing written.
        forge.clear_requests()
        await conn.execute("UPDATE ops.activity_cursors SET fetched_at = now() - interval '8 days'")
        await pipeline.scheduler.work.contributor_breadth(slot=2)
        await wait_for(conn, "SELECT count(*) FROM ops.activity_cursors WHERE fetched_at > now() - interval '1 day'",
                       len(people), timeout=60)
        asked = [r for r in forge.requests if r.path.endswith("/events/public")]
        assert len(asked) == len(people) and {r.status for r in asked} == {304}
        assert await conn.fetchval("SELECT count(*) FROM data.contributor_repo_activity") == stored
        # Read just now: not asked at all.
        forge.clear_requests()
        await pipeline.scheduler.work.contributor_breadth(slot=3)
        assert not [r for r in forge.requests if r.path.endswith("/events/public")]
    finally:
        await conn.close()
