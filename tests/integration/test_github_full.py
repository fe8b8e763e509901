"""Acceptance: a generated GitHub repository collected whole through the real pipeline (fake
forge, NATS, PostgreSQL), every child entity compared with the dataset item by item; then
collected again with nothing changed, which must cost almost no quota and rewrite nothing."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from shared.fakeforge import FakeForge, RepoData, generate_dataset
from shared.fakeforge.gitrepo import create_sample_git_repo
from tests.integration.conftest import PIPELINE_TOKEN, Collect
from tests.integration.test_slice import cid, cleaned, when

pytestmark = pytest.mark.integration

OWNER, NAME = "watershed-demo", "generated"
URL = f"https://github.com/{OWNER}/{NAME}"
IDLE_BUDGET = 10  # charged requests allowed for a pass over an unchanged repository
# Tables a collector job fills; the idle pass must leave every row of them as it was.
DATA_TABLES = ("repos", "contributors", "issues", "pull_requests", "messages", "reviews", "review_comments",
               "pr_commits", "pr_files", "issue_events", "releases", "repo_info", "repo_contributors",
               "clone_traffic", "org_members", "pull_request_teams", "issue_labels", "issue_assignees",
               "pull_request_labels", "pull_request_assignees", "pull_request_reviewers")


@pytest.fixture(scope="module")
def generated() -> RepoData:
    # One pull request with 120 reviews, commits and files: GraphQL pages past the first 100.
    return generate_dataset(11, OWNER, NAME, big_prs=1, big_pr_size=120).repositories[f"{OWNER}/{NAME}"]


@pytest.fixture
def forge(generated: RepoData, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeForge]:
    """Overrides conftest's: serves the generated repository; the pipeline's token may push,
    so it reads clone traffic."""
    dataset = generate_dataset(11, OWNER, NAME, big_prs=1, big_pr_size=120)
    fake = FakeForge(dataset, push_tokens=(PIPELINE_TOKEN,))
    fake.add_git_repo(f"{OWNER}/{NAME}", create_sample_git_repo(tmp_path_factory.mktemp("git") / "sample"))
    with fake:
        yield fake


def request_floor(data: RepoData) -> int:
    """The issue's floor: one request per 100 items of each repository-level list, a handful of
    single objects, one GraphQL query per 50 pull requests, one per further 100 children of one."""
    lists = (len(data.plain_issues), len(data.pulls), len(data.comments), len(data.review_comments),
             len(data.issue_events))
    # repository, GraphQL counts, community profile, releases, contributors, clone traffic, org members
    handful = 7
    further = sum(max(0, math.ceil(len(items) / 100) - 1)
                  for part in (data.reviews, data.pr_commits, data.pr_files) for items in part.values())
    return sum(math.ceil(n / 100) for n in lists) + handful + math.ceil(len(data.pulls) / 50) + further


async def rows(conn: asyncpg.Connection, sql: str) -> set[tuple[Any, ...]]:
    return {tuple(r) for r in await conn.fetch(sql)}


async def collector_status(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow("SELECT * FROM ops.collection_status WHERE phase = 'collector'")


async def test_full_collection_matches_the_dataset_and_an_idle_pass_is_free(
    collect_repos: Collect, pipeline: Any, forge: FakeForge, generated: RepoData
) -> None:
    reply = await collect_repos([URL], timeout=120)
    [target] = reply.targets
    assert target.error is None
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        status = await collector_status(conn)
        assert status["state"] == "done", status["last_error"]
        await check_children(conn, generated, forge)
        full = dict(status)
        assert full["requests"] <= 1.25 * request_floor(generated), (full, request_floor(generated))

        # Nothing changed at the forge: every stream answers 304, nothing is published.
        before = await conn.fetchval("SELECT txid_current()")
        await collect_repos([URL], timeout=120)
        idle = await collector_status(conn)
        assert idle["state"] == "done" and idle["job_id"] != full["job_id"], idle["last_error"]
        assert idle["charged"] <= IDLE_BUDGET, dict(idle)
        assert idle["requests_graphql"] == 0 and idle["not_modified"] >= 9
        for table in DATA_TABLES:
            touched = await conn.fetchval(f"SELECT count(*) FROM data.{table} WHERE xmin::text::bigint > $1", before)
            assert touched == 0, f"the idle pass rewrote {touched} rows of data.{table}"
        print(f"\nfloor={request_floor(generated)} requests full={full['requests']} (graphql {full['requests_graphql']}, charged {full['charged']}); "
              f"idle={idle['requests']} (304: {idle['not_modified']}, charged {idle['charged']})")
    finally:
        await conn.close()


async def check_children(conn: asyncpg.Connection, data: RepoData, forge: FakeForge) -> None:
    reviews = [(n, r) for n, items in data.reviews.items() for r in items]
    assert await rows(conn, "SELECT platform_review_id, pr_number, state, author_id, commit_sha, submitted_at, body"
                            " FROM data.reviews") == {
        (r["id"], n, r["state"], cid(r["user"]), r.get("commit_id"), when(r.get("submitted_at")), cleaned(r.get("body")))
        for n, r in reviews}

    assert await rows(conn, "SELECT platform_msg_id, pr_number, platform_review_id, in_reply_to, path, line,"
                            " original_line, commit_sha, original_commit_sha, body, author_id, created_at, updated_at"
                            " FROM data.review_comments") == {
        (c["id"], int(c["pull_request_url"].rsplit("/", 1)[1]), c.get("pull_request_review_id"), c.get("in_reply_to_id"),
         cleaned(c.get("path")), c.get("line"), c.get("original_line"), c.get("commit_id"), c.get("original_commit_id"),
         cleaned(c.get("body")), cid(c["user"]), when(c["created_at"]), when(c["updated_at"]))
        for c in data.review_comments}

    commits = [(n, c) for n, items in data.pr_commits.items() for c in items]
    assert max(len(items) for items in data.pr_commits.values()) > 100
    assert await rows(conn, "SELECT pr_number, sha, message, author_name, author_email, author_date, committer_name,"
                            " committer_email, committer_date, author_id, committer_id FROM data.pr_commits") == {
        (n, c["sha"], cleaned(c["commit"]["message"]), cleaned(c["commit"]["author"]["name"]),
         cleaned(c["commit"]["author"]["email"]), when(c["commit"]["author"]["date"]),
         cleaned(c["commit"]["committer"]["name"]), cleaned(c["commit"]["committer"]["email"]),
         when(c["commit"]["committer"]["date"]), cid(c.get("author")), cid(c.get("committer")))
        for n, c in commits}

    files = [(n, f) for n, items in data.pr_files.items() for f in items]
    # GraphQL's changed files carry no previous path; REST gives it for the pull requests with a rename.
    assert any(f["status"] == "renamed" for _, f in files), "the dataset has renamed files"
    assert await rows(conn, "SELECT pr_number, path, previous_path, status, additions, deletions"
                            " FROM data.pr_files") == {
        (n, cleaned(f["filename"]), cleaned(f.get("previous_filename")), f["status"], f["additions"], f["deletions"])
        for n, f in files}

    assert await rows(conn, "SELECT platform_event_id, issue_number, is_pull_request, event, actor_id, created_at,"
                            " commit_sha FROM data.issue_events") == {
        (e["id"], e["issue"]["number"], "pull_request" in e["issue"], e["event"], cid(e.get("actor")),
         when(e["created_at"]), e.get("commit_id"))
        for e in data.issue_events}

    assert await rows(conn, "SELECT platform_release_id, tag_name, name, draft, prerelease, author_id, created_at,"
                            " published_at FROM data.releases") == {
        (r["id"], r["tag_name"], cleaned(r.get("name")), r["draft"], r["prerelease"], cid(r.get("author")),
         when(r["created_at"]), when(r.get("published_at")))
        for r in data.releases}

    assert await rows(conn, "SELECT cntrb_id, contributions FROM data.repo_contributors") == {
        (cid(u), u["contributions"]) for u in data.contributors}

    traffic = (data.clone_traffic or {}).get("clones", [])
    assert traffic, "the dataset has clone traffic"
    assert await rows(conn, "SELECT day, count, uniques FROM data.clone_traffic") == {
        (when(d["timestamp"]).date(), d["count"], d["uniques"]) for d in traffic}  # type: ignore[union-attr]

    members = forge.dataset.org_members.get(OWNER) or []
    assert await rows(conn, "SELECT org, cntrb_id FROM data.org_members") == {(OWNER, cid(u)) for u in members}

    assert await rows(conn, "SELECT number, platform_pr_id, merged_by_id, upper(mergeable), reviews_total, commits_total,"
                            " files_total FROM data.pull_requests") == {
        (p["number"], p["id"], cid(p.get("merged_by")), _mergeable(p.get("mergeable")), len(data.reviews.get(p["number"], [])),
         len(data.pr_commits.get(p["number"], [])), len(data.pr_files.get(p["number"], [])))
        for p in data.pulls}
    assert await rows(conn, "SELECT pr_number, platform_team_id, slug FROM data.pull_request_teams") == {
        (p["number"], t["id"], t["slug"]) for p in data.pulls for t in p.get("requested_teams") or []}

    info = await conn.fetchrow("SELECT * FROM data.repo_info")
    repo, plain = data.repository, data.plain_issues
    files = (data.community_profile or {}).get("files", {})
    assert (info["stars"], info["forks"], info["default_branch"]) == (
        repo["stargazers_count"], repo["forks_count"], repo["default_branch"])
    assert (info["open_issues"], info["closed_issues"]) == (
        sum(i["state"] == "open" for i in plain), sum(i["state"] == "closed" for i in plain))
    assert (info["open_pull_requests"], info["merged_pull_requests"]) == (
        sum(p["state"] == "open" for p in data.pulls), sum(p.get("merged_at") is not None for p in data.pulls))
    assert info["closed_pull_requests"] == sum(p["state"] == "closed" and p.get("merged_at") is None for p in data.pulls)
    assert (info["has_readme"], info["has_contributing"], info["has_security"], info["has_changelog"]) == (
        files.get("readme") is not None, files.get("contributing") is not None,
        files.get("security") is not None, files.get("changelog") is not None)
    assert info["health_percentage"] == (data.community_profile or {}).get("health_percentage")


def _mergeable(value: bool | None) -> str:
    return {True: "MERGEABLE", False: "CONFLICTING"}.get(value, "UNKNOWN")  # type: ignore[arg-type]




async def touched(conn: asyncpg.Connection, before: int) -> dict[str, int]:
    counts = {}
    for table in DATA_TABLES:
        counts[table] = await conn.fetchval(f"SELECT count(*) FROM data.{table} WHERE xmin::text::bigint > $1", before)
    return {table: n for table, n in counts.items() if n}


async def test_second_pass_reads_only_what_changed(collect_repos: Collect, pipeline: Any, forge: FakeForge) -> None:
    await collect_repos([URL], timeout=120)
    repo = forge.dataset.repositories[f"{OWNER}/{NAME}"]
    later = "2025-06-01T10:00:00Z"
    # An issue edited, a pull request reviewed, a new comment, a new event: nothing else moves.
    issue = repo.plain_issues[0]
    issue.update(title="edited after the first pass", updated_at=later)
    pull = repo.pulls[-1]
    number = pull["number"]
    pull["updated_at"] = later
    repo.issue(number)["updated_at"] = later  # type: ignore[index]
    # Ids grow with time on GitHub (the repository's events are listed by id, newest first).
    review_id = 1 + max(r["id"] for reviews in repo.reviews.values() for r in reviews)
    comment_id = 1 + max(c["id"] for c in repo.comments)
    event_id = 1 + max(e["id"] for e in repo.issue_events)
    template = next(r for reviews in repo.reviews.values() for r in reviews)
    repo.reviews.setdefault(number, []).append(
        {**template, "id": review_id, "node_id": "PRR_late", "body": "late review", "submitted_at": later})
    repo.comments.append({**repo.comments[0], "id": comment_id, "node_id": "IC_late", "body": "late comment",
                          "created_at": later, "updated_at": later})
    repo.issue_events.append({**repo.issue_events[0], "id": event_id, "node_id": "IE_late", "created_at": later})

    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        before = await conn.fetchval("SELECT txid_current()")
        await collect_repos([URL], timeout=120)
        status = await collector_status(conn)
        assert status["state"] == "done", status["last_error"]
        # Changed streams: one page each; the reviewed pull request: one GraphQL query.
        assert status["charged"] <= IDLE_BUDGET, dict(status)
        print(f"\nincremental: requests={status['requests']} (graphql {status['requests_graphql']}, "
              f"304: {status['not_modified']}, charged {status['charged']})")
        assert await conn.fetchval("SELECT title FROM data.issues WHERE platform_issue_id = $1", issue["id"]) == \
            "edited after the first pass"
        assert await conn.fetchval("SELECT body FROM data.reviews WHERE platform_review_id = $1", review_id) == \
            "late review"
        assert await conn.fetchval("SELECT count(*) FROM data.messages WHERE platform_msg_id = $1", comment_id) == 1
        assert await conn.fetchval("SELECT count(*) FROM data.issue_events WHERE platform_event_id = $1", event_id) == 1
        # Labels and assignees of the edited issue and pull request did not change: not rewritten.
        expected = {"issues": 1, "pull_requests": 1, "reviews": 1, "messages": 1, "issue_events": 1}
        assert await touched(conn, before) == expected
    finally:
        await conn.close()
