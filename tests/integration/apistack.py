"""A pipeline whose scheduler serves the REST API and dashboard, with one repository collected
from the fake forge; for the API, fuzz and browser tests (import the fixtures you use).

  api_settings    pipeline settings plus an API token and fast quota/metrics reports
  api_pipeline    the started pipeline (all six services, one HTTP server)
  api_repo        the sample repository collected; its issue #1 is titled HOSTILE_TITLE
  api_url         the HTTP base URL, once the repository is collected
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from shared.fakeforge import SAMPLE_REPO, FakeForge
from shared.settings import Secret, Settings
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

API_TOKEN = "api-test-token-0123456789abcdef"
REPO_URL = f"https://github.com/{SAMPLE_REPO}"
# Shown by the dashboard as text; if it ever ran, the browser would open a dialog.
HOSTILE_TITLE = '<script>alert(1)</script> & "quotes" <b>bold</b>'


@dataclass(frozen=True)
class Collected:
    repo_id: int
    url: str
    base_url: str
    database_url: str
    nats_url: str


@pytest.fixture
def api_settings(pipeline_settings: Settings) -> Settings:
    return pipeline_settings.replace(api_tokens=(Secret(API_TOKEN),), quota_publish_interval_s=1.0,
                                     metrics_poll_interval_s=1.0)


@pytest.fixture
async def api_pipeline(api_settings: Settings) -> AsyncIterator[Pipeline]:
    async with Pipeline(api_settings, http_port=0) as running:
        yield running


@pytest.fixture
async def api_repo(api_pipeline: Pipeline, forge: FakeForge) -> Collected:
    issue = next(i for i in forge.dataset.repositories[SAMPLE_REPO].issues if "pull_request" not in i)
    issue["title"] = HOSTILE_TITLE
    issue["updated_at"] = "2099-01-01T00:00:00Z"  # the newest: listed first on the repository's page
    reply = await request_collection(api_pipeline.servers.nats_url, [REPO_URL], dispatch=True, timeout=60)
    await wait_for_jobs(api_pipeline.servers.database_url, reply, timeout=120)
    (target,) = reply.targets
    assert target.repo_id is not None
    return Collected(target.repo_id, target.url, api_pipeline.http_url, api_pipeline.servers.database_url,
                     api_pipeline.servers.nats_url)
