"""Acceptance: replay. A repository collected from the fake forge and a local git repository;
every data table is snapshotted; then the repository's rows are deleted (or the database is a
new one) and `watershed replay` applies its staged events again: the rows are identical, under
the same ids. A replay over live rows changes nothing, and never the status of jobs."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from services.processor.app import create_app as create_processor
from shared.db import apply_migrations
from shared.db.scratch import scratch_database
from shared.events import v1
from shared.fakeforge import SAMPLE_REPO
from shared.metrics import Metrics
from shared.settings import Settings
from tests.conftest import Server
from tests.integration.conftest import Collect
from tests.integration.snapshot import snapshot
from tests.integration.test_bad_input import cli_env, watershed
from watershed.control import replay
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

GITHUB_URL = f"https://github.com/{SAMPLE_REPO}"
OPS = "SELECT repo_id, phase, state, job_id, attempt, dispatched_at, next_due, failures FROM ops.collection_status"


async def collected(collect_repos: Collect, pipeline: Pipeline, sample_git_repo: Path) -> dict[str, object]:
    """Both repositories collected, the scheduler stopped (so only the replay writes), a snapshot."""
    await collect_repos([GITHUB_URL, str(sample_git_repo)])
    await pipeline.scheduler.stop()
    return await snapshot(pipeline.servers.database_url)


async def test_a_deleted_repository_is_rebuilt_identically_by_replay(
        collect_repos: Collect, pipeline: Pipeline, pipeline_settings: Settings, sample_git_repo: Path,
        tmp_path: Path) -> None:
    before = await collected(collect_repos, pipeline, sample_git_repo)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        repo_id = await conn.fetchval("SELECT repo_id FROM data.repos WHERE url = $1", GITHUB_URL)
        cursors = [dict(r) for r in await conn.fetch(
            "SELECT stream, value, etag FROM ops.cursors WHERE repo_id = $1 ORDER BY stream", repo_id)]
        assert await conn.fetchval("SELECT count(*) FROM data.issues WHERE repo_id = $1", repo_id) > 0
        await conn.execute("DELETE FROM data.repos WHERE repo_id = $1", repo_id)  # every row of it goes
        assert await snapshot(pipeline.servers.database_url) != before

        env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                      github_api_url=pipeline_settings.github_api_url, data_dir=str(tmp_path / "cli"))
        run = await watershed(env, "replay", GITHUB_URL, "--json", timeout=120)
        assert run.code == 0, run.stdout + run.stderr
        result = json.loads(run.stdout)
        assert result["done"] and result["messages_done"] == result["messages_total"] > 0
        (target,) = result["repos"]
        assert (target["repo_id"], target["url"]) == (repo_id, GITHUB_URL)

        assert await snapshot(pipeline.servers.database_url) == before
        assert await conn.fetchval("SELECT repo_id FROM data.repos WHERE url = $1", GITHUB_URL) == repo_id
        # The next collection is incremental again: the last complete pass's cursors are back.
        assert [dict(r) for r in await conn.fetch(
            "SELECT stream, value, etag FROM ops.cursors WHERE repo_id = $1 ORDER BY stream", repo_id)] == cursors
        # Job bookkeeping is history, not replayed: nothing claimed, no status invented.
        assert await conn.fetchval("SELECT count(*) FROM ops.job_messages") == 0
        assert await conn.fetchval("SELECT count(*) FROM ops.collection_status WHERE repo_id = $1", repo_id) == 0
    finally:
        await conn.close()


async def test_replay_over_live_rows_changes_neither_rows_nor_job_status(
        collect_repos: Collect, pipeline: Pipeline, sample_git_repo: Path) -> None:
    before = await collected(collect_repos, pipeline, sample_git_repo)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        status = [dict(r) for r in await conn.fetch(OPS + " ORDER BY repo_id, phase")]
        since = await conn.fetchval("SELECT min(dispatched_at) FROM ops.collection_status")
        result = await replay(pipeline.servers.nats_url, v1.ReplayRequest(urls=[GITHUB_URL]), timeout=120)
        assert result.done and result.error is None and result.messages_done > 0
        # From a time on: fewer messages, the same outcome.
        later = await replay(pipeline.servers.nats_url, v1.ReplayRequest(since=since), timeout=120)
        assert later.done and 0 < later.messages_total
        unknown = await replay(pipeline.servers.nats_url, v1.ReplayRequest(urls=["https://github.com/no/such"]),
                               timeout=60)
        assert unknown.repos[0].error and "unknown repository" in unknown.repos[0].error
        assert await snapshot(pipeline.servers.database_url) == before
        assert [dict(r) for r in await conn.fetch(OPS + " ORDER BY repo_id, phase")] == status
        assert await conn.fetchval("SELECT count(*) FROM ops.job_messages") == 0
    finally:
        await conn.close()


async def test_a_new_database_is_rebuilt_by_replaying_everything(
        collect_repos: Collect, pipeline: Pipeline, pipeline_settings: Settings, sample_git_repo: Path,
        postgres_server: Server) -> None:
    before = await collected(collect_repos, pipeline, sample_git_repo)
    await pipeline.stop()
    async with scratch_database(postgres_server.url) as empty:
        await apply_migrations(empty)
        processor = create_processor(pipeline_settings.replace(database_url=empty), Metrics())
        await processor.start()
        try:
            result = await replay(pipeline_settings.nats_url or "", v1.ReplayRequest(), timeout=300)
        finally:
            await processor.stop()
        assert result.done and result.error is None and result.messages_done == result.messages_total > 0
        assert await snapshot(empty) == before


async def test_a_renamed_repository_is_found_by_its_new_url(collect_repos: Collect, pipeline: Pipeline) -> None:
    await collect_repos(["https://github.com/watershed-demo/old-sample"])  # the forge redirects: a rename
    await pipeline.scheduler.stop()
    before = await snapshot(pipeline.servers.database_url)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        assert await conn.fetchval("SELECT url FROM data.repos") == GITHUB_URL
        await conn.execute("DELETE FROM data.repos")
    finally:
        await conn.close()
    result = await replay(pipeline.servers.nats_url, v1.ReplayRequest(urls=[GITHUB_URL]), timeout=120)
    assert result.done and not result.repos[0].error, result
    assert await snapshot(pipeline.servers.database_url) == before
