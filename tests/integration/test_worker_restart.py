"""A collector stopped in the middle of a job (what SIGTERM does) hands the job back; the next
collector runs it again whole and the rows are complete, with nothing duplicated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.collector.app import create_app as create_collector
from shared.fakeforge import FakeForge, generate_dataset
from shared.settings import Secret, load_settings
from tests.integration.test_loss import make_history
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

OWNER, NAME = "restart", "repo"
ISSUES, PULLS, COMMENTS = 300, 60, 500


async def test_collector_stopped_mid_job_hands_it_back(nats_url: str, fresh_database_url: str, tmp_path: Path) -> None:
    dataset = generate_dataset(5, OWNER, NAME, n_users=20, n_issues=ISSUES, n_pulls=PULLS, n_comments=COMMENTS)
    forge = FakeForge(dataset)
    forge.latency = 0.1  # ~10 pages: the job runs for about a second
    with forge:
        forge.add_git_repo(f"{OWNER}/{NAME}", make_history(tmp_path / "h.git", 20))
        settings = load_settings(
            {}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data",
            github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git", facade_allow_local=True,
            scheduler_tick_s=0.2, shutdown_grace_s=0.0, github_tokens=(Secret("restart-test-token"),),
        )
        async with Pipeline(settings, http_port=0, without=frozenset({"collector"})) as pipeline:
            first = create_collector(settings, pipeline.metrics)
            await first.start()
            reply = await request_collection(pipeline.servers.nats_url, [f"https://github.com/{OWNER}/{NAME}"],
                                             dispatch=True)
            conn = await asyncpg.connect(fresh_database_url)
            try:
                while not await conn.fetchval("SELECT count(*) FROM data.issues"):
                    await asyncio.sleep(0.02)
                await first.stop()
                state = await conn.fetchval("SELECT state FROM ops.collection_status WHERE phase = 'collector'")
                assert state in ("queued", "collecting"), state  # stopped mid-job, or this proves nothing
                second = create_collector(settings, pipeline.metrics)
                await second.start()
                try:
                    await wait_for_jobs(fresh_database_url, reply, timeout=60)
                finally:
                    await second.stop()
                status = await conn.fetchrow(
                    "SELECT state, attempt, requests FROM ops.collection_status WHERE phase = 'collector'")
                counts = await conn.fetchrow(
                    "SELECT (SELECT count(*) FROM data.issues) AS issues,"
                    " (SELECT count(*) FROM data.pull_requests) AS pulls,"
                    " (SELECT count(*) FROM data.messages) AS comments")
            finally:
                await conn.close()
    assert status["state"] == "done"
    assert status["attempt"] == 2  # the handed-back job ran again, as its second delivery
    assert dict(counts) == {"issues": ISSUES, "pulls": PULLS, "comments": COMMENTS}
