"""Fixtures for tests that run the whole pipeline on real NATS and PostgreSQL.

  sample_git_repo     (session) the deterministic sample git repository (a working tree)
  sample_dataset      (session) the fake forge's bundled dataset, to compare rows with; read only
  forge               (function) a started FakeForge serving its own copy of the sample dataset
                      and the sample repository as watershed-demo/sample over dumb-HTTP git
  pipeline_settings   (function) settings for a pipeline on the session's NATS, a fresh
                      database, the forge as GitHub, local git paths allowed, fast ticks
  pipeline            (function) a started in-process Pipeline (all six services) on those
                      settings; stopped after the test, before the streams are deleted
  collect_repos       (function) ``await collect_repos(urls)`` asks the running pipeline's
                      scheduler to collect now and waits for every phase to finish
  api_*, chromium_path  the REST API's stack (apistack.py) and a browser (browser.py)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from shared.events import v1
from shared.fakeforge import (
    SAMPLE_REPO,
    Dataset,
    FakeForge,
    create_sample_git_repo,
    load_sample_dataset,
)
from shared.settings import Secret, Settings, load_settings
from tests.integration.apistack import api_pipeline, api_repo, api_settings  # noqa: F401 - fixtures
from tests.integration.browser import chromium_path  # noqa: F401 - fixture
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

PIPELINE_TOKEN = "ghp_pipelineTestToken0000000000000000000"
Collect = Callable[..., Awaitable[v1.CollectReply]]


@pytest.fixture(scope="session")
def sample_git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_sample_git_repo(tmp_path_factory.mktemp("git") / "sample")


@pytest.fixture(scope="session")
def sample_dataset() -> Dataset:
    return load_sample_dataset()


@pytest.fixture
def forge(sample_git_repo: Path) -> Iterator[FakeForge]:
    # Its own dataset: a test may change what the forge serves without touching the others.
    fake = FakeForge(load_sample_dataset())
    fake.add_git_repo(SAMPLE_REPO, sample_git_repo)
    with fake:
        yield fake


@pytest.fixture
def pipeline_settings(nats_url: str, fresh_database_url: str, forge: FakeForge, tmp_path: Path) -> Settings:
    return load_settings(
        {},
        nats_url=nats_url,
        database_url=fresh_database_url,
        data_dir=tmp_path / "data",
        github_api_url=forge.base_url,
        github_git_url=f"{forge.base_url}/git",
        # GitHub's GraphQL API (pull request children) needs a token; the fake forge takes any.
        github_tokens=(Secret(PIPELINE_TOKEN),),
        facade_allow_local=True,
        scheduler_tick_s=0.2,
        job_max_deliver=2,
        retry_interval_s=3600,
        # Tests that follow organizations run the periodic refresh by hand; one at the start of
        # the pipeline (its first slot) would list them a second time, whenever the lease is taken.
        org_refresh_interval_s=0,
    )


@pytest.fixture
async def pipeline(pipeline_settings: Settings) -> AsyncIterator[Pipeline]:
    async with Pipeline(pipeline_settings, http_port=0) as running:
        yield running


@pytest.fixture
def collect_repos(pipeline: Pipeline) -> Collect:
    async def collect(urls: list[str], *, timeout: float = 60.0) -> v1.CollectReply:
        reply = await request_collection(pipeline.servers.nats_url, urls, dispatch=True, timeout=timeout)
        await wait_for_jobs(pipeline.servers.database_url, reply, timeout=timeout)
        return reply

    return collect
