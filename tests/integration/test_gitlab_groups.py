"""Acceptance: following a GitLab group with subgroups. The fake GitLab is the self-managed host
``gitlab.example.test`` (configured by host name, its API and git base on the fake, a token);
`watershed add-org https://gitlab.example.test/acme` registers every project of the group and
its subgroups (not the projects other groups share with it) as GitLab repositories whose git
history the facade collects. Listing again (as the periodic refresh does) picks up a new
project, a renamed one and one moved between subgroups (same row, new URL: GitLab's project id
is stable), and marks one transferred out of the group and one deleted ``unlisted`` (rows
kept; listed again, active again), as for GitHub organizations. A group that does not exist
fails its listing with a clear error and changes nothing; neither does the 404 of a followed
group that disappeared. The token never shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from shared.fakeforge import FakeGitLab, GitLabDataset
from shared.settings import Settings, load_settings
from tests.integration.test_bad_input import assert_one_clear_error, cli_env, watershed
from tests.integration.test_processor_children import wait_for
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

HOST = "gitlab.example.test"
TOKEN = "glpat-integrationT0ken00000000"


def gitlab_env(gitlab: FakeGitLab, dotcom: FakeGitLab) -> dict[str, str]:
    return {"WATERSHED_GITLAB_HOSTS": f"{HOST}={gitlab.api_url}",
            "WATERSHED_GITLAB_GIT_URLS": f"{HOST}={gitlab.git_url}",
            "WATERSHED_GITLAB_HOST_TOKENS": f"{HOST}={TOKEN}",
            # gitlab.com on a fake of its own: nothing in a test reaches the Internet.
            "WATERSHED_GITLAB_API_URL": dotcom.api_url, "WATERSHED_GITLAB_GIT_URL": dotcom.git_url}


def add_project(gitlab: FakeGitLab, path: str, git: Path) -> None:
    gitlab.dataset.add_project(path)
    gitlab.add_git_repo(path, git)


@pytest.fixture
def gitlab(sample_git_repo: Path) -> Iterator[FakeGitLab]:
    with FakeGitLab(GitLabDataset(), tokens={TOKEN}, web_url=f"https://{HOST}") as fake:
        for path in ("acme/alpha", "acme/beta", "acme/platform/zeta", "acme/platform/deep/omega", "other/shared-in"):
            add_project(fake, path, sample_git_repo)
        fake.dataset.share_project("other/shared-in", "acme")
        yield fake


@pytest.fixture
def dotcom() -> Iterator[FakeGitLab]:
    """gitlab.com, anonymous (no token configured for it), with no groups."""
    with FakeGitLab(web_url="https://gitlab.com") as fake:
        yield fake


@pytest.fixture
def env_vars(gitlab: FakeGitLab, dotcom: FakeGitLab) -> dict[str, str]:
    return gitlab_env(gitlab, dotcom)


@pytest.fixture
def pipeline_settings(nats_url: str, fresh_database_url: str, env_vars: dict[str, str], tmp_path: Path) -> Settings:
    """Overrides conftest's: GitLab hosts come in through the environment, as in a deployment."""
    return load_settings(env_vars, nats_url=nats_url, database_url=fresh_database_url,
                         data_dir=tmp_path / "data", facade_allow_local=True,  # the fake serves git over loopback http
                         scheduler_tick_s=0.2, job_max_deliver=2, retry_interval_s=3600,
                         # The test runs the periodic refresh by hand: one at start would list again.
                         org_refresh_interval_s=0)


async def repos(conn: asyncpg.Connection) -> dict[str, tuple[int, str, str, str]]:
    """url path -> (repo_id, state, group, platform)."""
    rows = await conn.fetch("SELECT r.repo_id, r.url, r.state, r.platform, g.name AS grp FROM data.repos r"
                            " JOIN data.repo_groups g USING (repo_group_id)")
    return {r["url"].removeprefix(f"https://{HOST}/"): (r["repo_id"], r["state"], r["grp"], r["platform"])
            for r in rows}


async def add_org(env: dict[str, str], url: str) -> dict:
    run = await watershed(env, "add-org", url, "--json", timeout=120)
    assert run.code == 0, run.stdout + run.stderr
    assert TOKEN not in run.stdout + run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


async def test_a_gitlab_group_is_followed_through_subgroups_renames_moves_transfers_and_deletions(
        pipeline: Pipeline, gitlab: FakeGitLab, env_vars: dict[str, str], sample_git_repo: Path,
        tmp_path: Path) -> None:
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  data_dir=str(tmp_path / "c"))
    env.update(env_vars)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        first = await add_org(env, f"https://{HOST}/acme")
        (target,) = first["targets"]
        assert (target["account"], target["group"], target["created"], target["url"]) == (
            "acme", "acme", True, f"https://{HOST}/acme")
        (group,) = first["groups"]
        assert group["last_changes"].startswith("4 listed, 4 added") and group["repos"] == 4
        known = await repos(conn)
        assert {k: v[1:] for k, v in known.items()} == {
            p: ("active", "acme", "gitlab")
            for p in ("acme/alpha", "acme/beta", "acme/platform/zeta", "acme/platform/deep/omega")}
        ids = await conn.fetch("SELECT url, platform_repo_id, owner, name FROM data.repos ORDER BY url")
        expected = {p.full_path: p.id for p in gitlab.dataset}
        assert {r["url"]: r["platform_repo_id"] for r in ids} == {
            f"https://{HOST}/{path}": pid for path, pid in expected.items() if path.startswith("acme/")}
        zeta = next(r for r in ids if r["url"].endswith("/zeta"))
        assert (zeta["owner"], zeta["name"]) == ("acme/platform", "zeta")
        # Their git history is collected (the facade is a GitLab project's only phase so far).
        alpha = known["acme/alpha"][0]
        await wait_for(conn, f"SELECT count(*) > 0 FROM data.commits WHERE repo_id = {alpha}", True, timeout=60)
        assert all(r.token == TOKEN for r in gitlab.requests if r.path.startswith("/api/"))

        gitlab.dataset.rename_project("acme/beta", "gamma")
        gitlab.dataset.transfer_project("acme/platform/zeta", "acme/tools")  # moved within the group
        gitlab.dataset.transfer_project("acme/alpha", "elsewhere")  # transferred out
        gitlab.dataset.remove_project("acme/platform/deep/omega")  # deleted
        add_project(gitlab, "acme/platform/delta", sample_git_repo)  # new

        again = await add_org(env, f"https://{HOST}/acme")
        assert again["targets"][0]["created"] is False
        assert again["groups"][0]["last_changes"] == "3 listed, 1 added, 2 renamed, 2 unlisted, 0 listed again"
        now = await repos(conn)
        assert now["acme/gamma"] == (known["acme/beta"][0], "active", "acme", "gitlab")  # renamed: the same row
        assert now["acme/tools/zeta"] == (known["acme/platform/zeta"][0], "active", "acme", "gitlab")
        assert now["acme/platform/delta"][1:] == ("active", "acme", "gitlab")
        assert now["acme/alpha"][1] == "unlisted" and now["acme/platform/deep/omega"][1] == "unlisted"
        reason = await conn.fetchval("SELECT state_reason FROM data.repos WHERE repo_id = $1", alpha)
        assert reason.startswith("no longer listed by acme")
        # The rows of a project that left stay; the renamed one is still fetched, under its new path.
        await wait_for(conn, f"SELECT count(*) > 0 FROM data.commits WHERE repo_id = {alpha}", True)
        run = await watershed(env, "collect", f"https://{HOST}/acme/gamma", "--json", timeout=120)
        assert run.code == 0, run.stdout + run.stderr
        assert any(r.path.startswith("/git/acme/gamma.git/") for r in gitlab.requests)
        gamma = now["acme/gamma"][0]
        await wait_for(conn, f"SELECT count(*) > 0 FROM data.commits WHERE repo_id = {gamma}", True)

        gitlab.dataset.transfer_project("elsewhere/alpha", "acme")  # back home
        await pipeline.scheduler.work.refresh_orgs(slot=1)  # the periodic refresh, run by hand
        await wait_for(conn, f"SELECT state FROM data.repos WHERE repo_id = {alpha}", "active")
        groups = json.loads((await watershed(env, "groups", "--json")).stdout)["groups"]
        acme = next(g for g in groups if g["name"] == "acme")
        assert acme["last_changes"] == "4 listed, 0 added, 0 renamed, 0 unlisted, 1 listed again"
        assert (acme["repos"], acme["active"]) == (5, 4)  # omega stays, unlisted

        # The group disappears: its listing fails (404), and nothing of it changes.
        gitlab.dataset.remove_group("acme")
        gone = await watershed(env, "add-org", f"https://{HOST}/acme", timeout=120)
        line = assert_one_clear_error(gone, "group not found")
        assert f"{HOST}/acme: group not found (HTTP 404)" in line and TOKEN not in gone.stdout + gone.stderr
        assert {k: v[1] for k, v in (await repos(conn)).items()} == {
            "acme/alpha": "active", "acme/gamma": "active", "acme/tools/zeta": "active",
            "acme/platform/delta": "active", "acme/platform/deep/omega": "unlisted"}
    finally:
        await conn.close()


async def test_a_group_that_does_not_exist_fails_its_listing_clearly(
        pipeline: Pipeline, dotcom: FakeGitLab, env_vars: dict[str, str], tmp_path: Path) -> None:
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  data_dir=str(tmp_path / "c"))
    env.update(env_vars)
    # On gitlab.com (its API is the fake here), as given in a browser: subgroup and all.
    run = await watershed(env, "add-org", "https://gitlab.com/groups/nobody/nothing", timeout=120)
    line = assert_one_clear_error(run, "group not found")
    assert "gitlab.com/nobody/nothing: group not found (HTTP 404): 404 Group Not Found" in line
    assert "is no group" in line and "a private group needs a token" in line
    assert any(r.path == "/api/v4/groups/nobody%2Fnothing" and r.token is None for r in dotcom.requests)
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM data.repos") == 0
    finally:
        await conn.close()
    # A malformed group URL never reaches the pipeline.
    bad = await watershed(env, "add-org", f"https://{HOST}/acme/alpha.git")
    assert_one_clear_error(bad, "names a repository")
