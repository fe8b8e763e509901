"""The facts inside messages: repositories, people, issues, pull requests and their
children, commits. Plain frozen structs, shared by every message type of v1."""

from __future__ import annotations

from datetime import datetime

import msgspec


class Struct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of every wire struct."""


class Part(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of nested values (not messages on their own)."""


class User(Part):
    platform_id: int
    login: str
    node_id: str = ""
    kind: str = "User"  # User | Bot | Organization | Mannequin | Ghost
    name: str | None = None
    email: str | None = None
    avatar_url: str = ""
    html_url: str = ""
    created_at: datetime | None = None


class Label(Part):
    name: str
    platform_id: int | None = None
    color: str = ""
    description: str | None = None


class RepoMeta(Part):
    platform_id: int
    owner: str
    name: str
    node_id: str = ""
    description: str | None = None
    homepage: str | None = None
    default_branch: str = ""
    language: str | None = None
    license: str | None = None
    is_fork: bool = False
    is_archived: bool = False
    is_disabled: bool = False
    stars: int = 0
    forks: int = 0
    watchers: int = 0
    open_issues: int = 0
    html_url: str = ""
    clone_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pushed_at: datetime | None = None
    owner_user: User | None = None


class Issue(Part):
    platform_id: int
    number: int
    title: str
    state: str  # open | closed
    node_id: str = ""
    body: str | None = None
    state_reason: str | None = None
    locked: bool = False
    author: User | None = None
    closed_by: User | None = None
    assignees: list[User] = []
    labels: list[Label] = []
    milestone: str | None = None
    comments: int = 0
    html_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None


class PullRequest(Part):
    platform_id: int
    number: int
    title: str
    state: str  # open | closed
    node_id: str = ""
    body: str | None = None
    draft: bool = False
    locked: bool = False
    author: User | None = None
    author_association: str | None = None
    assignees: list[User] = []
    requested_reviewers: list[User] = []
    labels: list[Label] = []
    milestone: str | None = None
    html_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    head_repo: str | None = None  # owner/name of the head repository (None when deleted)
    base_ref: str | None = None
    base_sha: str | None = None


class Comment(Part):
    """A comment on an issue or a pull request's conversation (not a review comment)."""

    platform_id: int
    parent_number: int  # the issue or pull request number
    node_id: str = ""
    body: str | None = None
    author: User | None = None
    author_association: str | None = None
    html_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class FileChange(Part):
    path: str
    old_path: str | None = None  # set on renames and copies
    added: int | None = None  # None for binary files
    deleted: int | None = None


class Commit(Part):
    sha: str
    parents: list[str] = []
    author_name: str = ""
    author_email: str = ""
    author_date: datetime | None = None
    committer_name: str = ""
    committer_email: str = ""
    committer_date: datetime | None = None
    message: str = ""
    files: list[FileChange] = []
    # Set when a huge commit's files are spread over several entries with the same sha:
    # the whole commit's totals, which no single entry's files add up to.
    file_count: int | None = None
    added_total: int | None = None
    deleted_total: int | None = None


# ------------------------------------------------------------ pull request children


class Team(Part):
    platform_id: int
    slug: str
    name: str = ""


class PullRequestDetail(Part):
    """What only the single-PR view (or GraphQL) knows about a pull request."""

    number: int
    platform_id: int | None = None  # the pull request's id: lets details land before the PR row
    merged_by: User | None = None
    merge_state: str | None = None  # GitHub mergeStateStatus: CLEAN, DIRTY, BLOCKED, ...
    mergeable: str | None = None  # MERGEABLE | CONFLICTING | UNKNOWN
    requested_teams: list[Team] = []
    reviews_total: int | None = None
    commits_total: int | None = None
    files_total: int | None = None


class Review(Part):
    platform_id: int
    pr_number: int
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    node_id: str = ""
    author: User | None = None
    author_association: str | None = None
    body: str | None = None
    commit_sha: str | None = None
    html_url: str = ""
    submitted_at: datetime | None = None


class ReviewComment(Part):
    platform_id: int
    pr_number: int
    node_id: str = ""
    review_id: int | None = None
    in_reply_to: int | None = None
    path: str | None = None
    diff_hunk: str | None = None
    line: int | None = None
    original_line: int | None = None
    commit_sha: str | None = None
    original_commit_sha: str | None = None
    body: str | None = None
    author: User | None = None
    author_association: str | None = None
    html_url: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PrCommit(Part):
    pr_number: int
    sha: str
    message: str = ""
    author_name: str = ""
    author_email: str = ""
    author_date: datetime | None = None
    committer_name: str = ""
    committer_email: str = ""
    committer_date: datetime | None = None
    author: User | None = None  # the platform account, when GitHub matched one
    committer: User | None = None
    additions: int | None = None
    deletions: int | None = None


class PrFile(Part):
    pr_number: int
    path: str
    previous_path: str | None = None
    status: str | None = None  # added | removed | modified | renamed | ...
    additions: int | None = None
    deletions: int | None = None


# ------------------------------------------------------------------ issue history


class IssueEvent(Part):
    """A change in an issue's or pull request's life: labeled, closed, renamed, transferred..."""

    platform_id: int
    issue_number: int
    event: str
    node_id: str = ""
    is_pull_request: bool = False
    actor: User | None = None
    created_at: datetime | None = None
    commit_sha: str | None = None
    label: str | None = None
    assignee: User | None = None
    rename_from: str | None = None
    rename_to: str | None = None


# ------------------------------------------------------------------ repository level


class Release(Part):
    platform_id: int
    tag_name: str
    node_id: str = ""
    name: str | None = None
    body: str | None = None
    draft: bool = False
    prerelease: bool = False
    author: User | None = None
    target_commitish: str | None = None
    html_url: str = ""
    created_at: datetime | None = None
    published_at: datetime | None = None


class RepoInfo(Part):
    """A dated snapshot of a repository's vital signs (Augur's repo_info)."""

    stars: int = 0
    forks: int = 0
    watchers: int = 0
    open_issues: int | None = None
    closed_issues: int | None = None
    open_pull_requests: int | None = None
    closed_pull_requests: int | None = None
    merged_pull_requests: int | None = None
    commit_count: int | None = None
    license: str | None = None
    default_branch: str | None = None
    is_archived: bool = False
    is_disabled: bool = False
    has_readme: bool | None = None
    has_contributing: bool | None = None
    has_code_of_conduct: bool | None = None
    has_security: bool | None = None
    has_changelog: bool | None = None
    health_percentage: int | None = None


class Contribution(Part):
    user: User
    contributions: int


class CloneDay(Part):
    day: datetime
    count: int
    uniques: int


class Alias(Part):
    """A commit email and the account it belongs to in ``namespace`` (``github``,
    ``github@host``; see shared.ids.alias_namespace). ``user`` None: the forge knows no account
    with that address (asked again after a while). ``source`` says how it was found:
    ``noreply`` (the address names the account), ``pr_commit`` (GitHub attributed a pull
    request commit to it), ``public_email`` (an account shows it), ``commit_lookup`` (GitHub's
    attribution of a commit of the repository), ``none``."""

    email: str  # lower-cased
    namespace: str
    user: User | None
    source: str
    checked_at: datetime


class PublicEvent(Part):
    """One public event of an account (GitHub's ``/users/{login}/events/public``): where the
    person was active, in any repository, not only the collected ones."""

    platform_id: int
    type: str  # PushEvent, IssuesEvent, PullRequestEvent, ...
    repo_name: str  # owner/name as the forge reported it at the time
    repo_platform_id: int | None = None
    actor: User | None = None
    created_at: datetime | None = None
