"""Acceptance: the vertical slice on real NATS and PostgreSQL, against the fake forge and a
local git repository; every row is checked against what the dataset and git say."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from shared.db import apply_migrations
from shared.fakeforge import SAMPLE_REPO, Dataset, RepoData
from shared.fakeforge.gitrepo import git_env
from shared.ids import contributor_id

pytestmark = pytest.mark.integration

GITHUB_URL = f"https://github.com/{SAMPLE_REPO}"
_SURROGATE = re.compile("[\ud800-\udfff]")
_TABLES = ("repos", "contributors", "issues", "issue_labels", "issue_assignees", "pull_requests",
           "pull_request_labels", "pull_request_assignees", "pull_request_reviewers", "messages", "commits",
           "commit_files", "commit_parents", "commit_messages", "repo_activity", "repo_group_activity")


def cleaned(text: str | None) -> str | None:
    """What PostgreSQL can hold: NUL and lone surrogates become U+FFFD (written here, not imported)."""
    return None if text is None else _SURROGATE.sub("\ufffd", text.replace("\x00", "\ufffd"))


def when(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def cid(user: dict[str, Any] | None) -> uuid.UUID | None:
    return None if user is None else contributor_id("github", user["id"])


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=git_env(), capture_output=True, check=True,
                          text=True).stdout


async def table_counts(conn: asyncpg.Connection) -> dict[str, int]:
    return {t: await conn.fetchval(f"SELECT count(*) FROM data.{t}") for t in _TABLES}


async def test_slice_rows_match_the_dataset_and_git(collect_repos, pipeline, sample_dataset: Dataset,
                                                     sample_git_repo: Path) -> None:
    local_url = sample_git_repo.as_uri()
    reply = await collect_repos([GITHUB_URL, str(sample_git_repo)])
    assert [t.error for t in reply.targets] == [None, None]
    assert [t.url for t in reply.targets] == [GITHUB_URL, local_url]
    github_id, local_id = (t.repo_id for t in reply.targets)
    data = sample_dataset.repositories[SAMPLE_REPO]

    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        await check_status(conn, {github_id: {"collector", "facade", "resolver"}, local_id: {"facade", "resolver"}})
        await check_repo(conn, github_id, data)
        await check_contributors(conn, data, sample_dataset.org_members.get(data.repository["owner"]["login"]))
        await check_issues(conn, github_id, data)
        await check_pulls(conn, github_id, data)
        await check_comments(conn, github_id, data)
        await check_cleaned_text(conn, github_id, data)
        for repo_id in (github_id, local_id):
            await check_commits(conn, repo_id, sample_git_repo)

        before = await table_counts(conn)
        ids_before = await identities(conn)
        again = await collect_repos([GITHUB_URL, str(sample_git_repo)])
        assert [(t.repo_id, t.created, t.error) for t in again.targets] == [(github_id, False, None),
                                                                              (local_id, False, None)]
        assert again.targets[0].jobs != reply.targets[0].jobs, "the second pass ran new jobs"
        await check_status(conn, {github_id: {"collector", "facade", "resolver"}, local_id: {"facade", "resolver"}})
        assert await table_counts(conn) == before
        assert await identities(conn) == ids_before
    finally:
        await conn.close()


async def identities(conn: asyncpg.Connection) -> dict[str, set[tuple[Any, ...]]]:
    return {
        "contributors": {tuple(r) for r in await conn.fetch("SELECT cntrb_id, login, kind FROM data.contributors")},
        "issues": {tuple(r) for r in await conn.fetch("SELECT issue_id, repo_id, number FROM data.issues")},
        "pulls": {tuple(r) for r in await conn.fetch("SELECT pull_request_id, repo_id, number FROM data.pull_requests")},
        "repos": {tuple(r) for r in await conn.fetch("SELECT repo_id, url FROM data.repos")},
    }


async def check_status(conn: asyncpg.Connection, phases: dict[int, set[str]]) -> None:
    rows = await conn.fetch("SELECT repo_id, phase, state, next_due, last_success_at, last_error, now() AS now"
                            " FROM ops.collection_status")
    assert {(r["repo_id"], r["phase"]) for r in rows} == {(rid, p) for rid, ps in phases.items() for p in ps}
    for r in rows:
        assert r["state"] == "done", dict(r)
        assert r["last_error"] is None
        assert r["last_success_at"] is not None
        assert r["next_due"] is not None and r["next_due"] > r["now"]


async def check_repo(conn: asyncpg.Connection, repo_id: int, data: RepoData) -> None:
    meta = data.repository
    row = await conn.fetchrow("SELECT * FROM data.repos WHERE repo_id = $1", repo_id)
    assert row["state"] == "active"
    assert (row["platform"], row["owner"], row["name"]) == ("github", *SAMPLE_REPO.split("/"))
    assert row["platform_repo_id"] == meta["id"]
    assert row["stars"] == meta["stargazers_count"]
    assert row["forks"] == meta["forks_count"]
    assert row["default_branch"] == meta["default_branch"]
    assert row["license"] == meta["license"]["spdx_id"]
    assert row["description"] == meta["description"]
    assert row["created_at"] == when(meta["created_at"])
    assert row["owner_id"] == cid(meta["owner"])


def referenced_users(data: RepoData, org_members: list[dict[str, Any]] | None = None) -> dict[int, dict[str, Any]]:
    """Every account a full collection names: entities, their children, contributors, members."""
    users: dict[int, dict[str, Any]] = {data.repository["owner"]["id"]: data.repository["owner"]}

    def add(*found: dict[str, Any] | None) -> None:
        for user in found:
            if user is not None:
                users[user["id"]] = user

    for issue in data.plain_issues:
        add(issue["user"], issue.get("closed_by"), *issue["assignees"])
    for pull in data.pulls:
        add(pull["user"], *pull["assignees"], *(pull.get("requested_reviewers") or []), pull.get("merged_by"))
    for comment in [*data.comments, *data.review_comments]:
        add(comment["user"])
    for review in (r for reviews in data.reviews.values() for r in reviews):
        add(review["user"])
    for commit in (c for commits in data.pr_commits.values() for c in commits):
        add(commit.get("author"), commit.get("committer"))
    for event in data.issue_events:
        add(event.get("actor"), event.get("assignee"))
    for release in data.releases:
        add(release.get("author"))
    add(*data.contributors, *(org_members or []))
    return users


async def noreply_accounts(conn: asyncpg.Connection) -> dict[int, dict[str, Any]]:
    """Accounts the resolver found named by noreply commit addresses (``{id}+{login}@...``),
    which no forge list names: the sample git history has such an author."""
    found: dict[int, dict[str, Any]] = {}
    for r in await conn.fetch("SELECT email FROM data.contributor_aliases WHERE source = 'noreply'"):
        user_id, login = r["email"].split("@", 1)[0].split("+", 1)
        found[int(user_id)] = {"id": int(user_id), "login": login}
    return found


async def check_contributors(conn: asyncpg.Connection, data: RepoData, members: list[dict[str, Any]] | None) -> None:
    rows = {r["cntrb_id"]: r for r in await conn.fetch("SELECT * FROM data.contributors")}
    expected = {**await noreply_accounts(conn), **referenced_users(data, members)}
    assert set(rows) == {cid(u) for u in expected.values()}
    kinds = {}
    for user in expected.values():
        row = rows[cid(user)]
        assert (row["platform"], row["platform_user_id"], row["login"]) == ("github", user["id"], user["login"])
        kinds[user["login"]] = row["kind"]
    assert kinds.pop("ghost") == "Ghost"
    bots = {login for login in kinds if login.endswith("[bot]")}
    assert bots, "the dataset has bots"
    assert {login for login, kind in kinds.items() if kind == "Bot"} == bots
    assert set(kinds.values()) - {"Bot"} <= {"User", "Organization"}


async def check_issues(conn: asyncpg.Connection, repo_id: int, data: RepoData) -> None:
    rows = {r["number"]: r for r in await conn.fetch("SELECT * FROM data.issues WHERE repo_id = $1", repo_id)}
    issues = {i["number"]: i for i in data.plain_issues}
    assert len(issues) < len(data.issues), "pull requests in the issues list are not issues"
    assert set(rows) == set(issues)
    labels: dict[int, set[str]] = defaultdict(set)
    for r in await conn.fetch("SELECT i.number, l.name FROM data.issue_labels l JOIN data.issues i USING (issue_id)"
                              " WHERE i.repo_id = $1", repo_id):
        labels[r["number"]].add(r["name"])
    assignees: dict[int, set[uuid.UUID]] = defaultdict(set)
    for r in await conn.fetch("SELECT i.number, a.cntrb_id FROM data.issue_assignees a JOIN data.issues i"
                              " USING (issue_id) WHERE i.repo_id = $1", repo_id):
        assignees[r["number"]].add(r["cntrb_id"])
    for number, issue in issues.items():
        row = rows[number]
        assert row["platform_issue_id"] == issue["id"]
        assert (row["title"], row["body"]) == (cleaned(issue["title"]), cleaned(issue["body"]))
        assert (row["state"], row["state_reason"]) == (issue["state"], issue.get("state_reason"))
        assert row["closed_at"] == when(issue["closed_at"])
        assert row["created_at"] == when(issue["created_at"])
        assert row["updated_at"] == when(issue["updated_at"])
        assert row["author_id"] == cid(issue["user"])
        assert row["closed_by_id"] == cid(issue.get("closed_by"))
        assert row["comments"] == issue["comments"]
        assert labels[number] == {label["name"] for label in issue["labels"]}, number
        assert assignees[number] == {cid(a) for a in issue["assignees"]}, number
    assert sum(map(len, labels.values())) == sum(len(i["labels"]) for i in issues.values())
    # The dataset's traps, each checked by name so a changed sample cannot hide them.
    assert any(i["state"] == "closed" and i.get("closed_by") for i in issues.values())
    assert any(rows[n]["author_id"] is None for n, i in issues.items() if i["user"] is None)


async def check_pulls(conn: asyncpg.Connection, repo_id: int, data: RepoData) -> None:
    rows = {r["number"]: r for r in await conn.fetch("SELECT * FROM data.pull_requests WHERE repo_id = $1", repo_id)}
    pulls = {p["number"]: p for p in data.pulls}
    assert set(rows) == set(pulls)
    children: dict[str, dict[int, set[Any]]] = {}
    for table, column in (("pull_request_labels", "name"), ("pull_request_assignees", "cntrb_id"),
                          ("pull_request_reviewers", "cntrb_id")):
        found: dict[int, set[Any]] = defaultdict(set)
        for r in await conn.fetch(f"SELECT p.number, c.{column} AS v FROM data.{table} c JOIN data.pull_requests p"
                                  " USING (pull_request_id) WHERE p.repo_id = $1", repo_id):
            found[r["number"]].add(r["v"])
        children[table] = found
    for number, pull in pulls.items():
        row = rows[number]
        head, base = pull["head"], pull["base"]
        assert row["platform_pr_id"] == pull["id"]
        assert (row["title"], row["body"]) == (cleaned(pull["title"]), cleaned(pull["body"]))
        assert (row["state"], row["draft"]) == (pull["state"], bool(pull["draft"]))
        assert row["merged_at"] == when(pull["merged_at"])
        assert row["closed_at"] == when(pull["closed_at"])
        assert row["merge_commit_sha"] == pull["merge_commit_sha"]
        assert (row["head_ref"], row["head_sha"]) == (head["ref"], head["sha"])
        assert row["head_repo"] == (head["repo"]["full_name"] if head.get("repo") else None)
        assert (row["base_ref"], row["base_sha"]) == (base["ref"], base["sha"])
        assert row["author_id"] == cid(pull["user"])
        assert children["pull_request_labels"][number] == {lb["name"] for lb in pull["labels"]}
        assert children["pull_request_assignees"][number] == {cid(a) for a in pull["assignees"]}
        assert children["pull_request_reviewers"][number] == {cid(r) for r in pull.get("requested_reviewers") or []}
    assert any(p["merged_at"] for p in pulls.values()) and any(not p["merged_at"] for p in pulls.values())
    assert any(p["head"].get("repo") is None for p in pulls.values()), "a PR from a deleted fork"


async def check_comments(conn: asyncpg.Connection, repo_id: int, data: RepoData) -> None:
    rows = {r["platform_msg_id"]: r for r in await conn.fetch("SELECT * FROM data.messages WHERE repo_id = $1",
                                                              repo_id)}
    comments = {c["id"]: c for c in data.comments}
    assert set(rows) == set(comments)
    for msg_id, comment in comments.items():
        row = rows[msg_id]
        assert row["parent_number"] == int(comment["issue_url"].rsplit("/", 1)[1])
        assert row["body"] == cleaned(comment["body"])
        assert row["author_id"] == cid(comment["user"])
        assert row["created_at"] == when(comment["created_at"])
    assert any("\x00" in (c["body"] or "") for c in comments.values())


async def check_cleaned_text(conn: asyncpg.Connection, repo_id: int, data: RepoData) -> None:
    """The dataset's traps, found by content so a regenerated sample cannot silently drop them."""
    stored = {("issue", r["platform_issue_id"]): r["body"] for r in await conn.fetch(
        "SELECT platform_issue_id, body FROM data.issues WHERE repo_id = $1", repo_id)}
    stored |= {("pull", r["platform_pr_id"]): r["body"] for r in await conn.fetch(
        "SELECT platform_pr_id, body FROM data.pull_requests WHERE repo_id = $1", repo_id)}
    stored |= {("comment", r["platform_msg_id"]): r["body"] for r in await conn.fetch(
        "SELECT platform_msg_id, body FROM data.messages WHERE repo_id = $1", repo_id)}
    raw = {("issue", i["id"]): i["body"] for i in data.plain_issues}
    raw |= {("pull", p["id"]): p["body"] for p in data.pulls}
    raw |= {("comment", c["id"]): c["body"] for c in data.comments}
    nul = [key for key, body in raw.items() if body and "\x00" in body]
    lone = [key for key, body in raw.items() if body and _SURROGATE.search(body)]
    assert nul and lone, "the sample has a NUL byte and a lone surrogate"
    for key in nul + lone:
        body = stored[key]
        assert "\x00" not in body and not _SURROGATE.search(body) and "\ufffd" in body, key
        body.encode("utf-8")


def numstat(repo: Path) -> dict[str, list[tuple[str, int, int]]]:
    """Per commit reachable from HEAD: (path, added, deleted), as the facade is to see them."""
    out = git(repo, "log", "--numstat", "-M", "--diff-merges=off", "--format=@%H", "HEAD")
    files: dict[str, list[tuple[str, int, int]]] = {}
    sha = ""
    for line in out.splitlines():
        if line.startswith("@"):
            sha = line[1:]
            files[sha] = []
        elif line.strip():
            added, deleted, path = line.split("\t", 2)
            files[sha].append((path, 0 if added == "-" else int(added), 0 if deleted == "-" else int(deleted)))
    return files


async def check_commits(conn: asyncpg.Connection, repo_id: int, repo: Path) -> None:
    shas = git(repo, "rev-list", "HEAD").split()
    assert len(shas) == int(git(repo, "rev-list", "--count", "HEAD"))
    commits = {r["sha"]: r for r in await conn.fetch("SELECT * FROM data.commits WHERE repo_id = $1", repo_id)}
    assert set(commits) == set(shas)
    stored: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in await conn.fetch("SELECT * FROM data.commit_files WHERE repo_id = $1", repo_id):
        stored[r["sha"]].append(r)
    expected = numstat(repo)
    assert sum(map(len, stored.values())) == sum(map(len, expected.values()))
    for sha, files in expected.items():
        row = commits[sha]
        assert row["files_changed"] == len(files) == len(stored[sha]), sha
        assert (row["additions"], row["deletions"]) == (sum(f[1] for f in files), sum(f[2] for f in files))
        plain = {f[0] for f in files if " => " not in f[0]}
        assert plain <= {r["path"] for r in stored[sha]}
        if any(" => " in f[0] for f in files):
            assert any(r["old_path"] for r in stored[sha]), "renames keep their old path"
    header = git(repo, "log", "-1", "--format=%P%x00%an%x00%ae%x00%aI%x00%B", "HEAD").split("\x00")
    head = commits[shas[0]]
    parents: dict[str, list[str]] = defaultdict(list)
    for r in await conn.fetch("SELECT sha, parent_sha FROM data.commit_parents WHERE repo_id = $1"
                              " ORDER BY sha, position", repo_id):
        parents[r["sha"]].append(r["parent_sha"])
    assert parents[shas[0]] == header[0].split()
    assert (head["author_name"], head["author_email"]) == (header[1], header[2])
    assert head["author_date"] == datetime.fromisoformat(header[3])
    message = await conn.fetchval("SELECT message FROM data.commit_messages WHERE repo_id = $1 AND sha = $2",
                                  repo_id, shas[0])
    assert message.strip() == header[4].strip()
    merges = [commits[sha] for sha, ps in parents.items() if len(ps) == 2]
    assert len(merges) == 1 and merges[0]["files_changed"] == 0  # --diff-merges=off
    assert any(not r["author_name"].isascii() for r in commits.values())


async def test_surrogate_keys_are_32_bit_integers(fresh_database_url: str) -> None:
    await apply_migrations(fresh_database_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema IN ('data', 'ops') AND column_name IN ('repo_id', 'issue_id', 'pull_request_id')")
    finally:
        await conn.close()
    found = {(r["table_name"], r["column_name"]): r["data_type"] for r in rows}
    for key in (("repos", "repo_id"), ("issues", "issue_id"), ("pull_requests", "pull_request_id"),
                ("issues", "repo_id"), ("pull_requests", "repo_id"), ("collection_status", "repo_id")):
        assert key in found, key
    assert {key: t for key, t in found.items() if t != "integer"} == {}
