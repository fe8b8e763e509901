"""GitHub collection under faults, through the real pipeline: GraphQL batches too big for the
server (502) are split, 5xx and truncated REST pages are retried, and a stream that keeps
failing fails the job cleanly: an error status and no cursor moved."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from shared.fakeforge import FakeForge, generate_dataset
from tests.integration.conftest import Collect

pytestmark = pytest.mark.integration

OWNER, NAME = "watershed-demo", "faulty"
URL = f"https://github.com/{OWNER}/{NAME}"
REPO_PATH = f"/repos/{OWNER}/{NAME}"


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    """Overrides conftest's: 60 pull requests, so a pass needs two GraphQL batches."""
    fake = FakeForge(generate_dataset(5, OWNER, NAME, n_pulls=60))
    with fake:
        yield fake


async def status_of(pipeline: Any) -> tuple[asyncpg.Record, asyncpg.Connection]:
    conn = await asyncpg.connect(pipeline.servers.database_url)
    return await conn.fetchrow("SELECT * FROM ops.collection_status WHERE phase = 'collector'"), conn


async def test_big_batches_are_split_and_failed_pages_retried(collect_repos: Collect, pipeline: Any,
                                                              forge: FakeForge) -> None:
    # A batch of 50 pull requests asks for 20,000 possible nodes; 25 ask for 10,000.
    forge.graphql_max_nodes_before_502 = 15_000
    forge.fail_next(f"{REPO_PATH}/issues/comments", 502, times=2)
    forge.truncate_next(f"{REPO_PATH}/pulls/comments")
    await collect_repos([URL], timeout=120)
    status, conn = await status_of(pipeline)
    try:
        assert status["state"] == "done", status["last_error"]
        data = forge.dataset.repositories[f"{OWNER}/{NAME}"]
        graphql = [r for r in forge.requests if r.path == "/graphql"]
        # Counts, then 50 PRs → 502 → 25 + 25, then the last 10 at once.
        assert [r.status for r in graphql] == [200, 502, 200, 200, 200]
        expected = {
            "reviews": sum(map(len, data.reviews.values())),
            "pr_commits": sum(map(len, data.pr_commits.values())),
            "pr_files": sum(map(len, data.pr_files.values())),
            "review_comments": len(data.review_comments),
            "messages": len(data.comments),
            "pull_requests": len(data.pulls),
        }
        got = {table: await conn.fetchval(f"SELECT count(*) FROM data.{table}") for table in expected}
        assert got == expected
        assert await conn.fetchval("SELECT count(*) FROM data.pull_requests WHERE merge_state IS NULL") == 0
    finally:
        await conn.close()


async def test_a_stream_that_keeps_failing_fails_the_job_and_moves_no_cursor(
    collect_repos: Collect, pipeline: Any, forge: FakeForge
) -> None:
    forge.fail_next(f"{REPO_PATH}/issues/events", 502, times=1000)
    await collect_repos([URL], timeout=120)
    status, conn = await status_of(pipeline)
    try:
        assert status["state"] == "error" and "issue events" in status["last_error"], dict(status)
        assert await conn.fetchval("SELECT count(*) FROM ops.cursors") == 0
    finally:
        await conn.close()
