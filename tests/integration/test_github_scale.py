"""Acceptance at scale: a generated repository with thousands of issues and pull requests and
all their children (NUL bytes, lone surrogates, emoji, 100 KB bodies, the ghost user, bots, a
pull request with more than 100 reviews, commits and files) lands completely, item by item.
Then 1% of it changes as it does on GitHub (new comments on old closed issues, edited pull
requests, new reviews of old ones) and a second collection writes exactly those changes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from shared.fakeforge import FakeForge, RepoData, generate_dataset
from shared.fakeforge.gitrepo import create_sample_git_repo
from tests.integration.conftest import PIPELINE_TOKEN, Collect
from tests.integration.test_github_full import check_children, request_floor, touched
from tests.integration.test_slice import (
    check_cleaned_text,
    check_comments,
    check_contributors,
    check_issues,
    check_pulls,
)

pytestmark = pytest.mark.integration

OWNER, NAME = "watershed-demo", "thousands"  # the owner is the organization test_github_full checks
URL = f"https://github.com/{OWNER}/{NAME}"
LATER = "2025-06-02T08:00:00Z"  # after everything the generator writes


def dataset():  # type: ignore[no-untyped-def]
    return generate_dataset(17, OWNER, NAME, n_users=150, n_issues=2000, n_pulls=1000, n_comments=4000,
                            huge_bodies=6, big_prs=1, big_pr_size=130)


@pytest.fixture
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeForge]:
    """Overrides conftest's: the generated repository, its git history, a token that may push."""
    fake = FakeForge(dataset(), push_tokens=(PIPELINE_TOKEN,))
    fake.add_git_repo(f"{OWNER}/{NAME}", create_sample_git_repo(tmp_path_factory.mktemp("git") / "sample"))
    with fake:
        yield fake


@dataclass
class Changes:
    commented: list[dict[str, Any]]  # the new comments
    edited: list[int]  # pull request numbers
    reviewed: list[dict[str, Any]]  # the new reviews


def change_one_percent(repo: RepoData) -> Changes:
    """What GitHub does on each change: the parent's ``updated_at`` (and comment count) move too."""
    share = max(1, (len(repo.issues)) // 100 // 3)
    closed = [i for i in repo.plain_issues if i["state"] == "closed"][:share]
    next_comment = 1 + max(c["id"] for c in repo.comments)
    commented = []
    for n, issue in enumerate(closed):
        comment = {**copy.deepcopy(repo.comments[n]), "id": next_comment + n, "node_id": f"IC_new{n}",
                   "issue_url": issue["url"], "html_url": f"{issue['html_url']}#issuecomment-{next_comment + n}",
                   "body": f"Still happening in 2025 🎉 ({n})", "created_at": LATER, "updated_at": LATER}
        repo.comments.append(comment)
        issue.update(comments=issue["comments"] + 1, updated_at=LATER)
        commented.append(comment)
    pulls = repo.pulls[: 2 * share]
    edited = [p["number"] for p in pulls[:share]]
    for pull in pulls[:share]:
        pull.update(title=f"{pull['title']} (edited)", updated_at=LATER)
        repo.issue(pull["number"]).update(title=pull["title"], updated_at=LATER)  # type: ignore[union-attr]
    template = next(r for reviews in repo.reviews.values() for r in reviews)
    next_review = 1 + max(r["id"] for reviews in repo.reviews.values() for r in reviews)
    reviewed = []
    for n, pull in enumerate(pulls[share:]):
        review = {**copy.deepcopy(template), "id": next_review + n, "node_id": f"PRR_new{n}", "state": "APPROVED",
                  "body": f"late approval {n}", "submitted_at": LATER}
        repo.reviews.setdefault(pull["number"], []).append(review)
        pull["updated_at"] = LATER
        repo.issue(pull["number"])["updated_at"] = LATER  # type: ignore[index]
        reviewed.append(review)
    return Changes(commented, edited, reviewed)


async def check_everything(conn: asyncpg.Connection, data: RepoData, forge: FakeForge) -> None:
    repo_id = await conn.fetchval("SELECT repo_id FROM data.repos")
    await check_issues(conn, repo_id, data)
    await check_pulls(conn, repo_id, data)
    await check_comments(conn, repo_id, data)
    await check_cleaned_text(conn, repo_id, data)
    await check_contributors(conn, data, forge.dataset.org_members.get(OWNER))
    await check_children(conn, data, forge)


async def test_thousands_land_whole_and_one_percent_changed_lands_exactly(
    collect_repos: Collect, pipeline: Any, forge: FakeForge
) -> None:
    data = forge.dataset.repositories[f"{OWNER}/{NAME}"]
    assert len(data.plain_issues) >= 2000 and len(data.pulls) >= 1000
    bodies = [*(i["body"] for i in data.issues), *(c["body"] for c in [*data.comments, *data.review_comments])]
    assert sum(len((b or "").encode("utf-8", "surrogatepass")) >= 100 * 1024 for b in bodies) == 6
    reply = await collect_repos([URL], timeout=600)
    assert reply.targets[0].error is None
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        full = await conn.fetchrow("SELECT * FROM ops.collection_status WHERE phase = 'collector'")
        assert full["state"] == "done", full["last_error"]
        await check_everything(conn, data, forge)
        assert full["requests"] <= 1.25 * request_floor(data), (dict(full), request_floor(data))

        changes = change_one_percent(data)
        before = await conn.fetchval("SELECT txid_current()")
        await collect_repos([URL], timeout=600)
        again = await conn.fetchrow("SELECT * FROM ops.collection_status WHERE phase = 'collector'")
        assert again["state"] == "done" and again["job_id"] != full["job_id"], again["last_error"]
        await check_everything(conn, data, forge)
        # Exactly the changes: their parents (whose updated_at moved), the new comments and reviews.
        assert await touched(conn, before) == {
            "issues": len(changes.commented), "messages": len(changes.commented),
            "pull_requests": len(changes.edited) + len(changes.reviewed), "reviews": len(changes.reviewed)}
        # Each changed stream costs a page, the changed pull requests one GraphQL query.
        assert again["charged"] <= 10 and again["requests_graphql"] == 1, dict(again)
        print(f"\nfull: requests={full['requests']} floor={request_floor(data)}; "
              f"1% changed: requests={again['requests']} charged={again['charged']}")
    finally:
        await conn.close()
