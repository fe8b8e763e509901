"""Scheduling policy: pure functions of state and time.

The queue holds one entry per (repository, phase). Its order: urgent entries first (``watershed
prioritize``), then higher priority, then the earlier due time. Each tick dispatches at most
``batch`` entries per phase, and never more than keeps ``max_in_flight`` jobs of the phase
queued or running: a backlog of 100,000 due repositories drains at the workers' pace instead
of flooding the work queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.errors import ErrorKind
from shared.events import subjects

# Phases whose work exists, per platform. Analysis joins when implemented. The resolver maps
# the emails the other phases bring to accounts: the processor makes it due again whenever a
# collector or facade job of the repository commits (jobs.complete_jobs).
PLATFORM_PHASES: dict[str, tuple[str, ...]] = {
    "github": (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE, subjects.PHASE_RESOLVER),
    "gitlab": (subjects.PHASE_FACADE,),
    "git": (subjects.PHASE_FACADE, subjects.PHASE_RESOLVER),
}

# Every phase some platform runs: the queue is read per phase.
QUEUED_PHASES: tuple[str, ...] = tuple(sorted({phase for phases in PLATFORM_PHASES.values() for phase in phases}))

# Failures that will not heal by waiting: stop scheduling until someone asks again.
_TERMINAL = frozenset({ErrorKind.NOT_FOUND.value, ErrorKind.BLOCKED.value, ErrorKind.INVALID.value})

# Phase states whose job is queued or running: never dispatched again meanwhile.
IN_FLIGHT = ("queued", "collecting", "retrying")


def phases_for(platform: str) -> tuple[str, ...]:
    return PLATFORM_PHASES.get(platform, (subjects.PHASE_FACADE,))


def retry_delay(failures: int, *, retry_s: float, recollect_s: float) -> float:
    """Seconds until a phase that failed ``failures`` times in a row (this time included) is
    tried again: ``retry_s``, doubling with every further failure, but never later than the
    phase's regular recollection."""
    return min(retry_s * 2 ** max(failures - 1, 0), max(retry_s, recollect_s))


def after_job(error_kind: str | None, now: datetime, *, recollect_s: float, retry_s: float,
              failures: int = 0) -> tuple[str, datetime | None]:
    """(final state, next due) of a phase whose job has just been committed; ``failures``: how
    many jobs of the phase failed in a row before this one."""
    if error_kind is None:
        return "done", now + timedelta(seconds=recollect_s)
    if error_kind in _TERMINAL:
        return "error", None
    return "error", now + timedelta(seconds=retry_delay(failures + 1, retry_s=retry_s, recollect_s=recollect_s))


def is_due(state: str | None, next_due: datetime | None, now: datetime) -> bool:
    if state is None or state == "new":
        return True
    return state in ("done", "error") and next_due is not None and next_due <= now


def is_stuck(state: str | None, updated_at: datetime | None, now: datetime, timeout_s: float) -> bool:
    """A phase said to be queued or running that has not moved for ``timeout_s``: its job was
    lost (a purged queue, a worker that died on every delivery). It is dispatched anew."""
    return state in IN_FLIGHT and updated_at is not None and updated_at <= now - timedelta(seconds=timeout_s)


@dataclass(frozen=True, order=True)
class Entry:
    """A queue entry that may be dispatched: a due phase, a new repository's phase, a stuck one.

    Sorting entries gives the dispatch order."""

    sort_key: tuple[bool, int, datetime] = field(init=False, repr=False)
    repo_id: int = field(compare=False)
    phase: str = field(compare=False)
    due: datetime = field(compare=False)  # names the job: the same due time is the same job
    priority: int = field(default=0, compare=False)
    urgent: bool = field(default=False, compare=False)
    stuck: bool = field(default=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sort_key", (not self.urgent, -self.priority, self.due))


def plan_dispatch(entries: Iterable[Entry], in_flight: Mapping[str, int], *, batch: int,
                  max_in_flight: int) -> list[Entry]:
    """The entries to dispatch this tick, in order: per phase at most ``batch``, and at most as
    many as keep the phase's queued and running jobs within ``max_in_flight`` (a stuck entry
    replaces a job counted in flight already, so it takes from the batch only). One repository
    phase appears once (a stuck entry and a due one for the same phase are the same work)."""
    sent: dict[str, int] = {}
    added: dict[str, int] = {}
    chosen: list[Entry] = []
    seen: set[tuple[int, str]] = set()
    for entry in sorted(entries):
        key = (entry.repo_id, entry.phase)
        phase = entry.phase
        if key in seen or sent.get(phase, 0) >= batch:
            continue
        if not entry.stuck:
            if in_flight.get(phase, 0) + added.get(phase, 0) >= max_in_flight:
                continue
            added[phase] = added.get(phase, 0) + 1
        sent[phase] = sent.get(phase, 0) + 1
        seen.add(key)
        chosen.append(entry)
    return chosen
