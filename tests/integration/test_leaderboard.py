"""Leaderboard numbers against a hand computation on a small history written by the real
processor: every kind of action, the line bonus cap, bots, one person's two addresses, an
address no account claims, and what falls outside the window."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import nats
import pytest

from services.processor.app import create_app
from shared.db import apply_migrations
from shared.events import v1
from shared.ids import contributor_id
from shared.leaderboard import Weights, leaderboard, rank
from shared.metrics import Metrics
from shared.settings import load_settings
from tests.integration.test_processor_children import wait_for
from tests.integration.test_processor_retraction import committed, publish

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, tzinfo=timezone.utc)
IN = NOW - timedelta(days=30)  # inside the default two-year window
OLD = NOW - timedelta(days=1000)  # outside it
ALICE = v1.User(platform_id=1, login="alice")
BOB = v1.User(platform_id=2, login="bob")
CAROL = v1.User(platform_id=3, login="carol")
BOT = v1.User(platform_id=49699333, login="dependabot[bot]", kind="Bot")


def commit(sha: str, email: str, added: int, deleted: int, when: datetime = IN, name: str = "Someone") -> v1.Commit:
    return v1.Commit(sha=sha * 40, author_name=name, author_email=email, author_date=when,
                     files=[v1.FileChange(path=f"{sha}.txt", added=added, deleted=deleted)])


def facts() -> list[dict[str, object]]:
    pull = {"title": "t", "state": "closed", "updated_at": IN}
    return [
        {"kind": v1.IssuesObserved, "items": [
            v1.Issue(platform_id=101, number=1, title="bug", state="closed", author=CAROL, closed_by=ALICE,
                     created_at=IN, closed_at=IN, updated_at=IN),
            v1.Issue(platform_id=102, number=2, title="old", state="open", author=BOB, created_at=OLD,
                     updated_at=OLD)]},
        {"kind": v1.PullRequestsObserved, "items": [
            v1.PullRequest(platform_id=210, number=10, author=ALICE, created_at=IN, merged_at=IN, **pull),
            v1.PullRequest(platform_id=211, number=11, author=BOB, created_at=IN, **pull),
            v1.PullRequest(platform_id=212, number=12, author=BOT, created_at=IN, **pull)]},
        {"kind": v1.ReviewsObserved, "items": [
            v1.Review(platform_id=301, pr_number=10, state="APPROVED", author=BOB, submitted_at=IN),
            v1.Review(platform_id=302, pr_number=10, state="COMMENTED", author=BOB, submitted_at=IN),
            v1.Review(platform_id=303, pr_number=10, state="COMMENTED", author=ALICE, submitted_at=IN),  # own PR
            v1.Review(platform_id=304, pr_number=11, state="PENDING", author=CAROL),
            v1.Review(platform_id=305, pr_number=11, state="COMMENTED", author=CAROL, submitted_at=IN)]},
        {"kind": v1.CommentsObserved, "items": [
            v1.Comment(platform_id=401, parent_number=1, body="a", author=BOB, created_at=IN, updated_at=IN),
            v1.Comment(platform_id=402, parent_number=10, body="b", author=BOB, created_at=IN, updated_at=IN),
            v1.Comment(platform_id=403, parent_number=1, body="c", author=BOT, created_at=IN, updated_at=IN)]},
        {"kind": v1.ReviewCommentsObserved, "items": [
            v1.ReviewComment(platform_id=501, pr_number=10, body="nit", author=CAROL, created_at=IN, updated_at=IN)]},
        {"kind": v1.ReleasesObserved, "items": [
            v1.Release(platform_id=601, tag_name="v1", author=ALICE, created_at=IN, published_at=IN),
            v1.Release(platform_id=602, tag_name="v2", author=BOB, draft=True, created_at=IN)]},
        {"kind": v1.CommitsObserved, "items": [
            commit("a", "alice@example.org", 100, 10),
            commit("b", "Alice@Example.org", 50, 0),
            commit("c", "1+alice@users.noreply.github.com", 200_000, 0),  # the line bonus hits its cap
            commit("d", "bob@example.org", 10, 4),
            commit("e", "dan@example.org", 5, 0, name="Dan"),  # no account claims it
            commit("f", "49699333+dependabot[bot]@users.noreply.github.com", 3, 3, name="dependabot[bot]"),
            commit("g", "carol@example.org", 1000, 0, when=OLD)]},  # before the window
        {"kind": v1.AliasesObserved, "items": [
            v1.Alias(email=email, namespace="github", user=user, source=source, checked_at=IN)
            for email, user, source in (("alice@example.org", ALICE, "commit_lookup"),
                                        ("1+alice@users.noreply.github.com", ALICE, "noreply"),
                                        ("bob@example.org", BOB, "public_email"),
                                        ("49699333+dependabot[bot]@users.noreply.github.com", BOT, "noreply"),
                                        ("carol@example.org", CAROL, "commit_lookup"),
                                        ("dan@example.org", None, "none"))]},
    ]


def job(items: list[dict[str, object]]) -> list[v1.Struct]:
    ids = {"repo_id": 1, "job_id": "collector-1-1", "attempt": 1}
    events: list[v1.Struct] = [v1.JobDispatched(repo_id=1, phase="collector", job_id=ids["job_id"], dispatched_at=IN)]
    for seq, fact in enumerate(items):
        kind = fact.pop("kind")
        events.append(kind(**ids, seq=seq, **fact))  # type: ignore[operator]
    events.append(v1.JobFinished(**ids, seq=len(items), phase="collector", messages=len(items)))
    return events


async def test_points_ranks_cap_bots_and_aliases(nats_url: str, fresh_database_url: str, tmp_path: Path) -> None:
    await apply_migrations(fresh_database_url)
    processor = create_app(load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path),
                           Metrics())
    await processor.start()
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        from shared.events.jetstream import ensure_streams
        await ensure_streams(nc.jetstream())
        await publish(nc.jetstream(), [v1.RepoRegistered(url="https://github.com/o/r", platform="github",
                                                         host="github.com", owner="o", name="r")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 1)
        await publish(nc.jetstream(), job(facts()))
        await committed(conn, "collector-1-1")

        board = await leaderboard(conn, repo_ids=[1], since=NOW - timedelta(days=730), until=NOW)
        got = {(e.login or e.name): (e.rank, e.points, e.line_points, e.counts) for e in board}
        zero = dict.fromkeys(("commits", "prs_opened", "prs_merged", "prs_reviewed", "issues_opened",
                              "issues_closed", "comments", "releases"), 0)
        # alice: 3 commits from two addresses (30) + PR opened (15) + merged (25) + issue closed (5)
        #        + release (30) + lines min(1000, 200150 * 0.01 + 10 * 0.005) = 1000 -> 1105
        # bob:   1 commit (10) + lines 10 * 0.01 + 4 * 0.005 = 0.12 + PR opened (15) + PR 10 reviewed
        #        twice, once counted (20) + 2 comments (6) -> 51.12; his old issue and draft release: 0
        # carol: issue opened (8) + PR 11 reviewed (20; the pending review is no review) + a review
        #        comment (3) -> 31; her old commit is outside the window
        # Dan:   an address no account claims, 1 commit (10) + 5 lines (0.05) -> 10.05
        assert got == {
            "alice": (1, 1105.0, 1000.0, {**zero, "commits": 3, "prs_opened": 1, "prs_merged": 1,
                                           "issues_closed": 1, "releases": 1}),
            "bob": (2, 51.12, 0.12, {**zero, "commits": 1, "prs_opened": 1, "prs_reviewed": 1, "comments": 2}),
            "carol": (3, 31.0, 0.0, {**zero, "issues_opened": 1, "prs_reviewed": 1, "comments": 1}),
            "Dan": (4, 10.05, 0.05, {**zero, "commits": 1}),
        }
        assert board[0].cntrb_id == contributor_id("github", 1) and board[3].cntrb_id is None

        with_bots = await leaderboard(conn, repo_ids=None, since=NOW - timedelta(days=730), until=NOW,
                                      include_bots=True)
        bot = next(e for e in with_bots if e.login == "dependabot[bot]")
        assert (bot.bot, bot.points) == (True, 10 + 15 + 3 + 0.03 + 0.015)
        # Other weights, and a window that holds only the old history.
        heavy = await leaderboard(conn, repo_ids=[1], since=NOW - timedelta(days=730), until=NOW,
                                  weights=Weights.parse("comments=10, line_cap=100"))
        assert {e.login or e.name: e.points for e in heavy}["bob"] == 10 + 0.12 + 15 + 20 + 20
        assert {e.login or e.name: e.points for e in heavy}["alice"] == 105 + 100
        old = await leaderboard(conn, repo_ids=[1], since=OLD - timedelta(days=1), until=OLD + timedelta(days=1))
        assert [(e.login, e.points) for e in old] == [("carol", 10 + 10.0), ("bob", 8.0)]  # his old issue
    finally:
        await conn.close()
        await nc.close()
        await processor.stop()


def test_equal_points_share_a_rank_and_limits_cut() -> None:
    def row(who: str, action: str, n: int) -> dict[str, object]:
        return {"who": who, "action": action, "n": n, "added": 0, "deleted": 0, "name": None, "cntrb_id": None,
                "login": who, "account_name": None, "bot": False}

    rows = [row("a", "comments", 2), row("b", "comments", 2), row("c", "commits", 1), row("d", "comments", 1)]
    ranked = rank(rows, Weights(), include_bots=False, limit=None)
    assert [(e.login, e.rank, e.points) for e in ranked] == [("c", 1, 10.0), ("a", 2, 6.0), ("b", 2, 6.0),
                                                             ("d", 4, 3.0)]
    assert [e.login for e in rank(rows, Weights(), include_bots=False, limit=2)] == ["c", "a"]


def test_weights_parse_with_clear_errors() -> None:
    assert Weights.parse("") == Weights()
    assert Weights.parse("commits=12, line_cap=500").commits == 12.0
    for bad, message in (("nope=1", "unknown weight 'nope'"), ("commits", "unknown weight 'commits'"),
                         ("commits=x", "not a number"), ("commits=-1", "at least 0"), ("commits=inf", "finite")):
        with pytest.raises(ValueError, match=message):
            Weights.parse(bad)
