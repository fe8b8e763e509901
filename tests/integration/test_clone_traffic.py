"""Clone traffic with a token that may not push: GitHub refuses it (403), and every refusal
costs quota. The refusal is remembered in the stream's cursor, so the next idle pass asks for
nothing at all; a full recollect asks again and notices push access gained meanwhile."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from shared.fakeforge import SAMPLE_REPO, FakeForge
from tests.integration.conftest import PIPELINE_TOKEN, Collect
from watershed.client import request_collection, wait_for_jobs

pytestmark = pytest.mark.integration

URL = f"https://github.com/{SAMPLE_REPO}"
TRAFFIC = f"/repos/{SAMPLE_REPO}/traffic/clones"


def charged_rest(forge: FakeForge) -> list[str]:
    """API requests of the collection that cost quota on GitHub: every REST answer but a 304 (git
    fetches are not API). The contributors' public activity (the scheduler's periodic breadth
    task, /users/{login}/events/public) is separate work on its own interval, left out."""
    return [f"{r.status} {r.path}" for r in forge.requests if not r.path.startswith("/git/") and r.status != 304
            and not (r.path.startswith("/users/") and r.path.endswith("/events/public"))]


async def test_refused_clone_traffic_costs_nothing_on_idle_passes(collect_repos: Collect, pipeline: Any,
                                                                  forge: FakeForge) -> None:
    assert PIPELINE_TOKEN not in forge.push_tokens
    await collect_repos([URL])
    assert [r.status for r in forge.requests if r.path == TRAFFIC] == [403]
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        cursor = await conn.fetchrow("SELECT value, etag FROM ops.cursors WHERE stream = 'clone_traffic'")
        assert cursor is not None and cursor["value"].startswith("refused:") and cursor["etag"] is None

        forge.clear_requests()
        await collect_repos([URL])
        status = await conn.fetchrow("SELECT * FROM ops.collection_status WHERE phase = 'collector'")
        assert status["state"] == "done", status["last_error"]
        assert forge.requests_count(TRAFFIC) == 0
        assert charged_rest(forge) == [] and status["requests_graphql"] == 0
        assert status["charged"] == 0, dict(status)

        # The token may push now. A week has not passed, so an idle pass still does not ask;
        # a full recollect ignores the stored cursors and does.
        forge.push_tokens.add(PIPELINE_TOKEN)
        forge.clear_requests()
        await collect_repos([URL])
        assert forge.requests_count(TRAFFIC) == 0
        reply = await request_collection(pipeline.servers.nats_url, [URL], dispatch=True, full=True)
        await wait_for_jobs(pipeline.servers.database_url, reply, timeout=60)
        assert [r.status for r in forge.requests if r.path == TRAFFIC] == [200]
        assert await conn.fetchval("SELECT count(*) FROM data.clone_traffic") == len(
            forge.dataset.repositories[SAMPLE_REPO].clone_traffic["clones"])  # type: ignore[index]
        cursor = await conn.fetchrow("SELECT value, etag FROM ops.cursors WHERE stream = 'clone_traffic'")
        assert cursor["value"] is None and cursor["etag"], dict(cursor)
    finally:
        await conn.close()
