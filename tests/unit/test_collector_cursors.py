"""The collector's cursor arithmetic: overlap, advancing, and remembering a refused stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.collector.cursors import (
    RETRY_REFUSED,
    Cursor,
    advanced,
    cutoff,
    refused_at,
    refused_value,
    worth_asking,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_a_refusal_round_trips_through_the_cursor_value() -> None:
    value = refused_value(NOW.astimezone(timezone(timedelta(hours=2))))
    assert value == "refused:2026-12-01T12:00:00+00:00"
    assert refused_at(Cursor(value)) == NOW


@pytest.mark.parametrize(("cursor", "ask"), [
    (None, True),  # never read (or a full pass, which ignores cursors)
    (Cursor(None, '"etag"'), True),  # read before: a conditional request, free when unchanged
    (Cursor(refused_value(NOW - timedelta(minutes=5))), False),
    (Cursor(refused_value(NOW - RETRY_REFUSED + timedelta(seconds=1))), False),
    (Cursor(refused_value(NOW - RETRY_REFUSED)), True),  # a week on: the token may push by now
    (Cursor(refused_value(NOW - timedelta(days=30))), True),
    (Cursor("refused:not a time"), True),  # unreadable: ask rather than never again
], ids=["no-cursor", "etag", "refused-just-now", "refused-almost-a-week-ago", "refused-a-week-ago",
        "refused-long-ago", "refused-unreadable"])
def test_a_refused_stream_is_asked_again_only_after_a_week(cursor: Cursor | None, ask: bool) -> None:
    assert worth_asking(cursor, NOW) is ask


def test_a_refused_cursor_is_never_read_as_a_time() -> None:
    refused = Cursor(refused_value(NOW))
    assert cutoff(refused) is None
    assert advanced(refused, None) is None
    assert refused_at(Cursor("2026-11-30T00:00:00+00:00")) is None
