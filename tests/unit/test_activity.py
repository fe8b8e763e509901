"""activity.diff: what turns the stored aggregate rows into the fresh ones."""

from __future__ import annotations

from datetime import date

from services.processor.activity import diff

Y, M, W = ("year", date(2024, 1, 1)), ("month", date(2024, 2, 1)), ("week", date(2024, 2, 5))


def test_nothing_changed_writes_nothing() -> None:
    rows = {Y: (3, 10, 2, 2), M: (1, 1, 0, 1)}
    change = diff(rows, dict(rows))
    assert (change.upserts, change.deletes, change.changed) == ([], [], set())


def test_new_changed_and_emptied_periods() -> None:
    stored = {Y: (3, 10, 2, 2), M: (1, 1, 0, 1)}
    fresh = {Y: (2, 9, 2, 2), W: (1, 5, 5, 1)}  # a commit retracted from M, one added in W
    change = diff(stored, fresh)
    assert change.upserts == [(W, (1, 5, 5, 1)), (Y, (2, 9, 2, 2))]
    assert change.deletes == [M]
    assert change.changed == {Y, M, W}


def test_only_authors_differ() -> None:
    change = diff({W: (2, 4, 4, 1)}, {W: (2, 4, 4, 2)})
    assert change.upserts == [(W, (2, 4, 4, 2))] and change.deletes == []


def test_from_nothing_and_to_nothing() -> None:
    assert diff({}, {Y: (1, 1, 1, 1)}).upserts == [(Y, (1, 1, 1, 1))]
    assert diff({Y: (1, 1, 1, 1)}, {}).deletes == [Y]


def test_span_covers_every_changed_period_whole() -> None:
    from datetime import UTC, datetime

    from services.processor.activity import span

    assert span([W]) == (datetime(2024, 2, 5, tzinfo=UTC), datetime(2024, 2, 12, tzinfo=UTC))
    assert span([M, W]) == (datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert span([("month", date(2023, 12, 1))]) == (datetime(2023, 12, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
    assert span([Y, ("week", date(2024, 12, 30))]) == (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 6, tzinfo=UTC))
