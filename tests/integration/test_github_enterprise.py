"""Acceptance: github.com and a GitHub Enterprise Server host collected by one pipeline.

Two fake forges: one serves github.com repositories through WATERSHED_GITHUB_API_URL, the
other is the Enterprise server ``ghe.example.test``, configured by host name with its API at
``<forge>/api/v3`` (GraphQL at ``/api/graphql``), its own token and its own git base. Each
repository lands with its issues, pull requests and commits under its own host, and neither
forge ever sees the other's token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.fakeforge import SAMPLE_REPO, FakeForge, RepoData, generate_dataset, load_sample_dataset
from shared.settings import Settings, load_settings
from tests.integration.conftest import PIPELINE_TOKEN, Collect
from tests.integration.test_slice import check_status, git

pytestmark = pytest.mark.integration

GHE_HOST = "ghe.example.test"
GHE_TOKEN = "ghe-pipeline-token-0123456789abcdef"
GHE_OWNER, GHE_NAME = "ghe-team", "tool"
DOTCOM_URL = f"https://github.com/{SAMPLE_REPO}"
GHE_URL = f"https://{GHE_HOST}/{GHE_OWNER}/{GHE_NAME}"


@pytest.fixture(scope="module")
def ghe_data() -> RepoData:
    return ghe_dataset().repositories[f"{GHE_OWNER}/{GHE_NAME}"]


def ghe_dataset() -> Any:
    return generate_dataset(23, GHE_OWNER, GHE_NAME, n_users=6, n_issues=12, n_pulls=8, n_comments=30, n_releases=2)


@pytest.fixture
def forge(sample_git_repo: Path) -> Iterator[FakeForge]:
    """Overrides conftest's: github.com, accepting only the github.com token."""
    fake = FakeForge(load_sample_dataset(), tokens={PIPELINE_TOKEN})
    fake.add_git_repo(SAMPLE_REPO, sample_git_repo)
    with fake:
        yield fake


@pytest.fixture
def ghe_forge(sample_git_repo: Path) -> Iterator[FakeForge]:
    fake = FakeForge(ghe_dataset(), tokens={GHE_TOKEN}, api_prefix="/api/v3")
    fake.add_git_repo(f"{GHE_OWNER}/{GHE_NAME}", sample_git_repo)
    with fake:
        yield fake


@pytest.fixture
def pipeline_settings(nats_url: str, fresh_database_url: str, forge: FakeForge, ghe_forge: FakeForge,
                      tmp_path: Path) -> Settings:
    """Overrides conftest's: the Enterprise host comes in through the environment, as in a deployment."""
    tokens_file = tmp_path / "ghe-tokens"
    tokens_file.write_text(f"# mounted Secret\n{GHE_HOST} {GHE_TOKEN}\n")
    return load_settings(
        {
            "WATERSHED_GITHUB_API_URL": forge.base_url,
            "WATERSHED_GITHUB_GIT_URL": f"{forge.base_url}/git",
            "WATERSHED_GITHUB_TOKENS": PIPELINE_TOKEN,
            "WATERSHED_GITHUB_ENTERPRISE_HOSTS": f"{GHE_HOST}={ghe_forge.api_url}",
            "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS": f"{GHE_HOST}={ghe_forge.base_url}/git",
            "WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE": str(tokens_file),
        },
        nats_url=nats_url,
        database_url=fresh_database_url,
        data_dir=tmp_path / "data",
        facade_allow_local=True,
        scheduler_tick_s=0.2,
        job_max_deliver=2,
        retry_interval_s=3600,
    )


async def test_github_com_and_an_enterprise_host_in_one_pipeline(
    collect_repos: Collect, pipeline: Any, forge: FakeForge, ghe_forge: FakeForge, ghe_data: RepoData,
    sample_git_repo: Path,
) -> None:
    reply = await collect_repos([DOTCOM_URL, GHE_URL], timeout=120)
    assert [(t.url, t.error) for t in reply.targets] == [(DOTCOM_URL, None), (GHE_URL, None)]
    dotcom_id, ghe_id = (t.repo_id for t in reply.targets)
    dotcom_data = load_sample_dataset().repositories[SAMPLE_REPO]
    commits = int(git(sample_git_repo, "rev-list", "--count", "HEAD"))

    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        await check_status(conn, {dotcom_id: {"collector", "facade", "resolver"}, ghe_id: {"collector", "facade", "resolver"}})
        repos = {r["repo_id"]: tuple(r)[1:] for r in await conn.fetch(
            "SELECT repo_id, url, platform, host, owner, name, platform_repo_id FROM data.repos")}
        assert repos == {
            dotcom_id: (DOTCOM_URL, "github", "github.com", *SAMPLE_REPO.split("/"), dotcom_data.repository["id"]),
            ghe_id: (GHE_URL, "github", GHE_HOST, GHE_OWNER, GHE_NAME, ghe_data.repository["id"]),
        }
        for repo_id, data in ((dotcom_id, dotcom_data), (ghe_id, ghe_data)):
            assert await numbers(conn, "issues", repo_id) == {i["number"] for i in data.plain_issues}
            assert await numbers(conn, "pull_requests", repo_id) == {p["number"] for p in data.pulls}
            assert await conn.fetchval("SELECT count(*) FROM data.commits WHERE repo_id = $1", repo_id) == commits
        # Accounts belong to their server: the Enterprise repository's people are named in its
        # namespace, and one user id on both servers (the ghost user's here) is two rows.
        assert {r["platform"] for r in await conn.fetch(
            "SELECT DISTINCT c.platform FROM data.issues i JOIN data.contributors c ON c.cntrb_id = i.author_id"
            " WHERE i.repo_id = $1", ghe_id)} == {f"github@{GHE_HOST}"}
        ghost = next(u["id"] for u in ghe_data.users if u["login"] == "ghost")
        assert {tuple(r) for r in await conn.fetch(
            "SELECT platform, login FROM data.contributors WHERE platform_user_id = $1", ghost)} == {
            ("github", "ghost"), (f"github@{GHE_HOST}", "ghost")}
    finally:
        await conn.close()

    # Each forge saw its own token only, and every request it got had one.
    assert {r.token for r in forge.requests if not r.path.startswith("/git/")} == {PIPELINE_TOKEN}
    assert {r.token for r in ghe_forge.requests if not r.path.startswith("/git/")} == {GHE_TOKEN}
    assert not [r for r in [*forge.requests, *ghe_forge.requests] if r.status == 401]
    # The Enterprise server was asked at its Enterprise paths: REST under /api/v3, GraphQL at /api/graphql.
    assert {r.path.split("/")[1] for r in ghe_forge.requests} == {"api", "git"}
    assert ghe_forge.requests_count("/api/graphql", method="POST", status=200) > 0
    assert ghe_forge.requests_count(f"/api/v3/repos/{GHE_OWNER}/{GHE_NAME}/issues") > 0
    assert ghe_forge.requests_count(f"/git/{GHE_OWNER}/{GHE_NAME}.git/") > 0
    assert not any(GHE_OWNER in r.path for r in forge.requests)
    assert not any(SAMPLE_REPO in r.path for r in ghe_forge.requests)


async def numbers(conn: asyncpg.Connection, table: str, repo_id: int) -> set[int]:
    return {r["number"] for r in await conn.fetch(f"SELECT number FROM data.{table} WHERE repo_id = $1", repo_id)}
