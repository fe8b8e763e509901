"""Acceptance: the complete git history through the real pipeline. Two repositories in one
group (the sample on the fake forge, another one local), collected with a user mappings
file; parents, messages, affiliations and year/month/week activity are checked against
``git`` itself and numbers computed here; then the processor restarts with changed mappings
and re-applies them to the stored rows, rewriting only the rows whose organisation changes."""

from __future__ import annotations

import asyncio
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from services.processor.app import create_app as create_processor
from shared.fakeforge import SAMPLE_REPO, FakeForge, create_sample_git_repo
from shared.fakeforge.gitrepo import git_env
from shared.metrics import Metrics
from shared.settings import Settings, load_settings
from tests.integration.expected_activity import CommitFact, expected_activity
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

GITHUB_URL = f"https://github.com/{SAMPLE_REPO}"
SEP = "\x1f"


@dataclass(frozen=True)
class GitCommit:
    sha: str
    parents: list[str]
    author_email: str
    author_date: datetime
    committer_email: str
    committer_date: datetime
    added: int
    removed: int
    message: str


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=git_env(), capture_output=True, check=True,
                          text=True).stdout


def history(repo: Path) -> dict[str, GitCommit]:
    """Every commit reachable from HEAD as git reports it (lines as the facade reads them)."""
    out = git(repo, "log", "--numstat", "-M", "--diff-merges=off",
              f"--format=@%H{SEP}%P{SEP}%ae{SEP}%at{SEP}%ce{SEP}%ct", "HEAD")
    found: dict[str, list[Any]] = {}
    sha = ""
    for line in out.splitlines():
        if line.startswith("@"):
            sha, parents, ae, at, ce, ct = line[1:].split(SEP)
            found[sha] = [parents.split(), ae, datetime.fromtimestamp(int(at), UTC), ce,
                          datetime.fromtimestamp(int(ct), UTC), 0, 0]
        elif line.strip():
            added, removed, _ = line.split("\t", 2)
            found[sha][5] += 0 if added == "-" else int(added)
            found[sha][6] += 0 if removed == "-" else int(removed)
    commits = {}
    for sha, (parents, ae, ad, ce, cd, added, removed) in found.items():
        raw = git(repo, "cat-file", "commit", sha)
        message = raw.split("\n\n", 1)[1] if "\n\n" in raw else ""
        commits[sha] = GitCommit(sha, parents, ae, ad, ce, cd, added, removed, message)
    return commits


def facts(commits: dict[str, GitCommit]) -> list[CommitFact]:
    return [CommitFact(c.author_date, c.added, c.removed, c.author_email, len(c.parents) > 1) for c in commits.values()]


class Expect:
    """The organisation of an address in the sample histories, written out for these domains."""

    def __init__(self, orgs: dict[str, str | None], example_com: list[tuple[date, str]]) -> None:
        self.orgs = orgs
        self.example_com = example_com  # (since, organisation), oldest first

    def __call__(self, email: str, when: datetime) -> str | None:
        domain = email.rsplit("@", 1)[1].lower()
        if domain == "example.com":
            return [org for since, org in self.example_com if since <= when.date()][-1]
        return self.orgs.get(domain)


async def collect(settings: Settings, urls: list[str]) -> list[int]:
    reply = await request_collection(settings.nats_url or "", urls, dispatch=True, timeout=60)
    await wait_for_jobs(settings.database_url or "", reply, timeout=90)
    assert [t.error for t in reply.targets] == [None] * len(urls)
    return [t.repo_id for t in reply.targets]  # type: ignore[misc]


def with_file(settings: Settings, path: Path, text: str) -> Settings:
    path.write_text(text)
    return settings.replace(affiliations=load_settings({"WATERSHED_AFFILIATIONS_FILE": str(path)}).affiliations)


async def test_commit_data_through_the_pipeline(pipeline_settings: Settings, forge: FakeForge,
                                                sample_git_repo: Path, tmp_path: Path) -> None:
    other_repo = create_sample_git_repo(tmp_path / "other", commits=24, seed=3)
    sample, other = history(sample_git_repo), history(other_repo)
    zoe = sorted(c.author_date for c in sample.values() if c.author_email == "zoe@example.com")
    since = zoe[len(zoe) // 2].date()
    assert zoe[0].date() < since, "the since date splits Zoë's commits"

    # Three issue authors get addresses (the forge serves its user objects as they are).
    authors = [i["user"] for i in forge.dataset.repositories[SAMPLE_REPO].plain_issues
               if i["user"] and i["user"]["type"] == "User"]
    people = list({u["id"]: u for u in authors}.values())[:3]
    for user, email in zip(people, ("maintainer@mail.corp.redhat.com", "zoe@example.com", "someone@gmail.com"),
                           strict=True):
        user["email"] = email

    # The user file overrides two defaults (example.com is "no organisation", github.com GitHub).
    settings = with_file(pipeline_settings, tmp_path / "affiliations.csv",
                         f"domain,organization,since\nexample.org,Analytical Engines\nexample.com,Old Corp\n"
                         f"example.com,New Corp,{since}\ngithub.com,GitHub Inc.\n")
    expect = Expect({"example.org": "Analytical Engines", "github.com": "GitHub Inc.",
                     "users.noreply.github.com": None, "example.cn": None},
                    [(date.min, "Old Corp"), (since, "New Corp")])
    async with Pipeline(settings, http_port=0) as running:
        github_id, local_id = await collect(running.settings, [GITHUB_URL, str(other_repo)])
    dsn = settings.database_url or ""
    conn = await asyncpg.connect(dsn)
    try:
        for repo_id, commits in ((github_id, sample), (local_id, other)):
            await check_parents_and_messages(conn, repo_id, commits)
            await check_commit_affiliations(conn, repo_id, commits, expect)
            stored = await activity(conn, "data.repo_activity", "repo_id", repo_id)
            assert stored == expected_activity(facts(commits)), repo_id
        group = await conn.fetchval("SELECT repo_group_id FROM data.repos WHERE repo_id = $1", github_id)
        assert await conn.fetchval("SELECT repo_group_id FROM data.repos WHERE repo_id = $1", local_id) == group
        grouped = await activity(conn, "data.repo_group_activity", "repo_group_id", group)
        assert grouped == expected_activity(facts(sample) + facts(other))
        assert {p for p, _ in grouped} == {"year", "month", "week"} and len({s.year for _, s in grouped}) >= 2
        # Distinct authors of the group are not the sum of its repositories'.
        per_repo = [await activity(conn, "data.repo_activity", "repo_id", r) for r in (github_id, local_id)]
        assert any(v[3] < sum(rows.get(k, (0, 0, 0, 0))[3] for rows in per_repo) for k, v in grouped.items())
        assert await contributor_affiliations(conn, people) == {
            "maintainer@mail.corp.redhat.com": "Red Hat", "zoe@example.com": "New Corp", "someone@gmail.com": None}
        assert await conn.fetchval("SELECT count(*) FROM data.affiliations WHERE source = 'user'") == 4

        # Changed mappings: the restarted processor re-applies them to what is stored.
        before = {r["sha"]: r for r in await conn.fetch(
            "SELECT sha, xmin::text AS xmin, author_affiliation, committer_affiliation FROM data.commits")}
        changed = with_file(settings, tmp_path / "affiliations.csv",
                            "example.org,Babbage & Co\nexample.com,Old Corp\ncorp.redhat.com,Red Hat Corporate\n")
        await restart_processor(changed, conn, expected_user_rows=3)
        expect = Expect({"example.org": "Babbage & Co", "github.com": "GitHub", "users.noreply.github.com": None,
                         "example.cn": None}, [(date.min, "Old Corp")])
        for repo_id, commits in ((github_id, sample), (local_id, other)):
            await check_commit_affiliations(conn, repo_id, commits, expect)
        assert await contributor_affiliations(conn, people) == {
            "maintainer@mail.corp.redhat.com": "Red Hat Corporate", "zoe@example.com": "Old Corp",
            "someone@gmail.com": None}
        after = {r["sha"]: r for r in await conn.fetch(
            "SELECT sha, xmin::text AS xmin, author_affiliation, committer_affiliation FROM data.commits")}
        same = [sha for sha, r in after.items()
                if (r["author_affiliation"], r["committer_affiliation"])
                == (before[sha]["author_affiliation"], before[sha]["committer_affiliation"])]
        assert same and len(same) < len(after), "some commits keep their organisations, some do not"
        assert all(after[sha]["xmin"] == before[sha]["xmin"] for sha in same), "unchanged rows are not rewritten"
        # The aggregates do not depend on affiliations and stay as they were.
        assert await activity(conn, "data.repo_group_activity", "repo_group_id", group) == grouped
    finally:
        await conn.close()


async def check_parents_and_messages(conn: asyncpg.Connection, repo_id: int, commits: dict[str, GitCommit]) -> None:
    parents: dict[str, list[str]] = {sha: [] for sha in commits}
    for r in await conn.fetch("SELECT sha, parent_sha, position FROM data.commit_parents WHERE repo_id = $1"
                              " ORDER BY sha, position", repo_id):
        assert r["position"] == len(parents[r["sha"]]) + 1
        parents[r["sha"]].append(r["parent_sha"])
    assert parents == {sha: c.parents for sha, c in commits.items()}
    assert sum(len(p) == 2 for p in parents.values()) == 1 and sum(not p for p in parents.values()) == 1
    messages = dict(await conn.fetch("SELECT sha, message FROM data.commit_messages WHERE repo_id = $1", repo_id))
    # git log's %B ends the message with a newline, which the facade drops.
    assert messages == {sha: c.message.removesuffix("\n") for sha, c in commits.items()}
    assert any(m.count("\n\n") >= 2 for m in messages.values()), "a multi-paragraph message"


async def check_commit_affiliations(conn: asyncpg.Connection, repo_id: int, commits: dict[str, GitCommit],
                                    expect: Expect) -> None:
    rows = {r["sha"]: r for r in await conn.fetch(
        "SELECT sha, author_affiliation, committer_affiliation FROM data.commits WHERE repo_id = $1", repo_id)}
    assert set(rows) == set(commits)
    for sha, c in commits.items():
        assert rows[sha]["author_affiliation"] == expect(c.author_email, c.author_date), (c.author_email, c.author_date)
        assert rows[sha]["committer_affiliation"] == expect(c.committer_email, c.committer_date), c.committer_email
    found = {r["author_affiliation"] for r in rows.values()} | {r["committer_affiliation"] for r in rows.values()}
    assert len(found) >= 3, found


async def activity(conn: asyncpg.Connection, table: str, owner: str,
                   owner_id: int) -> dict[tuple[str, date], tuple[int, int, int, int]]:
    return {(r["period"], r["period_start"]): (r["commits"], r["lines_added"], r["lines_removed"], r["authors"])
            for r in await conn.fetch(f"SELECT * FROM {table} WHERE {owner} = $1", owner_id)}


async def contributor_affiliations(conn: asyncpg.Connection, people: list[dict[str, Any]]) -> dict[str, str | None]:
    rows = await conn.fetch("SELECT email, affiliation FROM data.contributors"
                            " WHERE platform_user_id = ANY($1::bigint[])", [u["id"] for u in people])
    return {r["email"]: r["affiliation"] for r in rows}


async def restart_processor(settings: Settings, conn: asyncpg.Connection, *, expected_user_rows: int) -> None:
    processor = create_processor(settings, Metrics())
    await processor.start()
    try:
        for _ in range(200):
            if await conn.fetchval("SELECT count(*) FROM data.affiliations WHERE source = 'user'") == expected_user_rows:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the processor did not apply the changed mappings")
    finally:
        await processor.stop()
