"""Activity aggregates computed the plain way, to check the processor's SQL against."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class CommitFact:
    author_date: datetime
    added: int
    removed: int
    author_email: str | None
    merge: bool = False


def expected_activity(facts: Iterable[CommitFact]) -> dict[tuple[str, date], tuple[int, int, int, int]]:
    """(period, first day) -> (commits, lines added, lines removed, distinct lower-cased authors)."""
    totals: dict[tuple[str, date], list[int]] = {}
    authors: dict[tuple[str, date], set[str]] = {}
    for fact in facts:
        day = fact.author_date.astimezone(UTC).date()
        for key in (("year", day.replace(month=1, day=1)), ("month", day.replace(day=1)),
                    ("week", day - timedelta(days=day.weekday()))):
            row = totals.setdefault(key, [0, 0, 0])
            row[0] += 1
            if not fact.merge:
                row[1] += fact.added
                row[2] += fact.removed
            people = authors.setdefault(key, set())
            if fact.author_email:
                people.add(fact.author_email.lower())
    return {key: (c, a, r, len(authors[key])) for key, (c, a, r) in totals.items()}
