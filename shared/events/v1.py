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
    PublicEvent,
    PullRequest,
    PullRequestDetail,
    Release,
    RepoInfo,
    RepoMeta,
    Review,
    ReviewComment,
    Struct,
    Team,
    User,
)
from shared.events.requests import (  # noqa: F401 - re-exported: v1.CollectRequest etc.
    AddOrgReply,
    AddOrgRequest,
    CollectReply,
    CollectRequest,
    CollectTarget,
    DeadLetterRetryReply,
    DeadLetterRetryRequest,
    OrgTarget,
    PrioritizeRequest,
    ReplayProgress,
    ReplayRequest,
    ReplayTarget,
    RetriedLetter,
    SettingsReply,
    SettingsRequest,
    SettingsTarget,
    TokenBudget,
    TokenPoolState,
    add_org_reply_decoder,
    collect_reply_decoder,
    collect_request_decoder,
    dlq_retry_reply_decoder,
    replay_progress_decoder,
    replay_request_decoder,
    settings_reply_decoder,
    token_pool_decoder,
)

# --------------------------------------------------------------------------- jobs


# What a job is about. A repository job is one phase of one repository; the others are about no
# single repository (repo_id 0) and are named by a task key (subjects.task_key).
KIND_REPO = "repo"
KIND_ACCOUNT = "account"  # list an organization's or user's repositories (``url``, ``owner``: the account)
KIND_ACTIVITY = "activity"  # read the public activity of ``logins``


class Job(Struct, tag="job"):
    """One unit of work for one service (the phase) on one repository, or on an account or a
    batch of accounts (``kind``)."""

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
    kind: str = KIND_REPO
    task: str = ""  # not a repository job: its task key (its status row, its subjects)
    source_id: int | None = None  # account jobs: the group source listed
    logins: list[str] = []  # activity jobs: the accounts to read

    @property
    def key(self) -> int | str:
        """The token naming the job's subjects: the repository id, or the task."""
        return self.task or self.repo_id


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


class AccountReposObserved(JobEvent, tag="account_repos", kw_only=True):
    """A page of an account's repository listing (repo_id 0: an account job)."""

    account: str
    items: list[RepoMeta]


class AccountListed(JobEvent, tag="account_listed", kw_only=True):
    """The account's listing is complete: ``total`` repositories in the pages before, or
    ``unchanged`` since the stored ETag (no pages). Only a complete listing says which
    repositories are gone."""

    source_id: int
    account: str
    total: int
    unchanged: bool = False
    etag: str | None = None
    platform_account_id: int | None = None


class ContributorActivityObserved(JobEvent, tag="contributor_activity", kw_only=True):
    """One account's public events (repo_id 0: an activity job). ``not_modified``: unchanged
    since ``etag``; ``missing``: the account is gone (renamed or deleted)."""

    namespace: str  # where the account lives: "github", or "github@host" (shared.ids)
    login: str
    items: list[PublicEvent] = []
    etag: str | None = None
    not_modified: bool = False
    missing: bool = False


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
    task: str = ""  # a job about no single repository: its task key


class JobRetrying(JobEvent, tag="job_retrying", kw_only=True):
    """A job attempt failed and the job goes back to its work queue for another delivery.

    Not a data message and not counted: it lets the status (and a waiting ``collect``) show the
    attempt's error at once instead of after every retry and its backoff."""

    phase: str
    error: str
    error_kind: str  # see shared.errors.ErrorKind: transient, rate_limited or auth
    retry_at: datetime | None = None
    task: str = ""


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
    task: str = ""  # a job about no single repository: its task key (repo_id is 0)


class PhaseScheduled(Struct, tag="phase_scheduled"):
    """The scheduler's decision after a job: its final state and the next due time."""

    repo_id: int
    phase: str
    job_id: str
    state: str  # done | error
    next_due: datetime | None = None
    failures: int | None = None  # failed jobs in a row, this one included (the retry backoff)


class RepoIdentified(Struct, tag="repo_identified"):
    """The processor gave a repository its id. Published by the processor itself on the
    repository's subjects, so a replay of the repository recreates the row under this id."""

    repo_id: int
    url: str
    platform: str
    host: str
    owner: str = ""
    name: str = ""
    group: str = "default"
    registered_at: datetime | None = None


class RepoSettingsChanged(Struct, tag="repo_settings"):
    """A repository's own queue settings; None: inherit (the group's, else the global one).
    The latest ``changed_at`` wins, so a replayed old change never undoes a newer one."""

    repo_id: int
    changed_at: datetime
    priority: int | None = None
    recollect_interval_s: float | None = None


class GroupSettingsChanged(Struct, tag="group_settings"):
    """A repository group's queue settings (None: the global default), for its repositories
    that have no setting of their own."""

    group: str
    changed_at: datetime
    priority: int | None = None
    recollect_interval_s: float | None = None


class RepoPrioritized(Struct, tag="repo_prioritized"):
    """Move the repository's ``phases`` to the front of the queue, due now (``watershed prioritize``)."""

    repo_id: int
    phases: list[str]
    at: datetime


class GroupSourceAdded(Struct, tag="group_source"):
    """Follow an organization or user (GitHub) or a group with its subgroups (GitLab; ``account``
    its full path): its repositories are registered in ``group`` and the group follows the
    account's listing (new, renamed, transferred and deleted repositories)."""

    group: str
    platform: str
    host: str
    account: str
    url: str
    added_at: datetime


class DeadLetterRetried(Struct, tag="dead_letter_retried"):
    dead_letter_id: int
    retried_at: datetime
    job_id: str | None = None  # the job dispatched again (None: a message handed back to the processor)


class RefreshViews(Struct, tag="refresh_views"):
    """Refresh every materialized view of the data and augur schemas (the processor runs it)."""

    run_id: str
    requested_at: datetime


# ------------------------------------------------------------------ control (people, through the API)


class RepoRemoved(Struct, tag="repo_removed"):
    """Stop collecting a repository. Its rows stay; registering its URL again brings it back."""

    repo_id: int
    requested_at: datetime


class GroupAdded(Struct, tag="group_added"):
    name: str
    requested_at: datetime


class GroupRemoved(Struct, tag="group_removed"):
    """Remove a group: every repository in it is removed (see :class:`RepoRemoved`)."""

    group_id: int
    requested_at: datetime


ControlEvent = Union[RepoRemoved, GroupAdded, GroupRemoved]

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
    GroupAdded,
    GroupRemoved,
    AccountReposObserved,
    AccountListed,
    ContributorActivityObserved,
    RepoIdentified,
    RepoSettingsChanged,
    GroupSettingsChanged,
    RepoPrioritized,
    GroupSourceAdded,
    DeadLetterRetried,
    RefreshViews,
]
# Messages of jobs about no single repository (repo_id 0): applied without repository rows.
TaskEvent = Union[AccountReposObserved, AccountListed, ContributorActivityObserved]
TASK_EVENTS = (AccountReposObserved, AccountListed, ContributorActivityObserved)

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


class AccountSynced(Struct, tag="account_synced"):
    """An account's listing was applied to its group."""

    source_id: int
    job_id: str
    group: str
    listed: int
    added: list[int] = []  # repositories registered now
    renamed: int = 0
    unlisted: int = 0
    relisted: int = 0
    unchanged: bool = False


class ViewsRefreshed(Struct, tag="views_refreshed"):
    run_id: str
    views: list[str] = []
    failed: dict[str, str] = {}  # view -> error


ProgressEvent = Union[JobCommitted, RepoAdded, AccountSynced, ViewsRefreshed]

# ------------------------------------------------------------------ codecs

encoder = msgspec.json.Encoder()
job_decoder = msgspec.json.Decoder(Job)
staged_decoder = msgspec.json.Decoder(StagedEvent)
progress_decoder = msgspec.json.Decoder(ProgressEvent)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


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
    if isinstance(event, RepoRemoved):
        return f"{event.__struct_config__.tag}:{event.repo_id}:{_micros(event.requested_at)}"
    if isinstance(event, GroupRemoved):
        return f"{event.__struct_config__.tag}:{event.group_id}:{_micros(event.requested_at)}"
    if isinstance(event, GroupAdded):
        return f"group_added:{event.name}:{_micros(event.requested_at)}"
    if isinstance(event, RepoIdentified):
        return f"identified:{event.repo_id}:{event.url}"  # renamed: a new identity, not a duplicate
    if isinstance(event, RepoSettingsChanged):
        return f"repo-settings:{event.repo_id}:{_ms(event.changed_at)}"
    if isinstance(event, GroupSettingsChanged):
        return f"group-settings:{event.group}:{_ms(event.changed_at)}"
    if isinstance(event, RepoPrioritized):
        return f"prioritized:{event.repo_id}:{_ms(event.at)}"
    if isinstance(event, GroupSourceAdded):
        return f"source:{event.url}"
    if isinstance(event, DeadLetterRetried):
        return f"dlq-retried:{event.dead_letter_id}:{_ms(event.retried_at)}"
    if isinstance(event, RefreshViews):
        return f"views:{event.run_id}"
    if isinstance(event, AccountSynced):
        return f"synced:{event.source_id}:{event.job_id}"
    if isinstance(event, ViewsRefreshed):
        return f"views-refreshed:{event.run_id}"
    raise TypeError(f"no message id for {type(event).__name__}")


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def job_id(phase: str, repo_id: int, due: datetime) -> str:
    """Jobs are named by what is due, so dispatching the same due job twice is a duplicate."""
    return f"{phase}-{repo_id}-{int(due.timestamp() * 1000)}"
