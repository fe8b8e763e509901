"""Every subject and stream of the pipeline, named once.

Subjects carry the repository id so that one repository's events can be read
(replayed) without reading anyone else's, and so that processor replicas can
later split the work by repository with a subject-partition mapping.

    cmd.<service>.<repo_id>          COMMANDS (work queue): one job for one service
    evt.<source>.<repo_id>.<kind>    STAGING: every observed fact, and job markers
    evt.progress.<repo_id>           PROGRESS: the processor's "rows committed" reports
    dlq.<origin subject>             DEADLETTER: messages that failed for good, with error
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


def command_subject(phase: str, repo_id: int) -> str:
    return f"cmd.{phase}.{repo_id}"


def command_filter(phase: str) -> str:
    return f"cmd.{phase}.>"


def event_subject(source: str, repo_id: int | str, kind: str) -> str:
    return f"evt.{source}.{repo_id}.{kind}"


def repo_events_filter(repo_id: int) -> list[str]:
    """Subjects holding every event of one repository (for replay)."""
    return [f"evt.{source}.{repo_id}.>" for source in SOURCES]


def progress_subject(repo_id: int) -> str:
    return f"evt.progress.{repo_id}"


PROGRESS_FILTER = "evt.progress.>"
STAGING_SUBJECTS = [f"evt.{source}.>" for source in SOURCES]


# Core NATS request/reply (not streamed): asking the scheduler to register or collect now.
CONTROL_COLLECT = "ctl.scheduler.collect"

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
SCHEDULER_PROGRESS_CONSUMER = "scheduler-progress"


def job_consumer(phase: str) -> str:
    return f"jobs-{phase}"
