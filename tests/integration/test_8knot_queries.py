"""Acceptance: 8Knot's own SQL, unchanged, against Watershed.

A generated GitHub repository (fake forge) and a plain git repository are collected through
the real pipeline; the explorer views are refreshed; then every 8Knot query kept verbatim in
tests/fixtures/8knot/ runs the way 8Knot runs it (search_path=augur_data, the read-only role,
repository ids bound as a tuple of ints, psycopg2-style) and must return 8Knot's columns, in
order, with the numbers the dataset says, computed here from the dataset and git. Where 8Knot
copies a query's rows into its cache by column position, the rows are copied into 8Knot's
own cache table (tests/fixtures/8knot/cache_tables.sql) the same way."""

from __future__ import annotations

import re
import subprocess
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bench.eightknot import FIXTURES, load, render
from shared.db.augur import refresh_explorer_views
from shared.fakeforge import FakeForge, RepoData, generate_dataset
from shared.fakeforge.gitrepo import create_sample_git_repo, git_env
from tests.integration.conftest import PIPELINE_TOKEN, Collect
from tests.integration.test_slice import cid

pytestmark = pytest.mark.integration

OWNER, NAME = "watershed-demo", "eightknot"
URL = f"https://github.com/{OWNER}/{NAME}"
SEED = 23
# Query fixture -> 8Knot's cache table its rows are copied into by position.
CACHE_TABLE = {
    "commits_query": "commits_query", "prs_query": "prs_query", "affiliation_query": "affiliation_query",
    "contributors_query": "contributors_query", "issue_assignee_query": "issue_assignee_query",
    "pr_assignee_query": "pr_assignee_query", "cntrb_per_file_query": "cntrb_per_file_query",
    "cntrb_per_file_query_explorer": "cntrb_per_file_query", "pr_files_query": "pr_file_query",
    "repo_files_query": "repo_files_query", "repo_files_query_explorer": "repo_files_query",
    "repo_languages_query": "repo_languages_query", "package_version_query": "package_version_query",
    "repo_releases_query": "repo_releases_query", "ossf_score_query": "ossf_score_query",
    "repo_info_query": "repo_info_query", "pr_response_query": "pr_response_query",
}


def dataset() -> RepoData:
    return generate_dataset(SEED, OWNER, NAME).repositories[f"{OWNER}/{NAME}"]


@pytest.fixture
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeForge]:
    fake = FakeForge(generate_dataset(SEED, OWNER, NAME), push_tokens=(PIPELINE_TOKEN,))
    fake.add_git_repo(f"{OWNER}/{NAME}", create_sample_git_repo(tmp_path_factory.mktemp("git") / "sample"))
    with fake:
        yield fake


async def query(conn: asyncpg.Connection, name: str, repos: list[int]) -> tuple[list[str], list[asyncpg.Record]]:
    """Run a query as 8Knot does; where 8Knot caches the rows, copy them into its cache table
    the way it does (psycopg2 hands each value back as a literal, by position), then undo."""
    sql = render(load(name), repos)
    statement = await conn.prepare(sql)
    columns = [a.name for a in statement.get_attributes()]
    rows = await statement.fetch()
    if name in CACHE_TABLE:
        target = await conn.fetch(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = to_regclass($1)"
            " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", f"eightknot_cache.{CACHE_TABLE[name]}")
        assert len(target) == len(columns), f"{name}: {len(columns)} columns for {CACHE_TABLE[name]}'s {len(target)}"
        as_literals = ", ".join(f"q.c{i}::text::{t[0]}" for i, t in enumerate(target))
        aliases = ", ".join(f"c{i}" for i in range(len(target)))
        tx = conn.transaction()
        await tx.start()
        try:
            copied = await conn.execute(f"INSERT INTO eightknot_cache.{CACHE_TABLE[name]}"
                                        f" SELECT {as_literals} FROM ({sql.rstrip().rstrip(';')}\n) q({aliases})")
            assert copied == f"INSERT 0 {len(rows)}", (name, copied)
        finally:
            await tx.rollback()
    return columns, rows


def ts(value: str | None) -> datetime | None:
    """A GitHub time as Augur's `timestamp without time zone` (UTC)."""
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC).replace(tzinfo=None)


def c15(user: dict[str, Any] | None) -> str | None:
    return None if user is None else str(cid(user))[:15]


def git_commits(repo: Path) -> list[tuple[str, str, datetime]]:
    out = subprocess.run(["git", "log", "--all", "--format=%H%x00%ae%x00%aI"], cwd=repo, env=git_env(),
                         capture_output=True, check=True, text=True).stdout
    return [(h, e, datetime.fromisoformat(d)) for h, e, d in (line.split("\x00") for line in out.splitlines())]


async def test_8knot_queries_return_8knots_columns_and_the_datasets_numbers(
        collect_repos: Collect, pipeline: Any, forge: FakeForge, tmp_path: Path) -> None:
    data = dataset()
    local = create_sample_git_repo(tmp_path / "local")
    reply = await collect_repos([URL, str(local)], timeout=120)
    assert [t.error for t in reply.targets] == [None, None]
    gh_id, local_id = (t.repo_id for t in reply.targets)
    repos = [gh_id, local_id]

    admin = await asyncpg.connect(pipeline.servers.database_url)
    try:
        await refresh_explorer_views(admin)
        await admin.execute("CREATE SCHEMA eightknot_cache")
        await admin.execute(f"SET search_path = eightknot_cache; {(FIXTURES / 'cache_tables.sql').read_text()}")
        await admin.execute("GRANT USAGE ON SCHEMA eightknot_cache TO PUBLIC;"
                            " GRANT INSERT ON ALL TABLES IN SCHEMA eightknot_cache TO PUBLIC")
    finally:
        await admin.close()

    # As 8Knot connects: -c search_path=augur_data, as a read-only user.
    conn = await asyncpg.connect(pipeline.servers.database_url, server_settings={"search_path": "augur_data"})
    try:
        if await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = 'watershed_reader'"):
            await conn.execute("SET ROLE watershed_reader")
        await check(conn, data, repos, gh_id, local_id, local)
    finally:
        await conn.close()


async def check(conn: asyncpg.Connection, data: RepoData, repos: list[int], gh_id: int, local_id: int,
                local: Path) -> None:
    plain = data.plain_issues
    pulls = {p["number"]: p for p in data.pulls}
    issue_numbers = {i["number"] for i in plain}

    # The repository search bar.
    cols, rows = await query(conn, "multiselect_startup", repos)
    assert cols == ["repo_git", "repo_id", "repo_name", "rg_name"]
    assert {(r["repo_git"], r["repo_id"]) for r in rows} == {(URL, gh_id), (local.as_uri(), local_id)}
    assert all(type(r["repo_id"]) is int and r["rg_name"] for r in rows)

    cols, rows = await query(conn, "issues_query", repos)
    assert cols == ["repo_id", "repo_name", "issue", "issue_number", "gh_issue", "reporter_id", "issue_closer",
                    "created_at", "closed_at", "labels"]
    assert sorted((r["issue_number"], r["gh_issue"], r["reporter_id"], r["issue_closer"], r["created_at"],
                   r["closed_at"], frozenset(filter(None, r["labels"].split(","))), r["repo_id"]) for r in rows) == sorted(
        (i["number"], i["id"], c15(i["user"]), c15(i.get("closed_by")), ts(i["created_at"]), ts(i["closed_at"]),
         frozenset(label["name"] for label in i["labels"]), gh_id) for i in plain)
    assert any(r["issue_closer"] for r in rows), "closers are filled"

    cols, rows = await query(conn, "prs_query", repos)
    assert cols == ["repo_id", "repo_name", "pull_request", "pr_src_number", "cntrb_id", "created", "closed", "merged"]
    assert sorted((r["pr_src_number"], r["cntrb_id"], r["created"], r["closed"], r["merged"]) for r in rows) == sorted(
        (p["number"], c15(p["user"]), ts(p["created_at"]), ts(p["closed_at"]), ts(p.get("merged_at"))) for p in data.pulls)

    cols, rows = await query(conn, "commits_query", repos)
    assert cols == ["repo_id", "commit_hash", "author_email", "author_date", "author_timestamp", "committer_timestamp"]
    history = git_commits(local)
    per_repo = Counter(r["repo_id"] for r in rows)
    assert per_repo == {gh_id: len(history), local_id: len(history)}
    assert {(r["commit_hash"], r["author_email"].lower(), r["author_timestamp"]) for r in rows if r["repo_id"] == local_id} == {
        (h, e.lower(), d.astimezone(UTC).replace(tzinfo=None)) for h, e, d in history}

    # Who did what: every action the dataset holds, credited to whoever did it.
    expected = expected_actions(data, history, copies=2)
    cols, rows = await query(conn, "contributors_query", repos)
    assert cols == ["repo_id", "repo_name", "cntrb_id", "created_at", "login", "action", "rank"]
    assert Counter((r["action"], r["cntrb_id"], r["created_at"]) for r in rows) == expected
    assert {r["repo_id"] for r in rows} == {gh_id, local_id}
    assert any(a.startswith("pull_request_review_APPROVED") for a, _, _ in expected)
    latest = defaultdict(list)  # ranks count per contributor and repository
    for r in rows:
        latest[(r["cntrb_id"], r["repo_id"])].append(r)
    for acts in latest.values():
        ranked = sorted(acts, key=lambda r: r["rank"])
        assert [r["rank"] for r in ranked] == list(range(1, len(acts) + 1))
        assert ranked[0]["created_at"] == max(r["created_at"] for r in acts)

    cols, rows = await query(conn, "contributors_radar_query", repos)
    assert cols == ["cntrb_id", "username", "first_engagement_date", "first_contribution_date", "created_issue",
                    "opened_pr", "pr_commented", "pr_merged_count", "last_activity_date"]
    opened = Counter(str(cid(i["user"])) for i in plain if i["user"])
    assert {str(r["cntrb_id"]): r["created_issue"] for r in rows if r["created_issue"]} == opened

    # Affiliation: actions of the accounts with a known email (GitHub's commit attribution).
    aliased = {c15(c[who]) for commits in data.pr_commits.values() for c in commits
               for who in ("author", "committer") if c.get(who) and c["commit"][who].get("email")}
    # ... and the accounts noreply commit addresses name (the resolver keeps them as aliases).
    aliased |= {c15({"id": int(named[1])}) for _, email, _ in history if (named := NOREPLY.match(email.lower()))}
    by_aliased = sum(n for (_, who, _), n in expected.items() if who in aliased)
    cols, rows = await query(conn, "affiliation_query", repos)
    assert cols == ["left", "created_at", "repo_id", "login", "action", "rank", "cntrb_company", "email_list"]
    assert len(rows) == by_aliased > 0 and all(r["email_list"] for r in rows)
    cols, rows = await query(conn, "company_query", repos)
    assert cols == ["cntrb_id", "created", "id", "login", "action", "rank", "cntrb_company", "email_list"]
    assert len(rows) == by_aliased

    # Assignments name the account assigned; issues and PRs never assigned have one empty row.
    for name, items, is_pr in (("issue_assignee_query", plain, False), ("pr_assignee_query", data.pulls, True)):
        cols, rows = await query(conn, name, repos)
        key = "pull_request_id" if is_pr else "issue_id"
        assert cols == [key, "id", "created", "closed", "assign_date", "assignment_action", "assignee"]
        numbers = {i["number"] for i in items}
        events = [e for e in data.issue_events if e["event"] in ("assigned", "unassigned")
                  and e["issue"]["number"] in numbers]
        assigned = {e["issue"]["number"] for e in events}
        assert len(rows) == len(events) + len(numbers - assigned)
        assert Counter((r["assignment_action"], r["assignee"], r["assign_date"]) for r in rows if r["assignment_action"]) == \
            Counter((e["event"], c15(e["assignee"]), ts(e["created_at"])) for e in events)

    # Responses to pull requests: conversation and review comments, distinct (time, author).
    responses: dict[int, set[tuple[Any, Any]]] = defaultdict(set)
    for c in data.comments:
        number = int(c["issue_url"].rsplit("/", 1)[1])
        if number in pulls:
            responses[number].add((ts(c["created_at"]), str(cid(c["user"])) if c["user"] else None))
    for c in data.review_comments:
        responses[int(c["pull_request_url"].rsplit("/", 1)[1])].add(
            (ts(c["created_at"]), str(cid(c["user"])) if c["user"] else None))
    cols, rows = await query(conn, "pr_response_query", repos)
    assert cols == ["pull_request_id", "id", "cntrb_id", "msg_timestamp", "msg_cntrb_id", "pr_created_at", "pr_closed_at"]
    assert len(rows) == sum(max(1, len(responses[n])) for n in pulls)
    assert sum(r["msg_timestamp"] is not None for r in rows) == sum(len(v) for v in responses.values())

    # Responses to issues: every comment, open issues' too.
    comments_on = Counter(int(c["issue_url"].rsplit("/", 1)[1]) for c in data.comments)
    cols, rows = await query(conn, "issue_response_query", repos)
    assert cols == ["issue_id", "repo_id", "cntrb_id", "msg_timestamp", "msg_cntrb_id", "created_at", "closed_at"]
    assert len(rows) == sum(max(1, comments_on[n]) for n in issue_numbers)
    assert any(r["msg_timestamp"] and r["closed_at"] is None for r in rows), "comments on open issues count"

    # Files of pull requests, and who wrote and reviewed them.
    files = [(n, f["filename"]) for n, items in data.pr_files.items() for f in items]
    cols, rows = await query(conn, "pr_files_query", repos)
    assert cols == ["file_path", "pull_request", "id"] and len(rows) == len(files)
    authors: dict[str, set[str]] = defaultdict(set)
    reviewers: dict[str, set[str]] = defaultdict(set)
    for n, path in files:
        if pulls[n]["user"]:
            authors[path].add(c15(pulls[n]["user"]))
        reviewers[path] |= {c15(r["user"]) for r in data.reviews.get(n, []) if r["user"]}
    cols, rows = await query(conn, "cntrb_per_file_query_explorer", repos)
    assert cols == ["repo_id", "file_path", "cntrb_ids", "reviewer_ids"]
    assert {r["file_path"]: (set((r["cntrb_ids"] or "").split(",")) - {""},
                             set((r["reviewer_ids"] or "").split(",")) - {""}) for r in rows} == \
        {p: (authors[p], reviewers[p]) for _, p in files}
    cols, rows = await query(conn, "cntrb_per_file_query", repos)
    reviewed = {p for n, p in files if data.reviews.get(n)}
    assert cols == ["repo_id", "file_path", "cntrb_ids", "reviewer_ids"] and {r["file_path"] for r in rows} == reviewed

    cols, rows = await query(conn, "self_merge_rate_query", repos)
    assert cols == ["repo_id", "repo_name", "pull_request_id", "pr_src_number", "cntrb_id", "created_at", "merged_at",
                    "merger_cntrb_id"]
    merged_events = {e["issue"]["number"]: c15(e["actor"]) for e in sorted(data.issue_events, key=lambda e: e["created_at"])
                     if e["event"] == "merged"}
    assert {(r["pr_src_number"], r["merger_cntrb_id"]) for r in rows} == {
        (p["number"], merged_events.get(p["number"])) for p in data.pulls if p.get("merged_at")}

    # Releases.
    published = [r for r in data.releases if r.get("published_at")]
    cols, rows = await query(conn, "repo_releases_query", repos)
    assert cols == ["id", "release_name", "release_created_at", "release_published_at", "release_updated_at"]
    assert sorted((r["release_name"], r["release_published_at"]) for r in rows) == sorted(
        (r["name"], ts(r["published_at"])) for r in published)
    cols, rows = await query(conn, "release_query", repos)
    assert cols == ["id", "created", "release_id"] and len(rows) == len(published)
    cols, rows = await query(conn, "releases_query", repos)
    assert cols == ["id", "repo_name", "release_name", "release_published_at", "release_created_at",
                    "release_updated_at", "created"] and len(rows) == len(data.releases)

    cols, rows = await query(conn, "repo_info_query", repos)
    assert cols == ["id", "issues_enabled", "fork_count", "watchers_count", "license", "stars_count",
                    "code_of_conduct_file", "security_issue_file", "security_audit_file", "data_collection_date"]
    meta = data.repository
    assert [(r["id"], r["fork_count"], r["stars_count"]) for r in rows] == [
        (gh_id, meta["forks_count"], meta["stargazers_count"])]

    # Not collected yet (no analysis phase): right columns, no rows.
    for name, want in (("repo_files_query", ["id", "repo_name", "repo_path", "rl_analysis_date", "file_path", "file_name"]),
                       ("repo_files_query_explorer", ["id", "repo_name", "repo_path", "rl_analysis_date", "file_path", "file_name"]),
                       ("repo_languages_query", ["id", "programming_language", "code_lines", "files"]),
                       ("ossf_score_query", ["id", "name", "score", "data_collection_date"]),
                       ("package_version_query", ["id", "name", "current_release_date", "latest_release_date", "libyear",
                                                  "dep_age"])):
        cols, rows = await query(conn, name, repos)
        assert (cols, rows) == (want, []), name

    # 8Knot tells bots by gh_type = 'Bot'.
    bots = {u["login"] for u in data.users if u.get("type") == "Bot" or u["login"].endswith("[bot]")}
    stored = {r["gh_login"]: r["gh_type"] for r in await conn.fetch("SELECT gh_login, gh_type FROM contributors")}
    assert bots & set(stored)
    assert {login for login, kind in stored.items() if kind == "Bot"} == bots & set(stored)


NOREPLY = re.compile(r"^(\d+)\+[^@]+@users\.noreply\.github\.com$")


def expected_actions(data: RepoData, history: list[tuple[str, str, datetime]],
                     copies: int = 1) -> Counter[tuple[str, str | None, datetime | None]]:
    """explorer_contributor_actions, from the dataset: (action, 15-character id, when)."""
    plain = {i["number"]: i for i in data.plain_issues}
    pulls = {p["number"]: p for p in data.pulls}
    acts: Counter[tuple[str, str | None, datetime | None]] = Counter()

    def add(action: str, user: dict[str, Any] | None, when: str | None) -> None:
        if user is not None and when is not None:
            acts[(action, c15(user), ts(when))] += 1

    for i in plain.values():
        add("issue_opened", i["user"], i["created_at"])
    for p in pulls.values():
        add("pull_request_open", p["user"], p["created_at"])
    for c in data.comments:
        number = int(c["issue_url"].rsplit("/", 1)[1])
        add("issue_comment" if number in plain else "pull_request_comment", c["user"], c["created_at"])
    for reviews in data.reviews.values():
        for r in reviews:
            add(f"pull_request_review_{r['state'].upper()}", r["user"], r.get("submitted_at"))
    for e in data.issue_events:
        n = e["issue"]["number"]
        if e["event"] == "merged" and n in pulls:
            add("pull_request_merged", e["actor"], e["created_at"])
        elif e["event"] == "closed" and n in pulls and not pulls[n].get("merged_at"):
            add("pull_request_closed", e["actor"], e["created_at"])
        elif e["event"] == "closed" and n in plain:
            add("issue_closed", e["actor"], e["created_at"])
    # A commit counts for the account GitHub attributed it to in a pull request, or the one its
    # noreply address names (the resolver's finding), in every repository holding it: here the
    # GitHub repository and the plain git one share their history.
    attributed = {c["sha"]: c.get("author") for commits in data.pr_commits.values() for c in commits}
    for sha, email, when in history:
        named = NOREPLY.match(email.lower())
        account = attributed.get(sha) or ({"id": int(named[1])} if named else None)
        for _ in range(copies):
            add("commit", account, when.isoformat())
    return acts
