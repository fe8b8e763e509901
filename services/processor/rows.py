"""Pure mapping from staged events to column arrays for set-based upserts.

Everything here is deterministic and free of I/O: given the events of one batch
it returns, per table, one list per column (the shape ``unnest()`` wants), with
duplicates inside the batch folded to the newest version and every text value
cleaned for PostgreSQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from services.processor.children import build_children, see_singles
from services.processor.columns import Columns, ContributorIndex
from services.processor.commits import COMMIT_COLUMNS, FILE_COLUMNS, CommitRows, build_commit_rows
from shared.affiliations import Matcher
from shared.events import v1
from shared.text import clean

__all__ = ["COMMIT_COLUMNS", "FILE_COLUMNS", "BatchRows", "Columns", "build_rows"]


def _newer(candidate: datetime | None, current: datetime | None) -> bool:
    return current is None or (candidate is not None and candidate >= current)


def _labels(labels: list[v1.Label]) -> list[v1.Label]:
    seen: dict[str, v1.Label] = {}
    for label in labels:
        seen.setdefault(clean(label.name) or "", label)
    return list(seen.values())


@dataclass
class BatchRows:
    contributors: Columns
    repos: list[tuple[int, v1.RepoMeta, uuid.UUID | None]]
    issues: Columns
    issue_labels: dict[tuple[int, int], list[v1.Label]]  # (repo_id, platform_issue_id) -> labels
    issue_assignees: dict[tuple[int, int], list[uuid.UUID]]
    pulls: Columns
    pull_labels: dict[tuple[int, int], list[v1.Label]]
    pull_assignees: dict[tuple[int, int], list[uuid.UUID]]
    pull_reviewers: dict[tuple[int, int], list[uuid.UUID]]
    messages: Columns
    git: CommitRows = field(default_factory=CommitRows)  # commits, their files, parents and messages
    children: dict[str, Columns] = field(default_factory=dict)  # table -> rows (see children.SPECS)
    singles: list[v1.JobEvent] = field(default_factory=list)  # PR details, repo info, org members
    people: ContributorIndex = field(default_factory=ContributorIndex)
    platforms: dict[int, str] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return (len(self.contributors) + len(self.repos) + len(self.issues) + len(self.pulls)
                + len(self.messages) + len(self.git)
                + sum(map(len, self.children.values()))
                + sum(map(len, self.issue_labels.values())) + sum(map(len, self.issue_assignees.values()))
                + sum(map(len, self.pull_labels.values())) + sum(map(len, self.pull_assignees.values()))
                + sum(map(len, self.pull_reviewers.values())))

    @property
    def commits(self) -> Columns:
        return self.git.commits

    @property
    def commit_files(self) -> Columns:
        return self.git.files


ISSUE_COLUMNS = ("repo_id", "platform_issue_id", "number", "node_id", "title", "body", "state", "state_reason",
                 "locked", "author_id", "closed_by_id", "milestone", "comments", "html_url", "created_at",
                 "updated_at", "closed_at")
PULL_COLUMNS = ("repo_id", "platform_pr_id", "number", "node_id", "title", "body", "state", "draft", "locked",
                "author_id", "author_association", "milestone", "html_url", "created_at", "updated_at",
                "closed_at", "merged_at", "merge_commit_sha", "head_ref", "head_sha", "head_repo", "base_ref",
                "base_sha")
MESSAGE_COLUMNS = ("repo_id", "platform_msg_id", "parent_number", "node_id", "body", "author_id",
                   "author_association", "html_url", "created_at", "updated_at")


SINGLES = (v1.PullRequestDetailsObserved, v1.RepoInfoObserved, v1.OrgMembersObserved, v1.AliasesObserved)


def build_rows(events: Iterable[v1.DataEvent], platforms: dict[int, str],
               affiliations: Matcher | None = None) -> BatchRows:
    """Rows for one batch. ``platforms`` maps repo_id to its platform (for contributor ids);
    ``affiliations`` gives commits and contributors their organisations."""
    events = list(events)
    people = ContributorIndex()
    repos: dict[int, tuple[v1.RepoMeta, uuid.UUID | None]] = {}
    issues: dict[tuple[int, int], v1.Issue] = {}
    pulls: dict[tuple[int, int], v1.PullRequest] = {}
    comments: dict[tuple[int, int], v1.Comment] = {}
    commits: dict[tuple[int, str], v1.Commit] = {}
    files: dict[tuple[int, str], dict[str, v1.FileChange]] = {}

    for event in events:
        rid = event.repo_id
        if isinstance(event, v1.RepoObserved):
            repos[rid] = (event.repo, people.see(platforms[rid], event.repo.owner_user))
        elif isinstance(event, v1.IssuesObserved):
            for issue in event.items:
                key = (rid, issue.platform_id)
                if key not in issues or _newer(issue.updated_at, issues[key].updated_at):
                    issues[key] = issue
        elif isinstance(event, v1.PullRequestsObserved):
            for pull in event.items:
                key = (rid, pull.platform_id)
                if key not in pulls or _newer(pull.updated_at, pulls[key].updated_at):
                    pulls[key] = pull
        elif isinstance(event, v1.CommentsObserved):
            for comment in event.items:
                key = (rid, comment.platform_id)
                if key not in comments or _newer(comment.updated_at, comments[key].updated_at):
                    comments[key] = comment
        elif isinstance(event, v1.CommitsObserved):
            for commit in event.items:
                commit_key = (rid, commit.sha)
                commits[commit_key] = commit
                # A huge commit comes as several entries: its files are their union.
                files.setdefault(commit_key, {}).update((f.path, f) for f in commit.files)

    issue_cols = Columns(ISSUE_COLUMNS)
    issue_labels: dict[tuple[int, int], list[v1.Label]] = {}
    issue_assignees: dict[tuple[int, int], list[uuid.UUID]] = {}
    for (rid, pid), i in issues.items():
        platform = platforms[rid]
        issue_cols.add(rid, pid, i.number, i.node_id or None, clean(i.title), clean(i.body), i.state,
                       i.state_reason, i.locked, people.see(platform, i.author), people.see(platform, i.closed_by),
                       clean(i.milestone), i.comments, i.html_url or None, i.created_at, i.updated_at, i.closed_at)
        issue_labels[(rid, pid)] = _labels(i.labels)
        issue_assignees[(rid, pid)] = list(dict.fromkeys(people.see(platform, a) for a in i.assignees))  # type: ignore[misc]

    pull_cols = Columns(PULL_COLUMNS)
    pull_labels: dict[tuple[int, int], list[v1.Label]] = {}
    pull_assignees: dict[tuple[int, int], list[uuid.UUID]] = {}
    pull_reviewers: dict[tuple[int, int], list[uuid.UUID]] = {}
    for (rid, pid), p in pulls.items():
        platform = platforms[rid]
        pull_cols.add(rid, pid, p.number, p.node_id or None, clean(p.title), clean(p.body), p.state, p.draft,
                      p.locked, people.see(platform, p.author), p.author_association, clean(p.milestone),
                      p.html_url or None, p.created_at, p.updated_at, p.closed_at, p.merged_at, p.merge_commit_sha,
                      clean(p.head_ref), p.head_sha, clean(p.head_repo), clean(p.base_ref), p.base_sha)
        pull_labels[(rid, pid)] = _labels(p.labels)
        pull_assignees[(rid, pid)] = list(dict.fromkeys(people.see(platform, a) for a in p.assignees))  # type: ignore[misc]
        pull_reviewers[(rid, pid)] = list(dict.fromkeys(people.see(platform, r) for r in p.requested_reviewers))  # type: ignore[misc]

    message_cols = Columns(MESSAGE_COLUMNS)
    for (rid, pid), c in comments.items():
        message_cols.add(rid, pid, c.parent_number, c.node_id or None, clean(c.body),
                         people.see(platforms[rid], c.author), c.author_association, c.html_url or None,
                         c.created_at, c.updated_at)

    children = build_children(events, platforms, people)
    singles = [e for e in events if isinstance(e, SINGLES)]
    see_singles(singles, platforms, people)
    return BatchRows(
        children=children, singles=singles, people=people, platforms=platforms,
        contributors=people.columns(affiliations),
        repos=[(rid, meta, owner) for rid, (meta, owner) in repos.items()],
        issues=issue_cols, issue_labels=issue_labels, issue_assignees=issue_assignees,
        pulls=pull_cols, pull_labels=pull_labels, pull_assignees=pull_assignees, pull_reviewers=pull_reviewers,
        messages=message_cols, git=build_commit_rows(commits, files, affiliations),
    )
