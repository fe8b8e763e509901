"""Scheduling policy: pure functions of state and time."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.errors import ErrorKind
from shared.events import subjects

# Phases whose work exists, per platform. Analysis and resolver join when implemented.
_PHASES: dict[str, tuple[str, ...]] = {
    "github": (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE),
    "gitlab": (subjects.PHASE_FACADE,),
    "git": (subjects.PHASE_FACADE,),
}

# Failures that will not heal by waiting: stop scheduling until someone asks again.
_TERMINAL = frozenset({ErrorKind.NOT_FOUND.value, ErrorKind.BLOCKED.value, ErrorKind.INVALID.value})


def phases_for(platform: str) -> tuple[str, ...]:
    return _PHASES.get(platform, (subjects.PHASE_FACADE,))


def after_job(error_kind: str | None, now: datetime, *, recollect_s: float, retry_s: float) -> tuple[str, datetime | None]:
    """(final state, next due) of a phase whose job has just been committed."""
    if error_kind is None:
        return "done", now + timedelta(seconds=recollect_s)
    if error_kind in _TERMINAL:
        return "error", None
    return "error", now + timedelta(seconds=retry_s)


def is_due(state: str | None, next_due: datetime | None, now: datetime) -> bool:
    if state is None or state == "new":
        return True
    return state in ("done", "error") and next_due is not None and next_due <= now
