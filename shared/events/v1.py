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

from shared.events.facts import (  # noqa: F401 - re-exported: v1.Issue etc.
    Alias,
    CloneDay,
    Comment,
    Commit,
    Contribution,
    FileChange,
    Issue,
    IssueEvent,
    Label,
    Part,
    PrCommit,
    PrFile,
    PullRequest,
    PullRequestDetail,
    Release,
    RepoInfo,
    RepoMeta,
    Review,
    ReviewComment,
    Team,
    User,
)


class Struct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="type"):
    """Base of every wire struct."""


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


class ReviewsObserved(JobEvent, tag="reviews", kw_only=True):
    items: list[Review]


class ReviewCommentsObserved(JobEvent, tag="review_comments", kw_only=True):
    items: list[ReviewComment]


class PrCommitsObserved(JobEvent, tag="pr_commits", kw_only=True):
    items: list[PrCommit]


class PrFilesObserved(JobEvent, tag="pr_files", kw_only=True):
    items: list[PrFile]


class PullRequestDetailsObserved(JobEvent, tag="pr_details", kw_only=True):
    items: list[PullRequestDetail]


class IssueEventsObserved(JobEvent, tag="issue_events", kw_only=True):
    items: list[IssueEvent]


class ReleasesObserved(JobEvent, tag="releases", kw_only=True):
    items: list[Release]


class RepoInfoObserved(JobEvent, tag="repo_info", kw_only=True):
    info: RepoInfo
    observed_at: datetime


class ContributorsObserved(JobEvent, tag="contributors", kw_only=True):
    items: list[Contribution]


class CloneTrafficObserved(JobEvent, tag="clone_traffic", kw_only=True):
    items: list[CloneDay]


class OrgMembersObserved(JobEvent, tag="org_members", kw_only=True):
    org: str
    items: list[User]


class AliasesObserved(JobEvent, tag="aliases", kw_only=True):
    """The resolver's findings: commit emails and their accounts."""

    items: list[Alias]


class CursorObserved(JobEvent, tag="cursor", kw_only=True):
    """How far a stream of this repository has been read. The processor makes it the
    stored cursor only when the whole job is committed: a half-done pass never moves it.

    A ``checkpoint`` is a position inside a pass of an oldest-first stream instead: the
    processor keeps it as soon as every message of the attempt before it is committed,
    whatever becomes of the job, and the next pass resumes there."""

    stream: str
    value: str | None = None  # e.g. the highest updated_at seen, ISO 8601
    etag: str | None = None
    checkpoint: bool = False


class CommitsRetracted(JobEvent, tag="commits_retracted", kw_only=True):
    """Commits that left the history the facade tracks (a force-push, a deleted branch): the
    processor deletes them from the repository's commit rows, in stream order, so a commit
    observed again later (in this batch or a replay) is back. Disjoint from the commits the
    same job observes."""

    shas: list[str]


class CloneObserved(JobEvent, tag="clone", kw_only=True):
    """The state of the repository's bare clone after a sync.

    ``state``: ``ok``; ``empty`` (no commits to track); or why the sync failed, ``unreachable``
    (the job is retried), ``missing``, ``blocked``, with ``error``. A failed sync leaves the other
    fields unset: the clone on disk is as the last sync left it."""

    state: str
    observed_at: datetime
    error: str | None = None
    default_branch: str | None = None  # the branch the remote's HEAD names
    head_sha: str | None = None  # that branch's tip
    branches: int | None = None  # branches in the clone
    tracked: int | None = None  # of which the facade reads (all, or the default branch alone)
    all_branches: bool = False
    disk_bytes: int | None = None  # allocated on disk by the clone


class JobFinished(JobEvent, tag="job_finished", kw_only=True):
    """Last message of a job attempt: how many data messages came before it."""

    phase: str
    messages: int
    requests: int = 0  # every HTTP request made, retries included
    requests_graphql: int = 0  # of which GraphQL
    not_modified: int = 0  # of which answered 304 (free with a token)
    charged: int = 0  # quota actually spent: REST requests that cost, plus GraphQL points
    error: str | None = None
    error_kind: str | None = None  # see shared.errors.ErrorKind
    started_at: datetime | None = None
    finished_at: datetime | None = None


class JobRetrying(JobEvent, tag="job_retrying", kw_only=True):
    """A job attempt failed and the job goes back to its work queue for another delivery.

    Not a data message and not counted: it lets the status (and a waiting ``collect``) show the
    attempt's error at once instead of after every retry and its backoff."""

    phase: str
    error: str
    error_kind: str  # see shared.errors.ErrorKind: transient, rate_limited or auth
    retry_at: datetime | None = None


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


# ------------------------------------------------------------------ control (people, through the API)


class RepoRemoved(Struct, tag="repo_removed"):
    """Stop collecting a repository. Its rows stay; registering its URL again brings it back."""

    repo_id: int
    requested_at: datetime


class RepoPrioritized(Struct, tag="repo_prioritized"):
    """A repository's priority: of the jobs due in one scheduler pass, higher goes first."""

    repo_id: int
    priority: int
    requested_at: datetime


class GroupAdded(Struct, tag="group_added"):
    name: str
    requested_at: datetime


class GroupRemoved(Struct, tag="group_removed"):
    """Remove a group: every repository in it is removed (see :class:`RepoRemoved`)."""

    group_id: int
    requested_at: datetime


class GroupPrioritized(Struct, tag="group_prioritized"):
    """The priority of a group and of every repository in it (and of those added to it later)."""

    group_id: int
    priority: int
    requested_at: datetime


ControlEvent = Union[RepoRemoved, RepoPrioritized, GroupAdded, GroupRemoved, GroupPrioritized]

DataEvent = Union[
    RepoObserved, IssuesObserved, PullRequestsObserved, CommentsObserved, CommitsObserved, ReviewsObserved,
    ReviewCommentsObserved, PrCommitsObserved, PrFilesObserved, PullRequestDetailsObserved, IssueEventsObserved,
    ReleasesObserved, RepoInfoObserved, ContributorsObserved, CloneTrafficObserved, OrgMembersObserved,
    CursorObserved, AliasesObserved, CommitsRetracted, CloneObserved,
]
StagedEvent = Union[
    RepoObserved,
    IssuesObserved,
    PullRequestsObserved,
    CommentsObserved,
    CommitsObserved,
    ReviewsObserved,
    ReviewCommentsObserved,
    PrCommitsObserved,
    PrFilesObserved,
    PullRequestDetailsObserved,
    IssueEventsObserved,
    ReleasesObserved,
    RepoInfoObserved,
    ContributorsObserved,
    CloneTrafficObserved,
    OrgMembersObserved,
    CursorObserved,
    AliasesObserved,
    CommitsRetracted,
    CloneObserved,
    JobFinished,
    JobRetrying,
    RepoRegistered,
    JobDispatched,
    PhaseScheduled,
    RepoRemoved,
    RepoPrioritized,
    GroupAdded,
    GroupRemoved,
    GroupPrioritized,
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
    full: bool = False  # a full resync: jobs ignore stored cursors and ETags


class CollectTarget(Part):
    input: str
    url: str = ""
    repo_id: int | None = None
    created: bool = False
    jobs: dict[str, str] = {}
    error: str | None = None


class CollectReply(Struct, tag="collect_reply"):
    targets: list[CollectTarget]

# ------------------------------------------------------------------ token pools (key-value, not streamed)


class TokenBudget(Part):
    """What one token has left in one rate-limit bucket. ``token`` is the masked label
    (``tok#ab12``), never the token; ``remaining`` is None until a response said."""

    token: str
    bucket: str
    remaining: int | None = None
    reset_at: datetime | None = None
    observed_at: datetime | None = None
    active: bool = True  # False once the forge refused the token (401)


class TokenPoolState(Struct, tag="token_pool_state"):
    """One collector process's view of one API server's token pool."""

    server: str  # the API's host[:port]
    instance: str  # the collector process that reported it
    updated_at: datetime
    anonymous: bool = False
    active: int = 0
    retired: int = 0
    budgets: list[TokenBudget] = []


# ------------------------------------------------------------------ codecs

encoder = msgspec.json.Encoder()
job_decoder = msgspec.json.Decoder(Job)
staged_decoder = msgspec.json.Decoder(StagedEvent)
progress_decoder = msgspec.json.Decoder(ProgressEvent)
collect_request_decoder = msgspec.json.Decoder(CollectRequest)
collect_reply_decoder = msgspec.json.Decoder(CollectReply)
token_pool_decoder = msgspec.json.Decoder(TokenPoolState)


def msg_id(event: StagedEvent | ProgressEvent | ControlEvent) -> str:
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
    # A person's request is named by what and when: the same request retried is one message,
    # the same change asked again later is another.
    if isinstance(event, (RepoRemoved, RepoPrioritized)):
        return f"{event.__struct_config__.tag}:{event.repo_id}:{_micros(event.requested_at)}"
    if isinstance(event, (GroupRemoved, GroupPrioritized)):
        return f"{event.__struct_config__.tag}:{event.group_id}:{_micros(event.requested_at)}"
    if isinstance(event, GroupAdded):
        return f"group_added:{event.name}:{_micros(event.requested_at)}"
    raise TypeError(f"no message id for {type(event).__name__}")


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def job_id(phase: str, repo_id: int, due: datetime) -> str:
    """Jobs are named by what is due, so dispatching the same due job twice is a duplicate."""
    return f"{phase}-{repo_id}-{int(due.timestamp() * 1000)}"
