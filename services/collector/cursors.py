"""Stream cursors: where the last committed pass of a repository stopped, per stream.

The processor owns ``ops.cursors`` (it promotes a job's ``CursorObserved`` only when the
whole job is committed) and ``ops.checkpoints`` (positions inside a pass, kept as soon as
everything before them is committed, so a pass cut short resumes there); the collector only
reads them, at job start, through a reader pool.

A cursor's value means one of two things, by the stream's order:

- oldest-first streams: the ``since`` of the next pass's first request, exactly. It lies at
  least :data:`OVERLAP` before the newest item seen, and it is the ``since`` of the previous
  pass's last request whenever that allows, so the stored ETag matches and an unchanged stream
  is a free 304;
- newest-first streams: the newest time seen; reading stops :data:`OVERLAP` before it.

A stream the forge refuses to our token (clone traffic without push access) has a cursor too:
its value says when it was refused, so later passes skip the request (a refusal costs quota
every time) until ``RETRY_REFUSED`` has passed. The time is in the value, not taken from the
row, so a database rebuilt by replaying the streams remembers the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

# Re-read this much before the newest item seen: items updated in the same second as the
# newest one, and clocks that disagree a little, are read again rather than lost.
OVERLAP = timedelta(minutes=1)
# Ask a refused stream again after this long: a token that gains push access is noticed.
RETRY_REFUSED = timedelta(days=7)
_REFUSED = "refused:"


@dataclass(frozen=True)
class Cursor:
    value: str | None = None  # ISO 8601; see the module docstring
    etag: str | None = None  # of the stream's first request (or of the single object)


async def read_cursors(pool: asyncpg.Pool | None, repo_id: int, full_job: str | None = None) -> dict[str, Cursor]:
    """The cursors a pass of ``repo_id`` starts from. A full pass (``full_job``: its job id)
    ignores the stored cursors but resumes from its own checkpoints, if an earlier attempt left any."""
    if pool is None:
        return {}
    cursors: dict[str, Cursor] = {}
    if full_job is None:
        rows = await pool.fetch("SELECT stream, value, etag FROM ops.cursors WHERE repo_id = $1", repo_id)
        cursors = {row["stream"]: Cursor(row["value"], row["etag"]) for row in rows}
    checkpoints = await pool.fetch(
        "SELECT stream, value FROM ops.checkpoints WHERE repo_id = $1 AND ($2::text IS NULL OR job_id = $2)",
        repo_id, full_job)
    for row in checkpoints:
        cursors[row["stream"]] = further(cursors.get(row["stream"]), row["value"])
    return cursors


def further(cursor: Cursor | None, checkpoint: datetime) -> Cursor:
    """The later of a stored cursor and a checkpoint of an oldest-first stream."""
    stored = parse_time(cursor.value) if cursor else None
    if cursor is not None and stored is not None and stored >= checkpoint:
        return cursor
    return Cursor(iso(checkpoint), None)  # the ETag belonged to another request


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None  # an unreadable cursor means reading the stream whole, never skipping
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cutoff(cursor: Cursor | None, overlap: timedelta = OVERLAP) -> datetime | None:
    """Newest-first streams: items older than this were committed by an earlier pass."""
    moment = parse_time(cursor.value) if cursor else None
    return moment - overlap if moment is not None else None


def since(cursor: Cursor | None) -> datetime | None:
    """Oldest-first streams: the ``since`` of the first request."""
    return parse_time(cursor.value) if cursor else None


def advanced(cursor: Cursor | None, newest: datetime | None) -> str | None:
    """A newest-first stream's cursor after a pass that saw ``newest``: it never moves backwards."""
    before = parse_time(cursor.value) if cursor else None
    candidates = [m for m in (before, newest) if m is not None]
    return iso(max(candidates)) if candidates else None


def resumed(resume: datetime | None, etag: str | None, newest: datetime | None,
            overlap: timedelta = OVERLAP) -> Cursor:
    """An oldest-first stream's cursor after a whole pass whose last request asked ``since =
    resume`` (with ``etag`` when it asked the first page) and saw items up to ``newest``."""
    if resume is None:
        return Cursor(None, etag)  # the whole stream fit in one page read from its beginning
    if newest is not None and newest - overlap < resume:
        # The last request started too close to the newest item: keep the overlap, at the price
        # of a first request next time that cannot be a 304.
        return Cursor(iso(newest - overlap), None)
    return Cursor(iso(resume), etag)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def refused_value(at: datetime) -> str:
    """The cursor value of a stream refused at ``at``."""
    return _REFUSED + iso(at)


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
