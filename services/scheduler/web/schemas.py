"""The REST API's shapes: path, query and body structs in, response structs out.

The OpenAPI document's schemas are generated from these (``msgspec.json.schema_components``),
and requests are validated against the same types, so the document cannot drift from the code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from shared.events import v1
from watershed.report import PhaseReport

# Ids are Postgres `integer`s: anything larger is no id of ours (and must not reach the database).
Id = Annotated[int, Meta(ge=1, le=2_147_483_647, description="a positive 32-bit id")]
Limit = Annotated[int, Meta(ge=1, le=500, description="page size")]
Offset = Annotated[int, Meta(ge=0, le=100_000_000, description="items to skip")]
# Printable text without control characters (a filter, a name).
Text = Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
GroupName = Annotated[str, Meta(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*[^\x00-\x20\x7f]$",
                                description="a group's name (no control characters, no trailing space)")]
Priority = Annotated[int, Meta(ge=-1000, le=1000, description="higher is dispatched first within a pass")]
RepoState = Literal["active", "missing", "blocked", "invalid", "removed"]
Platform = Literal["github", "gitlab", "git"]
Phase = Literal["collector", "facade", "analysis", "resolver"]
JobState = Literal["queued", "collecting", "retrying"]


class Struct(msgspec.Struct, forbid_unknown_fields=True):
    """Base of request structs: an unknown field is a typo, refused with a 422."""


class Out(msgspec.Struct):
    """Base of response structs."""


# --------------------------------------------------------------------- requests


class RepoPath(Struct):
    repo_id: Id


class GroupPath(Struct):
    group_id: Id


class RepoQuery(Struct):
    limit: Limit = 50
    offset: Offset = 0
    state: RepoState | None = None
    platform: Platform | None = None
    group_id: Id | None = None
    q: Text | None = None  # part of the URL


class GroupQuery(Struct):
    limit: Limit = 50
    offset: Offset = 0
    include_removed: bool = False


class QueueQuery(Struct):
    limit: Limit = 50
    offset: Offset = 0
    phase: Phase | None = None
    state: JobState | None = None


class DeadLetterQuery(Struct):
    limit: Limit = 50
    offset: Offset = 0
    repo_id: Id | None = None


class RepoCreate(Struct):
    url: Annotated[str, Meta(min_length=1, max_length=2000, description="a repository URL or git remote")]
    group: GroupName = "default"
    collect: bool = False  # run every phase now, instead of when the scheduler next looks


class GroupCreate(Struct):
    name: GroupName


class PriorityChange(Struct):
    priority: Priority | None = None  # also a standing priority (higher first among due jobs)


class RecollectRequest(Struct):
    full: bool = True  # a full resync (ignore cursors and ETags), as `watershed recollect` does


# --------------------------------------------------------------------- responses


class PhaseSummary(Out):
    phase: str
    state: str
    next_due: datetime | None = None
    last_success_at: datetime | None = None
    error_kind: str | None = None


class RepoSummary(Out):
    repo_id: int
    url: str
    platform: str
    host: str
    owner: str
    name: str
    group_id: int
    group: str
    state: str
    priority: int
    registered_at: datetime
    phases: list[PhaseSummary] = []


class RepoPage(Out):
    items: list[RepoSummary]
    total: int
    limit: int
    offset: int


class RepoDetail(Out):
    """A repository, its collection status per phase and its rows per entity (as `watershed
    status --json` shows them)."""

    repo: RepoSummary
    state_reason: str | None = None
    description: str | None = None
    html_url: str | None = None
    phases: list[PhaseReport] = []
    rows: dict[str, int] = {}
    requests: dict[str, int] = {}


class RepoAdded(Out):
    url: str
    repo_id: int
    created: bool
    restored: bool = False  # it had been removed and is active again
    jobs: dict[str, str] = {}


class Accepted(Out):
    """The request is published; the processor records it shortly."""

    detail: str
    status: Literal["accepted"] = "accepted"


class CollectResult(Out):
    targets: list[v1.CollectTarget]


class Group(Out):
    group_id: int
    name: str
    priority: int
    created_at: datetime
    repos: int  # active repositories
    repos_total: int
    removed_at: datetime | None = None


class GroupPage(Out):
    items: list[Group]
    total: int
    limit: int
    offset: int


class QueueStats(Out):
    phase: str
    waiting: int  # in the work queue, not yet taken
    in_flight: int  # taken by a worker, not yet acknowledged
    redelivered: int
    consumer: bool  # False until a worker of the phase has started


class Job(Out):
    repo_id: int
    url: str
    phase: str
    state: str
    job_id: str | None = None
    attempt: int | None = None
    dispatched_at: datetime | None = None
    started_at: datetime | None = None
    retry_at: datetime | None = None
    last_error: str | None = None


class QueueView(Out):
    queues: list[QueueStats]
    jobs: list[Job]
    jobs_total: int
    limit: int
    offset: int


class DeadLetter(Out):
    dead_letter_id: int
    subject: str
    error: str
    failed_at: datetime
    payload_bytes: int
    msg_id: str | None = None
    repo_id: int | None = None


class DeadLetterPage(Out):
    items: list[DeadLetter]
    total: int
    limit: int
    offset: int
    in_stream: int  # messages in the DEADLETTER stream (job dead letters included)


class TokenPool(Out):
    server: str
    reported_by: list[str]
    updated_at: datetime
    anonymous: bool
    active: int
    retired: int
    budgets: list[v1.TokenBudget]


class TokenPools(Out):
    servers: list[TokenPool]


class Throughput(Out):
    phase: str
    ok: int
    failed: int


class Overview(Out):
    repos: dict[str, int]  # by state
    queues: list[QueueStats]
    last_hour: list[Throughput]  # phases whose job finished in the last hour, by outcome
    failing: int  # phases whose last job failed or waits for a retry
    dead_letters: int  # recorded in ops.dead_letters
    dead_letters_in_stream: int  # kept in the DEADLETTER stream (failed jobs too)
    quota: list[TokenPool]


class LeaderboardQuery(Struct):
    since: datetime | None = None  # RFC 3339; default: two years before `until`
    until: datetime | None = None  # RFC 3339; default: now
    limit: Limit = 100
    include_bots: bool = False
    weights: Annotated[str, Meta(max_length=400, pattern=r"^[a-z_]+=[0-9.]+(, ?[a-z_]+=[0-9.]+)*$",
                                 description="changed weights, e.g. commits=12,line_cap=500")] | None = None


class LeaderboardEntry(Out):
    rank: int
    cntrb_id: str | None  # null: a commit address no account claims
    login: str | None
    name: str | None
    bot: bool
    points: float
    line_points: float
    lines_added: int
    lines_deleted: int
    counts: dict[str, int]


class LeaderboardView(Out):
    scope: str  # "global" or the repository's URL
    repo_id: int | None
    since: datetime
    until: datetime
    weights: dict[str, float]
    entries: list[LeaderboardEntry]
