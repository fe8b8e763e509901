"""Version 1 of the wire contract: jobs, staged facts, job markers and progress.

Changes within v1 are additive (new optional fields, new tagged types). Every
struct is frozen; unions are tagged by the ``type`` field so one decoder reads
any message of a stream.

A job's data messages are numbered (``seq``) per attempt; the job's final
``JobFinished`` marker says how many it published, so the processor can tell
exactly when every row of the job is committed, whatever order redelivery
brings the messages in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Union

import msgspec


class Struct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of every wire struct."""


class Part(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of nested values (not messages on their own)."""


# --------------------------------------------------------------------------- jobs


class Job(Struct, tag="job"):
    """One unit of work for one service (the phase) on one repository."""

    job_id: str
    repo_id: int
    phase: str
    url: str
    platform: str  # "github" | "gitlab" | "git"
    host: str = ""
    owner: str = ""
    name: str = ""
    full: bool = False  # ignore cursors: full resync
    dispatched_at: datetime | None = None


# ------------------------------------------------------------------ nested facts


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


# -------------------------------------------------------------- staged messages


class JobEvent(Struct):
    """Fields shared by every message a job publishes."""

    repo_id: int
    job_id: str
    attempt: int = 1
    seq: int = 0


class RepoObserved(JobEvent, tag="repo", kw_only=True):
    repo: RepoMeta


class IssuesObserved(JobEvent, tag="issues", kw_only=True):
    items: list[Issue]


class PullRequestsObserved(JobEvent, tag="pull_requests", kw_only=True):
    items: list[PullRequest]


class CommentsObserved(JobEvent, tag="comments", kw_only=True):
    items: list[Comment]


class CommitsObserved(JobEvent, tag="commits", kw_only=True):
    items: list[Commit]


class JobFinished(JobEvent, tag="job_finished", kw_only=True):
    """Last message of a job attempt: how many data messages came before it."""

    phase: str
    messages: int
    requests: int = 0
    error: str | None = None
    error_kind: str | None = None  # see shared.errors.ErrorKind
    started_at: datetime | None = None
    finished_at: datetime | None = None


class RepoRegistered(Struct, tag="repo_registered"):
    """A repository was added; the processor gives it its id."""

    url: str
    platform: str
    host: str
    owner: str = ""
    name: str = ""
    group: str = "default"
    registered_at: datetime | None = None


class JobDispatched(Struct, tag="job_dispatched"):
    repo_id: int
    phase: str
    job_id: str
    dispatched_at: datetime


class PhaseScheduled(Struct, tag="phase_scheduled"):
    """The scheduler's decision after a job: its final state and the next due time."""

    repo_id: int
    phase: str
    job_id: str
    state: str  # done | error
    next_due: datetime | None = None


DataEvent = Union[
    RepoObserved, IssuesObserved, PullRequestsObserved, CommentsObserved, CommitsObserved
]
StagedEvent = Union[
    RepoObserved,
    IssuesObserved,
    PullRequestsObserved,
    CommentsObserved,
    CommitsObserved,
    JobFinished,
    RepoRegistered,
    JobDispatched,
    PhaseScheduled,
]

# ------------------------------------------------------------------ progress


class JobCommitted(Struct, tag="job_committed"):
    """Every row of a job attempt is committed (or the job failed)."""

    repo_id: int
    phase: str
    job_id: str
    ok: bool
    error: str | None = None
    error_kind: str | None = None
    requests: int = 0
    rows: dict[str, int] = {}


class RepoAdded(Struct, tag="repo_added"):
    repo_id: int
    url: str
    created: bool


ProgressEvent = Union[JobCommitted, RepoAdded]

# ------------------------------------------------------------------ control (request/reply)


class CollectRequest(Struct, tag="collect_request"):
    """Register repositories and, with ``dispatch``, run every phase for them now."""

    urls: list[str]
    dispatch: bool = True
    group: str = "default"


class CollectTarget(Part):
    input: str
    url: str = ""
    repo_id: int | None = None
    created: bool = False
    jobs: dict[str, str] = {}
    error: str | None = None


class CollectReply(Struct, tag="collect_reply"):
    targets: list[CollectTarget]

# ------------------------------------------------------------------ codecs

encoder = msgspec.json.Encoder()
job_decoder = msgspec.json.Decoder(Job)
staged_decoder = msgspec.json.Decoder(StagedEvent)
progress_decoder = msgspec.json.Decoder(ProgressEvent)
collect_request_decoder = msgspec.json.Decoder(CollectRequest)
collect_reply_decoder = msgspec.json.Decoder(CollectReply)


def msg_id(event: StagedEvent | ProgressEvent) -> str:
    """The deterministic ``Nats-Msg-Id`` of a message: a republished copy has the same id."""
    if isinstance(event, JobEvent):
        return f"{event.job_id}:{event.attempt}:{event.seq}:{event.__struct_config__.tag}"
    if isinstance(event, RepoRegistered):
        return f"register:{event.url}"
    if isinstance(event, JobDispatched):
        return f"dispatch:{event.job_id}"
    if isinstance(event, PhaseScheduled):
        return f"scheduled:{event.job_id}"
    if isinstance(event, JobCommitted):
        return f"committed:{event.job_id}"
    if isinstance(event, RepoAdded):
        return f"added:{event.repo_id}"
    raise TypeError(f"no message id for {type(event).__name__}")


def job_id(phase: str, repo_id: int, due: datetime) -> str:
    """Jobs are named by what is due, so dispatching the same due job twice is a duplicate."""
    return f"{phase}-{repo_id}-{int(due.timestamp() * 1000)}"
