"""build_rows: one batch of staged events folded into column arrays for set-based upserts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from services.processor.rows import BatchRows, Columns, build_rows
from shared.events import v1
from shared.ids import contributor_id

T1 = datetime(2024, 1, 1, tzinfo=timezone.utc)
T2 = T1 + timedelta(days=1)
GH, GL = 1, 2
PLATFORMS = {GH: "github", GL: "gitlab"}
R = "\ufffd"


def _job(repo_id: int = GH, seq: int = 0) -> dict[str, Any]:
    return {"repo_id": repo_id, "job_id": f"collector-{repo_id}-1", "seq": seq}


def _issue(pid: int = 100, **fields: Any) -> v1.Issue:
    return v1.Issue(**{"platform_id": pid, "number": pid - 99, "title": "t", "state": "open", **fields})


def _rows(cols: Columns) -> list[dict[str, object]]:
    return [dict(zip(cols.names, values, strict=True)) for values in zip(*cols.data, strict=True)]


def test_newest_issue_wins_in_either_order() -> None:
    old = _issue(title="old", updated_at=T1)
    new = _issue(title="new", updated_at=T2)
    for first, second in ((old, new), (new, old)):
        rows = build_rows([v1.IssuesObserved(**_job(seq=0), items=[first]),
                           v1.IssuesObserved(**_job(seq=1), items=[second])], PLATFORMS)
        [row] = _rows(rows.issues)
        assert (row["title"], row["updated_at"]) == ("new", T2)


def test_same_platform_id_in_two_repos_is_two_issues() -> None:
    rows = build_rows([v1.IssuesObserved(**_job(GH), items=[_issue()]),
                       v1.IssuesObserved(**_job(GL), items=[_issue()])], PLATFORMS)
    assert sorted(r["repo_id"] for r in _rows(rows.issues)) == [GH, GL]


def test_newest_pull_and_comment_win() -> None:
    pr = {"platform_id": 5, "number": 5, "state": "open"}
    c = {"platform_id": 9, "parent_number": 5}
    rows = build_rows([
        v1.PullRequestsObserved(**_job(seq=0), items=[v1.PullRequest(**pr, title="new", updated_at=T2)]),
        v1.PullRequestsObserved(**_job(seq=1), items=[v1.PullRequest(**pr, title="old", updated_at=T1)]),
        v1.CommentsObserved(**_job(seq=2), items=[v1.Comment(**c, body="new", updated_at=T2)]),
        v1.CommentsObserved(**_job(seq=3), items=[v1.Comment(**c, body="old", updated_at=T1)]),
    ], PLATFORMS)
    assert [r["title"] for r in _rows(rows.pulls)] == ["new"]
    assert [r["body"] for r in _rows(rows.messages)] == ["new"]


def test_labels_deduplicated_by_name() -> None:
    labels = [v1.Label(name="bug", color="f00"), v1.Label(name="docs"), v1.Label(name="bug", color="0f0")]
    rows = build_rows([v1.IssuesObserved(**_job(), items=[_issue(labels=labels)]),
                       v1.PullRequestsObserved(**_job(), items=[v1.PullRequest(
                           platform_id=5, number=5, title="p", state="open", labels=labels)])], PLATFORMS)
    assert [(x.name, x.color) for x in rows.issue_labels[(GH, 100)]] == [("bug", "f00"), ("docs", "")]
    assert [x.name for x in rows.pull_labels[(GH, 5)]] == ["bug", "docs"]


def test_contributors_once_per_user_with_augur_ids_richest_wins() -> None:
    bare = v1.User(platform_id=42, login="ann")
    rich = v1.User(platform_id=42, login="ann", name="Ann", email="ann@example.org")
    other = v1.User(platform_id=43, login="ben")
    for issue_author, comment_author in ((bare, rich), (rich, bare)):
        rows = build_rows([
            v1.IssuesObserved(**_job(), items=[_issue(author=issue_author, assignees=[bare, other, bare])]),
            v1.CommentsObserved(**_job(), items=[v1.Comment(platform_id=9, parent_number=1, author=comment_author)]),
            v1.IssuesObserved(**_job(GL), items=[_issue(author=bare)]),
        ], PLATFORMS)
        people = {(r["platform"], r["platform_user_id"]): r for r in _rows(rows.contributors)}
        assert set(people) == {("github", 42), ("github", 43), ("gitlab", 42)}
        ann = people[("github", 42)]
        assert ann["cntrb_id"] == contributor_id("github", 42)
        assert (ann["name"], ann["email"]) == ("Ann", "ann@example.org")
        assert people[("gitlab", 42)]["cntrb_id"] == contributor_id("gitlab", 42)
        issue = next(r for r in _rows(rows.issues) if r["repo_id"] == GH)
        assert issue["author_id"] == contributor_id("github", 42)
        assert rows.issue_assignees[(GH, 100)] == [contributor_id("github", 42), contributor_id("github", 43)]


def test_text_is_cleaned() -> None:
    dirty = "a\x00b\ud83dc"
    rows = build_rows([
        v1.IssuesObserved(**_job(), items=[_issue(title=dirty, body=dirty, author=v1.User(platform_id=1, login="x",
                                                                                           name=dirty))]),
        v1.PullRequestsObserved(**_job(), items=[v1.PullRequest(platform_id=5, number=5, title=dirty, body=dirty,
                                                                state="open", head_ref=dirty)]),
        v1.CommentsObserved(**_job(), items=[v1.Comment(platform_id=9, parent_number=1, body=dirty)]),
        v1.CommitsObserved(**_job(), items=[v1.Commit(sha="c" * 40, message=dirty, author_name=dirty,
                                                      files=[v1.FileChange(path=dirty)])]),
    ], PLATFORMS)
    clean = f"a{R}b{R}c"
    [issue], [pull], [message], [commit], [file], [person], [commit_message] = (
        _rows(c) for c in (rows.issues, rows.pulls, rows.messages, rows.commits, rows.commit_files, rows.contributors,
                           rows.git.messages))
    assert (issue["title"], issue["body"], person["name"]) == (clean, clean, clean)
    assert (pull["title"], pull["body"], pull["head_ref"]) == (clean, clean, clean)
    assert message["body"] == clean
    assert (commit_message["message"], commit["author_name"], file["path"]) == (clean, clean, clean)
    assert issue["milestone"] is None  # None stays None


def test_commit_totals_from_files_binary_counts_zero() -> None:
    tz = timezone(timedelta(hours=-5, minutes=-30))
    commit = v1.Commit(sha="d" * 40, parents=["e" * 40], author_date=datetime(2024, 1, 1, tzinfo=tz),
                       committer_date=T1, files=[
                           v1.FileChange(path="a.py", added=10, deleted=2),
                           v1.FileChange(path="logo.png", added=None, deleted=None),
                           v1.FileChange(path="b.py", old_path="old_b.py", added=0, deleted=7),
                       ])
    rows = build_rows([v1.CommitsObserved(**_job(), items=[commit])], PLATFORMS)
    [row] = _rows(rows.commits)
    assert (row["files_changed"], row["additions"], row["deletions"]) == (3, 10, 9)
    assert (row["author_tz_minutes"], row["committer_tz_minutes"]) == (-330, 0)
    files = _rows(rows.commit_files)
    assert [(f["path"], f["old_path"], f["added"], f["deleted"]) for f in files] == [
        ("a.py", None, 10, 2), ("logo.png", None, None, None), ("b.py", "old_b.py", 0, 7)]


def test_comments_keep_parent_number() -> None:
    rows = build_rows([v1.CommentsObserved(**_job(), items=[
        v1.Comment(platform_id=9, parent_number=17), v1.Comment(platform_id=10, parent_number=4)])], PLATFORMS)
    assert {r["platform_msg_id"]: r["parent_number"] for r in _rows(rows.messages)} == {9: 17, 10: 4}


def test_row_count_adds_up() -> None:
    ann, ben = v1.User(platform_id=1, login="ann"), v1.User(platform_id=2, login="ben")
    rows: BatchRows = build_rows([
        v1.RepoObserved(**_job(), repo=v1.RepoMeta(platform_id=1, owner="o", name="r", owner_user=ann)),
        v1.IssuesObserved(**_job(), items=[_issue(author=ann, assignees=[ben], labels=[v1.Label(name="x")])]),
        v1.PullRequestsObserved(**_job(), items=[v1.PullRequest(
            platform_id=5, number=5, title="p", state="open", assignees=[ann], requested_reviewers=[ann, ben],
            labels=[v1.Label(name="x"), v1.Label(name="y")])]),
        v1.CommentsObserved(**_job(), items=[v1.Comment(platform_id=9, parent_number=1, author=ben)]),
        v1.CommitsObserved(**_job(), items=[v1.Commit(sha="f" * 40, files=[v1.FileChange(path="a"),
                                                                          v1.FileChange(path="b")])]),
    ], PLATFORMS)
    # contributors 2, repo 1, issue 1 + label 1 + assignee 1, pull 1 + labels 2 + assignee 1 + reviewers 2,
    # message 1, commit 1 + files 2 + its message 1 (no parents)
    assert rows.row_count == 2 + 1 + 3 + 6 + 1 + 4
    assert rows.repos == [(GH, rows.repos[0][1], contributor_id("github", 1))]


def test_empty_batch() -> None:
    rows = build_rows([], PLATFORMS)
    assert rows.row_count == 0
    assert all(len(c) == 0 for c in (rows.issues, rows.pulls, rows.messages, rows.commits, rows.contributors))


def test_commit_parents_and_messages_are_rows_of_their_own() -> None:
    merge = v1.Commit(sha="m" * 40, parents=["a" * 40, "b" * 40, "c" * 40], message="Merge\n\nbody", author_date=T1)
    root = v1.Commit(sha="r" * 40, message="", author_date=T1)
    rows = build_rows([v1.CommitsObserved(**_job(), items=[merge, root])], PLATFORMS)
    assert [tuple(r.values()) for r in _rows(rows.git.parents)] == [
        (GH, "m" * 40, "a" * 40, 1), (GH, "m" * 40, "b" * 40, 2), (GH, "m" * 40, "c" * 40, 3)]
    assert [tuple(r.values()) for r in _rows(rows.git.messages)] == [(GH, "m" * 40, "Merge\n\nbody"), (GH, "r" * 40, "")]
    assert all("parents" not in c and "message" not in c for c in rows.commits.names)


def test_a_huge_commit_in_several_entries_is_one_commit_with_the_union_of_files() -> None:
    parts = [v1.Commit(sha="h" * 40, parents=["p" * 40], message="import", file_count=3, added_total=30,
                       deleted_total=0, files=[v1.FileChange(path=p, added=10, deleted=0) for p in paths])
             for paths in (("a", "b"), ("c",))]
    rows = build_rows([v1.CommitsObserved(**_job(seq=0), items=[parts[0]]),
                       v1.CommitsObserved(**_job(seq=1), items=[parts[1]])], PLATFORMS)
    [commit] = _rows(rows.commits)
    assert (commit["files_changed"], commit["additions"]) == (3, 30)
    assert (len(rows.commit_files), len(rows.git.parents), len(rows.git.messages)) == (3, 1, 1)


def test_affiliations_at_write_time() -> None:
    from shared.affiliations import Matcher, parse_mappings

    match = Matcher(parse_mappings("example.com,Old\nexample.com,New,2024-01-02\nusers.noreply.github.com,\n"
                                   "github.com,GitHub"))
    commit = v1.Commit(sha="a" * 40, author_email="Ann@Example.com", author_date=T1,
                       committer_email="noreply@github.com", committer_date=T2)
    later = v1.Commit(sha="b" * 40, author_email="ann@mail.example.com", author_date=T2,
                      committer_email="1+x@users.noreply.github.com", committer_date=T2)
    people = [v1.User(platform_id=1, login="ann", email="ann@example.com"), v1.User(platform_id=2, login="bob"),
              v1.User(platform_id=3, login="cy", email="cy@elsewhere.org")]
    rows = build_rows([v1.CommitsObserved(**_job(), items=[commit, later]),
                       v1.IssuesObserved(**_job(), items=[_issue(author=people[0], assignees=people[1:])])],
                      PLATFORMS, match)
    assert [(r["author_affiliation"], r["committer_affiliation"]) for r in _rows(rows.commits)] == [
        ("Old", "GitHub"), ("New", None)]
    assert {r["login"]: r["affiliation"] for r in _rows(rows.contributors)} == {"ann": "New", "bob": None, "cy": None}
    unmatched = build_rows([v1.CommitsObserved(**_job(), items=[commit])], PLATFORMS)
    assert [r["author_affiliation"] for r in _rows(unmatched.commits)] == [None]
