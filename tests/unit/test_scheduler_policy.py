"""Scheduling policy: which phases run, what a finished job leads to, what is due, in which order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.scheduler.policy import (
    QUEUED_PHASES,
    Entry,
    after_job,
    is_due,
    is_stuck,
    phases_for,
    plan_dispatch,
    retry_delay,
)
from shared.errors import ErrorKind
from shared.events import subjects

NOW = datetime(2024, 6, 1, 12, tzinfo=timezone.utc)
RECOLLECT, RETRY = 86400.0, 3600.0


@pytest.mark.parametrize(
    ("platform", "phases"),
    [
        ("github", (subjects.PHASE_COLLECTOR, subjects.PHASE_FACADE, subjects.PHASE_RESOLVER)),
        ("gitlab", (subjects.PHASE_FACADE,)),
        ("git", (subjects.PHASE_FACADE, subjects.PHASE_RESOLVER)),
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


# ------------------------------------------------------------------ backoff, stuck, queue order

@pytest.mark.parametrize(("failures", "delay"), [(1, 3600), (2, 7200), (3, 14400), (4, 28800), (5, 57600),
                                                 (6, 86400), (20, 86400)])
def test_retries_back_off_up_to_the_recollect_interval(failures: int, delay: float) -> None:
    assert retry_delay(failures, retry_s=RETRY, recollect_s=RECOLLECT) == delay
    # after_job counts the failure it reports: the third failure in a row waits 4 × the retry.
    if failures > 1:
        assert after_job("transient", NOW, recollect_s=RECOLLECT, retry_s=RETRY, failures=failures - 1) == (
            "error", NOW + timedelta(seconds=delay))


def test_a_retry_is_never_later_than_a_short_recollect_interval_allows_a_long_retry() -> None:
    assert retry_delay(9, retry_s=60, recollect_s=600) == 600
    assert retry_delay(1, retry_s=7200, recollect_s=600) == 7200  # a retry longer than recollect stays as set


@pytest.mark.parametrize(("state", "age", "stuck"), [
    ("queued", 7201, True), ("collecting", 7201, True), ("retrying", 7201, True), ("collecting", 7199, False),
    ("done", 10**6, False), ("error", 10**6, False), ("committed", 10**6, False), (None, 10**6, False)])
def test_stuck_is_in_flight_without_a_move_for_the_timeout(state: str | None, age: int, stuck: bool) -> None:
    assert is_stuck(state, NOW - timedelta(seconds=age), NOW, 7200) is stuck


def entry(repo: int, phase: str = "facade", *, due: int = 0, priority: int = 0, urgent: bool = False) -> Entry:
    return Entry(repo_id=repo, phase=phase, due=NOW + timedelta(seconds=due), priority=priority, urgent=urgent)


def test_queue_order_is_urgent_then_priority_then_due_time() -> None:
    entries = [entry(1, due=-10), entry(2, due=-50), entry(3, priority=5), entry(4, urgent=True, due=100),
               entry(5, priority=5, due=-1), entry(6, priority=-1, due=-1000)]
    chosen = plan_dispatch(entries, {}, batch=10, max_in_flight=100)
    assert [e.repo_id for e in chosen] == [4, 5, 3, 2, 1, 6]


def test_each_phase_gets_at_most_its_batch_and_stays_within_in_flight() -> None:
    entries = [entry(i, "facade", due=i) for i in range(50)] + [entry(i, "collector", due=i) for i in range(50)]
    chosen = plan_dispatch(entries, {"collector": 95}, batch=10, max_in_flight=100)
    assert [e.repo_id for e in chosen if e.phase == "facade"] == list(range(10))
    assert [e.repo_id for e in chosen if e.phase == "collector"] == list(range(5))  # 95 in flight of 100
    assert plan_dispatch(entries, {"collector": 120, "facade": 100}, batch=10, max_in_flight=100) == []


def test_one_phase_of_a_repository_is_dispatched_once_per_tick() -> None:
    due = entry(7, due=-5)
    stuck = Entry(repo_id=7, phase="facade", due=NOW - timedelta(hours=9), stuck=True)
    chosen = plan_dispatch([due, stuck, entry(7, "collector")], {}, batch=10, max_in_flight=100)
    assert sorted((e.repo_id, e.phase) for e in chosen) == [(7, "collector"), (7, "facade")]


def test_queued_phases_cover_every_platform() -> None:
    assert set(QUEUED_PHASES) == {p for platform in ("github", "gitlab", "git") for p in phases_for(platform)}


def test_a_stuck_entry_takes_from_the_batch_but_not_from_the_in_flight_limit() -> None:
    stuck = Entry(repo_id=1, phase="facade", due=NOW - timedelta(hours=9), stuck=True)
    chosen = plan_dispatch([stuck, entry(2), entry(3)], {"facade": 100}, batch=2, max_in_flight=100)
    assert [e.repo_id for e in chosen] == [1]  # it replaces a job in flight; the others must wait
    chosen = plan_dispatch([stuck, entry(2), entry(3)], {"facade": 0}, batch=2, max_in_flight=100)
    assert len(chosen) == 2
