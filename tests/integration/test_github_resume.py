"""A pass cut short resumes where it stopped: the issues stream fails for good after two
pages (502s that outlast the client's retries), the job's retry starts at the checkpoint the
processor kept, not at the beginning, and the repository still lands whole. The same holds
for a full resync (``recollect``), which ignores the stored cursors but not its own
checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from shared.fakeforge import FakeForge, generate_dataset
from tests.integration.conftest import Collect
from watershed.client import request_collection, wait_for_jobs

pytestmark = pytest.mark.integration

OWNER, NAME = "resume", "repo"
URL = f"https://github.com/{OWNER}/{NAME}"
ISSUES = f"/repos/{OWNER}/{NAME}/issues"
RETRIES = 5  # the client's first request and its four retries


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    """Overrides conftest's: 520 issues and pull requests, six pages of the issues list."""
    with FakeForge(generate_dataset(3, OWNER, NAME, n_users=10, n_issues=500, n_pulls=20, n_comments=30)) as fake:
        yield fake


def issue_requests(forge: FakeForge) -> list[tuple[int, str | None]]:
    """(status, since) of every request for the issues list itself, in order."""
    return [(r.status, r.query.get("since")) for r in forge.requests if r.path == ISSUES]


async def check_resumed(forge: FakeForge, conn: asyncpg.Connection) -> None:
    asked = issue_requests(forge)
    failed = [since for status, since in asked if status == 502]
    assert len(failed) == RETRIES and len(set(failed)) == 1, asked
    after = [since for status, since in asked[asked.index((502, failed[0])) + RETRIES:] if status == 200]
    # The retry's first request is the very one that failed: pages one and two are not read again.
    assert after[0] == failed[0] is not None, asked
    assert sum(status == 200 for status, _ in asked) <= 8, asked  # six pages, plus the attempt's boundary
    status = await conn.fetchrow("SELECT state, attempt, last_error FROM ops.collection_status WHERE phase = 'collector'")
    assert (status["state"], status["attempt"]) == ("done", 2), dict(status)
    data = forge.dataset.repositories[f"{OWNER}/{NAME}"]
    assert await conn.fetchval("SELECT count(*) FROM data.issues") == len(data.plain_issues)
    assert await conn.fetchval("SELECT count(*) FROM data.pull_requests") == len(data.pulls)
    assert await conn.fetchval("SELECT count(*) FROM ops.checkpoints") == 0  # the completed job cleared them
    assert await conn.fetchval("SELECT count(*) FROM ops.pending_checkpoints") == 0


async def test_a_pass_cut_short_resumes_at_its_checkpoint(collect_repos: Collect, pipeline: Any,
                                                          forge: FakeForge) -> None:
    forge.fail_next(ISSUES, 502, times=RETRIES, after=2)
    reply = await collect_repos([URL], timeout=120)
    assert reply.targets[0].error is None
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        await check_resumed(forge, conn)
    finally:
        await conn.close()


async def test_a_full_resync_cut_short_resumes_at_its_own_checkpoint(collect_repos: Collect, pipeline: Any,
                                                                     forge: FakeForge) -> None:
    await collect_repos([URL], timeout=120)
    forge.clear_requests()
    forge.fail_next(ISSUES, 502, times=RETRIES, after=2)
    reply = await request_collection(pipeline.servers.nats_url, [URL], dispatch=True, full=True)
    await wait_for_jobs(pipeline.servers.database_url, reply, timeout=120)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        assert issue_requests(forge)[0] == (200, None)  # a full pass starts from the beginning
        await check_resumed(forge, conn)
    finally:
        await conn.close()
