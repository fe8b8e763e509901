"""Every subject and stream of the pipeline, named once.

Subjects carry the repository id so that one repository's events can be read
(replayed) without reading anyone else's, and so that processor replicas can
later split the work by repository with a subject-partition mapping.

    cmd.<service>.<repo_id>          COMMANDS (work queue): one job for one service
    cmd.<service>.<task>             COMMANDS: a job about no single repository (an account
                                     listing, contributors' activity), keyed by its task
    evt.<source>.<repo_id>.<kind>    STAGING: every observed fact, and job markers
    evt.<source>.<key>.<kind>        STAGING: facts about no single repository (``key``: a task,
                                     ``new`` registrations, ``groups``, ``ops``)
    evt.progress.<repo_id|key>       PROGRESS: the processor's "rows committed" reports
    dlq.<origin subject>             DEADLETTER: messages that failed for good, with error
    ctl.<service>.<verb>             core NATS request/reply: the CLI asking the control plane

Key-value buckets (JetStream streams ``KV_<bucket>``) hold short-lived coordination: the
periodic-work lease and when each periodic task last ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COMMANDS = "COMMANDS"
STAGING = "STAGING"
PROGRESS = "PROGRESS"
DEADLETTER = "DEADLETTER"

# Services that take jobs from the COMMANDS work queue; the phase of a job is the
# service that runs it.
PHASE_COLLECTOR = "collector"
PHASE_FACADE = "facade"
PHASE_ANALYSIS = "analysis"
PHASE_RESOLVER = "resolver"
JOB_PHASES = (PHASE_COLLECTOR, PHASE_FACADE, PHASE_ANALYSIS, PHASE_RESOLVER)

# Sources of STAGING events.
SOURCE_FORGE = "forge"
SOURCE_GIT = "git"
SOURCE_ANALYSIS = "analysis"
SOURCE_IDENTITY = "identity"
SOURCE_SCHED = "sched"
SOURCE_CONTROL = "control"
SOURCES = (SOURCE_FORGE, SOURCE_GIT, SOURCE_ANALYSIS, SOURCE_IDENTITY, SOURCE_SCHED, SOURCE_CONTROL)

# Control events are about repositories that have no id yet (registration).
CONTROL_REPO_KEY = "new"
# Control events about repository groups (settings, sources) and about operations (dead-letter
# retries, view refreshes): not about one repository, so no repository's replay reads them.
CONTROL_GROUP_KEY = "groups"
CONTROL_OPS_KEY = "ops"
# The processor's record of the id it gave a repository: on the repository's own subjects, so
# replaying one repository into an empty database recreates its row under the same id.
IDENTIFIED_KIND = "identified"
IDENTITIES_FILTER = f"evt.{SOURCE_CONTROL}.*.{IDENTIFIED_KIND}"


def task_key(kind: str, ident: int | str) -> str:
    """The subject token of a job about no single repository, e.g. ``account-3``."""
    return f"{kind}-{ident}"


def command_subject(phase: str, repo_id: int | str) -> str:
    return f"cmd.{phase}.{repo_id}"


def command_filter(phase: str) -> str:
    return f"cmd.{phase}.>"


def event_subject(source: str, repo_id: int | str, kind: str) -> str:
    return f"evt.{source}.{repo_id}.{kind}"


def repo_events_filter(repo_id: int) -> list[str]:
    """Subjects holding every event of one repository (for replay)."""
    return [f"evt.{source}.{repo_id}.>" for source in SOURCES]


def identity_subject(repo_id: int) -> str:
    return event_subject(SOURCE_CONTROL, repo_id, IDENTIFIED_KIND)


def progress_subject(repo_id: int | str) -> str:
    return f"evt.progress.{repo_id}"


PROGRESS_FILTER = "evt.progress.>"
STAGING_SUBJECTS = [f"evt.{source}.>" for source in SOURCES]


# Core NATS request/reply (not streamed). One replica of a service answers each request (a
# queue group); the scheduler's requests change what is queued, the processor's replays rows.
CONTROL_COLLECT = "ctl.scheduler.collect"
CONTROL_SETTINGS = "ctl.scheduler.settings"
CONTROL_PRIORITIZE = "ctl.scheduler.prioritize"
CONTROL_ADD_ORG = "ctl.scheduler.add-org"
CONTROL_DLQ_RETRY = "ctl.scheduler.dlq-retry"
CONTROL_REPLAY = "ctl.processor.replay"
SCHEDULER_QUEUE_GROUP = "scheduler"
PROCESSOR_QUEUE_GROUP = "processor"

# Control events about groups (no repository id): evt.control.group.<kind>.
CONTROL_GROUP_KEY = "group"

# JetStream key-value bucket where each collector process keeps the state of its token pools
# (masked labels, remaining quota and reset per bucket), one key per API server and process;
# the REST API and dashboard read it. Entries of a process that stopped reporting expire.
TOKEN_POOLS_BUCKET = "token_pools"


def deadletter_subject(origin: str) -> str:
    return f"dlq.{origin}"


@dataclass(frozen=True)
class StreamDef:
    name: str
    subjects: list[str]
    retention: str  # "limits" | "workqueue"
    max_age_s: float = 0.0  # 0 = forever
    max_bytes: int = -1
    duplicate_window_s: float = 120.0
    description: str = ""
    extra: dict[str, object] = field(default_factory=dict)


STREAMS: tuple[StreamDef, ...] = (
    StreamDef(
        COMMANDS,
        ["cmd.>"],
        "workqueue",
        # Job ids are derived from (repo, phase, due time); a long window stops the
        # scheduler from dispatching the same due job twice.
        duplicate_window_s=3600.0,
        description="jobs for collector, facade, analysis and resolver",
    ),
    StreamDef(
        STAGING,
        STAGING_SUBJECTS,
        "limits",
        max_age_s=90 * 86400.0,
        description="every observed fact; the database is a projection of it",
    ),
    StreamDef(
        PROGRESS,
        [PROGRESS_FILTER],
        "limits",
        max_age_s=86400.0,
        description="the processor's reports of committed jobs",
    ),
    StreamDef(
        DEADLETTER,
        ["dlq.>"],
        "limits",
        max_age_s=30 * 86400.0,
        description="messages that failed for good, with their error",
    ),
)

# Durable consumer names.
PROCESSOR_CONSUMER = "processor"
PROCESSOR_DEADLETTER_CONSUMER = "processor-deadletters"
SCHEDULER_PROGRESS_CONSUMER = "scheduler-progress"

# Key-value buckets. Leases expire unless renewed (the bucket's TTL is the lease's); the
# periodic bucket keeps when each periodic task last ran, whichever replica ran it.
LEASES_BUCKET = "watershed_leases"
PERIODIC_BUCKET = "watershed_periodic"
PERIODIC_LEASE = "scheduler-periodic"


def job_consumer(phase: str) -> str:
    return f"jobs-{phase}"
