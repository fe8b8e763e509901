"""Fault test: the same collection under primary rate-limit exhaustion (REST and GraphQL),
secondary limits with and without ``retry-after``, and 502s ends with exactly the rows of a
clean run."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.db.scratch import scratch_database
from shared.fakeforge import FakeForge, generate_dataset
from shared.settings import Secret, load_settings
from tests.integration.snapshot import snapshot
from tests.integration.test_loss import _reset_streams
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

OWNER, NAME = "faults", "repo"
URL = f"https://github.com/{OWNER}/{NAME}"
TOKEN = "fault-test-token"
SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
             "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}


def dataset():  # type: ignore[no-untyped-def]
    return generate_dataset(7, OWNER, NAME, n_users=20, n_issues=250, n_pulls=60, n_comments=300,
                            huge_bodies=2, big_prs=1, big_pr_size=110)


async def collect(nats_url: str, dsn: str, forge: FakeForge, workdir: Path) -> dict[str, list[tuple[object, ...]]]:
    settings = load_settings({}, nats_url=nats_url, database_url=dsn, data_dir=workdir,
                             github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
                             facade_allow_local=True, scheduler_tick_s=0.2, github_tokens=(Secret(TOKEN),))
    async with Pipeline(settings, http_port=0) as pipeline:
        reply = await request_collection(pipeline.servers.nats_url, [URL], dispatch=True)
        await wait_for_jobs(dsn, reply, timeout=180)
    return await snapshot(dsn)


async def test_faults_end_with_the_rows_of_a_clean_run(nats_url: str, postgres_server: object,
                                                      tmp_path: Path) -> None:
    server_url = postgres_server.url  # type: ignore[attr-defined]
    async with scratch_database(server_url) as clean_dsn, scratch_database(server_url) as faulty_dsn:
        with FakeForge(dataset()) as clean_forge:
            expected = await collect(nats_url, clean_dsn, clean_forge, tmp_path / "clean")
            clean_requests = clean_forge.requests_count()
        await _reset_streams(nats_url)

        with FakeForge(dataset(), rate_limit=15) as forge:
            # Primary limits: 15 REST requests and 2 GraphQL points per window, and a window of
            # 3 s instead of GitHub's hour, so the collector must wait for resets several times.
            forge.rate_window_seconds = 3
            forge.graphql_rate_limit = 2
            base = f"/repos/{OWNER}/{NAME}"
            forge.fail_next(f"{base}/issues/comments", 403, body=SECONDARY, headers={"retry-after": "1"})
            forge.fail_next(f"{base}/pulls/comments", 403, body=SECONDARY)  # no retry-after: back off
            forge.fail_next(f"{base}/issues", 502, times=2)
            forge.fail_next("/graphql", 502)
            actual = await collect(nats_url, faulty_dsn, forge, tmp_path / "faulty")
            limited = forge.requests_count(status=403)
            failed = forge.requests_count(status=502)

    assert clean_requests > 15  # the limits above really bit
    assert limited >= 2 and failed >= 3
    assert len(expected["issues"]) == 250 and len(expected["reviews"]) > 0
    for table in expected:
        assert len(actual[table]) == len(expected[table]), table
        assert actual[table] == expected[table], table
