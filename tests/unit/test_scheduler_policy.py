"""Scheduling policy: which phases run, what a finished job leads to, what is due."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.scheduler.policy import after_job, is_due, phases_for
from shared.errors import ErrorKind
from shared.events import subjects

NOW = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
RECOLLECT, RETRY = 86400.0, 3600.0


@pytest.mark.parametrize(
    ("platform", "phases"),
    [
        ("github", (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE)),
        ("gitlab", (subjects.PHASE_FACADE,)),
        ("git", (subjects.PHASE_FACADE,)),
    ],
)
def test_phases_per_platform(platform: str, phases: tuple[str, ...]) -> None:
    assert phases_for(platform) == phases
    assert set(phases) <= set(subjects.JOB_PHASES)


def _after(kind: str | None) -> tuple[str, datetime | None]:
    return after_job(kind, NOW, recollect_s=RECOLLECT, retry_s=RETRY)


def test_success_is_done_and_due_again_after_recollect() -> None:
    assert _after(None) == ("done", NOW + timedelta(seconds=RECOLLECT))


@pytest.mark.parametrize("kind", [ErrorKind.NOT_FOUND, ErrorKind.BLOCKED, ErrorKind.INVALID])
def test_terminal_failures_are_not_rescheduled(kind: ErrorKind) -> None:
    assert _after(kind.value) == ("error", None)


@pytest.mark.parametrize("kind", [ErrorKind.TRANSIENT, ErrorKind.RATE_LIMITED, ErrorKind.AUTH, ErrorKind.FATAL])
def test_other_failures_retry_later(kind: ErrorKind) -> None:
    assert _after(kind.value) == ("error", NOW + timedelta(seconds=RETRY))


def test_unknown_error_kind_retries() -> None:
    assert _after("something-new") == ("error", NOW + timedelta(seconds=RETRY))


def test_intervals_are_honoured() -> None:
    assert after_job(None, NOW, recollect_s=60, retry_s=5) == ("done", NOW + timedelta(minutes=1))
    assert after_job("transient", NOW, recollect_s=60, retry_s=5) == ("error", NOW + timedelta(seconds=5))


SECOND = timedelta(seconds=1)


@pytest.mark.parametrize(
    ("state", "next_due", "due"),
    [
        (None, None, True),
        ("new", None, True),
        ("new", NOW + SECOND, True),
        ("done", NOW - SECOND, True),
        ("done", NOW, True),
        ("done", NOW + SECOND, False),
        ("done", None, False),
        ("error", NOW - SECOND, True),
        ("error", NOW + SECOND, False),
        ("error", None, False),  # terminal failure: never again until asked
        ("queued", NOW - SECOND, False),  # already dispatched
        ("collecting", NOW - SECOND, False),
        ("committed", NOW - SECOND, False),  # awaiting the scheduler's decision
    ],
)
def test_is_due(state: str | None, next_due: datetime | None, due: bool) -> None:
    assert is_due(state, next_due, NOW) is due
