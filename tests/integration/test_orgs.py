"""Acceptance: following an organization. `watershed add-org` registers its repositories in a
group named after it; listing it again (what the periodic refresh does) picks up new ones,
renamed ones (same row, new URL), ones transferred in (same row, into the group) and away or
deleted (marked unlisted, rows kept, listed again: active again). A URL on no GitHub or GitLab
host is refused. (GitLab groups: test_gitlab_groups.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from shared.fakeforge import FakeForge, generate_dataset
from shared.fakeforge._shapes import user_json
from tests.integration.test_bad_input import assert_one_clear_error, cli_env, watershed
from tests.integration.test_processor_children import wait_for
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

ORG = "acme"
OTHER = user_json("elsewhere-org", 77_000_001, kind="Organization")


def add_repo(forge: FakeForge, git: Path, full_name: str, seed: int) -> None:
    owner, name = full_name.split("/")
    forge.dataset.merge(generate_dataset(seed, owner, name, n_users=3, n_issues=2, n_pulls=1, n_comments=2,
                                         n_releases=0))
    forge.add_git_repo(full_name, git)


async def repos(conn: asyncpg.Connection) -> dict[str, tuple[int, str, str]]:
    rows = await conn.fetch("SELECT r.repo_id, r.name, r.url, r.state, g.name AS grp FROM data.repos r"
                            " JOIN data.repo_groups g USING (repo_group_id)")
    return {r["url"].rsplit("/", 2)[-2] + "/" + r["url"].rsplit("/", 1)[-1]: (r["repo_id"], r["state"], r["grp"])
            for r in rows}


async def add_org(env: dict[str, str], url: str) -> dict:
    run = await watershed(env, "add-org", url, "--json", timeout=120)
    assert run.code == 0, run.stdout + run.stderr
    return json.loads(run.stdout)  # type: ignore[no-any-return]


async def test_an_organization_is_followed_through_renames_transfers_and_deletions(
        pipeline: Pipeline, forge: FakeForge, sample_git_repo: Path, tmp_path: Path) -> None:
    for i, name in enumerate(("alpha", "beta", "zeta")):
        add_repo(forge, sample_git_repo, f"{ORG}/{name}", 40 + i)
    add_repo(forge, sample_git_repo, "elsewhere-org/incoming", 50)
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git", data_dir=str(tmp_path / "c"))
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        first = await add_org(env, f"https://github.com/{ORG}")
        (target,) = first["targets"]
        assert (target["account"], target["group"], target["created"]) == (ORG, ORG, True)
        (group,) = first["groups"]
        assert group["last_changes"].startswith("3 listed, 3 added") and group["repos"] == 3
        known = await repos(conn)
        assert {k: v[1:] for k, v in known.items()} == {f"{ORG}/{n}": ("active", ORG) for n in ("alpha", "beta", "zeta")}
        # A repository of another account, collected, then transferred into the organization.
        run = await watershed(env, "collect", "https://github.com/elsewhere-org/incoming", timeout=120)
        assert run.code == 0, run.stderr
        incoming = (await repos(conn))["elsewhere-org/incoming"][0]

        owner = forge.dataset.find(f"{ORG}/alpha").repository["owner"]  # type: ignore[union-attr]
        forge.dataset.rename_repo(f"{ORG}/beta", f"{ORG}/gamma")
        forge.dataset.rename_repo(f"{ORG}/alpha", "elsewhere-org/alpha", owner=OTHER)
        forge.dataset.remove_repo(f"{ORG}/zeta")
        forge.dataset.rename_repo("elsewhere-org/incoming", f"{ORG}/incoming", owner=owner)
        add_repo(forge, sample_git_repo, f"{ORG}/delta", 60)

        again = await add_org(env, f"https://github.com/{ORG}")
        assert again["targets"][0]["created"] is False
        assert again["groups"][0]["last_changes"] == "3 listed, 1 added, 2 renamed, 2 unlisted, 0 listed again"
        now = await repos(conn)
        assert now[f"{ORG}/gamma"][0] == known[f"{ORG}/beta"][0]  # renamed: the same row
        assert now[f"{ORG}/gamma"][1:] == ("active", ORG)
        assert now[f"{ORG}/incoming"] == (incoming, "active", ORG)  # transferred in: same row, into the group
        assert now[f"{ORG}/alpha"][1] == "unlisted" and now[f"{ORG}/zeta"][1] == "unlisted"
        assert now[f"{ORG}/delta"][1:] == ("active", ORG)
        reason = await conn.fetchval("SELECT state_reason FROM data.repos WHERE repo_id = $1", now[f"{ORG}/zeta"][0])
        assert reason.startswith(f"no longer listed by {ORG}")
        # The rows of a repository that left stay.
        await wait_for(conn, f"SELECT count(*) > 0 FROM data.issues WHERE repo_id = {now[f'{ORG}/zeta'][0]}", True)

        forge.dataset.rename_repo("elsewhere-org/alpha", f"{ORG}/alpha", owner=owner)  # back home
        await pipeline.scheduler.work.refresh_orgs(slot=1)  # the periodic refresh, run by hand
        await wait_for(conn, f"SELECT state FROM data.repos WHERE repo_id = {now[f'{ORG}/alpha'][0]}", "active")
        groups = json.loads((await watershed(env, "groups", "--json")).stdout)["groups"]
        acme = next(g for g in groups if g["name"] == ORG)
        assert acme["last_changes"] == "4 listed, 0 added, 0 renamed, 0 unlisted, 1 listed again"
        assert (acme["repos"], acme["active"]) == (5, 4)  # zeta stays, unlisted
    finally:
        await conn.close()


async def test_an_account_on_no_forge_host_is_refused_naming_the_hosts(pipeline: Pipeline, tmp_path: Path) -> None:
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  data_dir=str(tmp_path / "c"))
    run = await watershed(env, "add-org", "https://codeberg.org/forgejo")
    line = assert_one_clear_error(run, "not on a github or gitlab host")
    assert "github.com" in line and "gitlab.com" in line
    also = await watershed(env, "add-org", "https://github.com/chaoss/augur")
    assert_one_clear_error(also, "names a repository")
