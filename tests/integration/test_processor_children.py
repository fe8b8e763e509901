"""The processor on every fact beyond issues and PRs: rows land, a repeat rewrites nothing,
and a job's cursors become the stored cursors only once the whole job is committed."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import nats
import pytest

from services.processor.app import create_app
from shared.db import apply_migrations
from shared.events import subjects, v1
from shared.events.jetstream import Publisher, ensure_streams
from shared.metrics import Metrics
from shared.settings import load_settings

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
ALICE = v1.User(platform_id=101, login="alice")
BOB = v1.User(platform_id=102, login="dependabot[bot]", kind="Bot")
TABLES = ("reviews", "review_comments", "pr_commits", "pr_files", "issue_events", "releases", "repo_contributors",
          "clone_traffic", "repo_info", "org_members", "pull_request_teams")


def job_events(job_id: str, *, with_finish: bool = True) -> list[v1.JobEvent]:
    job = {"repo_id": 1, "job_id": job_id, "attempt": 1}
    items: list[v1.JobEvent] = [
        v1.ReviewsObserved(**job, seq=0, items=[
            v1.Review(platform_id=1, pr_number=7, state="APPROVED", author=ALICE, body="ok\x00", submitted_at=T0),
            v1.Review(platform_id=2, pr_number=7, state="COMMENTED", author=None, submitted_at=T0)]),
        v1.ReviewCommentsObserved(**job, seq=1, items=[
            v1.ReviewComment(platform_id=3, pr_number=7, review_id=1, path="a.py", line=4, body="nit",
                             author=BOB, created_at=T0, updated_at=T0)]),
        v1.PrCommitsObserved(**job, seq=2, items=[
            v1.PrCommit(pr_number=7, sha="a" * 40, message="fix", author_name="Alice", author=ALICE,
                        author_date=T0, additions=3, deletions=1)]),
        v1.PrFilesObserved(**job, seq=3, items=[
            v1.PrFile(pr_number=7, path="a.py", status="modified", additions=3, deletions=1),
            v1.PrFile(pr_number=7, path="b.py", previous_path="c.py", status="renamed")]),
        v1.PullRequestDetailsObserved(**job, seq=4, items=[
            v1.PullRequestDetail(number=7, platform_id=7007, merged_by=ALICE, merge_state="CLEAN",
                                 requested_teams=[v1.Team(platform_id=9, slug="core", name="Core")])]),
        v1.IssueEventsObserved(**job, seq=5, items=[
            v1.IssueEvent(platform_id=11, issue_number=3, event="labeled", label="bug", actor=ALICE, created_at=T0),
            v1.IssueEvent(platform_id=12, issue_number=3, event="renamed", rename_from="a", rename_to="b",
                          actor=None, created_at=T0)]),
        v1.ReleasesObserved(**job, seq=6, items=[v1.Release(platform_id=21, tag_name="v1.0", author=ALICE,
                                                            published_at=T0)]),
        v1.RepoInfoObserved(**job, seq=7, info=v1.RepoInfo(stars=5, has_readme=True, commit_count=40),
                            observed_at=T0),
        v1.ContributorsObserved(**job, seq=8, items=[v1.Contribution(user=ALICE, contributions=12)]),
        v1.CloneTrafficObserved(**job, seq=9, items=[v1.CloneDay(day=T0, count=4, uniques=2)]),
        v1.OrgMembersObserved(**job, seq=10, org="acme", items=[ALICE, BOB]),
        v1.CursorObserved(**job, seq=11, stream="issues", value="2024-05-01T12:00:00Z", etag='W/"1"'),
    ]
    if with_finish:
        items.append(v1.JobFinished(**job, seq=12, phase="collector", messages=12, requests=5, requests_graphql=1,
                                    not_modified=2, charged=3))
    return items


async def publish(js: object, events: list[v1.Struct]) -> None:
    publisher = Publisher(js)  # type: ignore[arg-type]
    for event in events:
        repo = getattr(event, "repo_id", subjects.CONTROL_REPO_KEY)
        await publisher.send(subjects.event_subject(subjects.SOURCE_FORGE, repo, "x"), event)
    await publisher.flush()


async def wait_for(conn: asyncpg.Connection, sql: str, expected: object, timeout: float = 20) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (value := await conn.fetchval(sql)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{sql} -> {value!r}, wanted {expected!r}"
        await asyncio.sleep(0.05)


async def test_children_land_once_and_cursors_wait_for_the_job(nats_url: str, fresh_database_url: str,
                                                               tmp_path: Path) -> None:
    await apply_migrations(fresh_database_url)
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path)
    processor = create_app(settings, Metrics())
    await processor.start()
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await publish(js, [v1.RepoRegistered(url="https://github.com/acme/app", platform="github",
                                             host="github.com", owner="acme", name="app")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 1)
        await publish(js, [v1.JobDispatched(repo_id=1, phase="collector", job_id="j1", dispatched_at=T0),
                           *job_events("j1", with_finish=False)])
        await wait_for(conn, "SELECT count(*) FROM data.reviews", 2)
        # Every fact is in, but the job has not said it is finished: the cursor must wait.
        assert await conn.fetchval("SELECT count(*) FROM ops.cursors") == 0
        assert await conn.fetchval("SELECT count(*) FROM ops.pending_cursors") == 1
        await publish(js, [job_events("j1")[-1]])
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE job_id = 'j1'", "committed")
        assert await conn.fetchval("SELECT value FROM ops.cursors WHERE stream = 'issues'") == "2024-05-01T12:00:00Z"
        assert await conn.fetchval("SELECT count(*) FROM ops.pending_cursors") == 0
        status = await conn.fetchrow("SELECT requests, requests_graphql, not_modified, charged"
                                     " FROM ops.collection_status WHERE job_id = 'j1'")
        assert dict(status) == {"requests": 5, "requests_graphql": 1, "not_modified": 2, "charged": 3}

        counts = {t: await conn.fetchval(f"SELECT count(*) FROM data.{t}") for t in TABLES}
        assert counts == {"reviews": 2, "review_comments": 1, "pr_commits": 1, "pr_files": 2, "issue_events": 2,
                          "releases": 1, "repo_contributors": 1, "clone_traffic": 1, "repo_info": 1,
                          "org_members": 2, "pull_request_teams": 1}
        assert await conn.fetchval("SELECT body FROM data.reviews WHERE platform_review_id = 1") == "ok\ufffd"
        pr = await conn.fetchrow("SELECT number, merge_state, merged_by_id IS NOT NULL AS merged_by"
                                 " FROM data.pull_requests WHERE platform_pr_id = 7007")
        assert dict(pr) == {"number": 7, "merge_state": "CLEAN", "merged_by": True}
        assert await conn.fetchval("SELECT kind FROM data.contributors WHERE login = 'dependabot[bot]'") == "Bot"

        # The same facts again, as another job: nothing is rewritten (xmin is the writing transaction).
        before = {t: await conn.fetch(f"SELECT xmin::text FROM data.{t} ORDER BY 1") for t in TABLES}
        await publish(js, [v1.JobDispatched(repo_id=1, phase="collector", job_id="j2", dispatched_at=T0),
                           *job_events("j2")])
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE job_id = 'j2'", "committed")
        after = {t: await conn.fetch(f"SELECT xmin::text FROM data.{t} ORDER BY 1") for t in TABLES}
        changed = [t for t in TABLES if before[t] != after[t] and t != "pull_request_teams"]
        assert changed == []
    finally:
        await conn.close()
        await nc.close()
        await processor.stop()
