"""Stream cursors: where the last committed pass of a repository stopped, per stream.

The processor owns ``ops.cursors`` (it promotes a job's ``CursorObserved`` only when the
whole job is committed); the collector only reads it, at job start, through a reader pool.

A stream the forge refuses to our token (clone traffic without push access) has a cursor too:
its value says when it was refused, so later passes skip the request (a refusal costs quota
every time) until ``RETRY_REFUSED`` has passed. The time is in the value, not taken from the
row, so a database rebuilt by replaying the streams remembers the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

# Re-read this much before the cursor: items updated in the same second as the newest one
# seen, and clocks that disagree a little, are read again rather than lost.
OVERLAP = timedelta(minutes=1)
# Ask a refused stream again after this long: a token that gains push access is noticed.
RETRY_REFUSED = timedelta(days=7)
_REFUSED = "refused:"


@dataclass(frozen=True)
class Cursor:
    value: str | None = None  # the newest time seen, ISO 8601
    etag: str | None = None  # of the stream's first page (or of the single object)


async def read_cursors(pool: asyncpg.Pool | None, repo_id: int) -> dict[str, Cursor]:
    if pool is None:
        return {}
    rows = await pool.fetch("SELECT stream, value, etag FROM ops.cursors WHERE repo_id = $1", repo_id)
    return {row["stream"]: Cursor(row["value"], row["etag"]) for row in rows}


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None  # an unreadable cursor means reading the stream whole, never skipping
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cutoff(cursor: Cursor | None, overlap: timedelta = OVERLAP) -> datetime | None:
    """Items older than this were committed by an earlier pass."""
    moment = parse_time(cursor.value) if cursor else None
    return moment - overlap if moment is not None else None


def advanced(cursor: Cursor | None, newest: datetime | None) -> str | None:
    """The cursor value after a pass that saw ``newest``: it never moves backwards."""
    before = parse_time(cursor.value) if cursor else None
    candidates = [m for m in (before, newest) if m is not None]
    return max(candidates).astimezone(UTC).isoformat() if candidates else None


def refused_value(at: datetime) -> str:
    """The cursor value of a stream refused at ``at``."""
    return _REFUSED + at.astimezone(UTC).isoformat()


def refused_at(cursor: Cursor | None) -> datetime | None:
    """When the stream was last refused, if its cursor says it was."""
    if cursor is None or not cursor.value or not cursor.value.startswith(_REFUSED):
        return None
    # An unreadable time counts as long ago: asking once too often beats never asking again.
    return parse_time(cursor.value[len(_REFUSED):]) or datetime.min.replace(tzinfo=UTC)


def worth_asking(cursor: Cursor | None, now: datetime, retry_after: timedelta = RETRY_REFUSED) -> bool:
    """Whether to request a refusable stream this pass: unless it was refused within ``retry_after``."""
    refused = refused_at(cursor)
    return refused is None or now - refused >= retry_after
