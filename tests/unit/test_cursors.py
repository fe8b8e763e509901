"""Cursor arithmetic of the collector: where each kind of stream starts and what it stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.collector.cursors import OVERLAP, Cursor, advanced, cutoff, further, resumed, since

T = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_newest_first_cursor_reads_back_an_overlap_and_never_moves_backwards() -> None:
    cursor = Cursor(T.isoformat(), '"e"')
    assert cutoff(cursor) == T - OVERLAP and cutoff(None) is None
    assert advanced(cursor, T - timedelta(days=1)) == T.isoformat()
    assert advanced(cursor, T + timedelta(hours=1)) == (T + timedelta(hours=1)).isoformat()
    assert cutoff(Cursor("not a time")) is None  # unreadable: read whole, never skip


def test_oldest_first_cursor_is_the_exact_since_of_the_next_first_request() -> None:
    assert since(Cursor(T.isoformat())) == T and since(None) is None
    # The last request started well before the newest item: repeat it, with its ETag.
    assert resumed(T, '"tail"', T + timedelta(hours=2)) == Cursor(T.isoformat(), '"tail"')
    # It started within the overlap of the newest item: step back, and no ETag can match.
    assert resumed(T, '"tail"', T + timedelta(seconds=10)) == Cursor((T + timedelta(seconds=10) - OVERLAP).isoformat(), None)
    # The whole stream fit in one page from its beginning: ask that page again.
    assert resumed(None, '"all"', T) == Cursor(None, '"all"')
    assert resumed(T, None, None) == Cursor(T.isoformat(), None)


def test_a_checkpoint_wins_only_when_it_is_further_and_drops_the_etag() -> None:
    stored = Cursor(T.isoformat(), '"e"')
    assert further(stored, T - timedelta(hours=1)) is stored
    assert further(stored, T + timedelta(hours=1)) == Cursor((T + timedelta(hours=1)).isoformat(), None)
    assert further(None, T) == Cursor(T.isoformat(), None)
