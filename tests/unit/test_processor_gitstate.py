"""Retractions cut a processor batch so that rows land in stream order (pure part)."""

from __future__ import annotations

from services.processor.gitstate import in_order
from shared.events import v1

IDS = {"repo_id": 1, "job_id": "j", "attempt": 1}


def test_a_batch_is_cut_at_every_retraction_order_kept() -> None:
    seen = v1.CommitsObserved(**IDS, seq=0, items=[v1.Commit(sha="a" * 40)])
    gone = v1.CommitsRetracted(**IDS, seq=1, shas=["a" * 40])
    again = v1.CommitsObserved(**IDS, seq=2, items=[v1.Commit(sha="a" * 40)])
    cursor = v1.CursorObserved(**IDS, seq=3, stream="git:refs/heads/main", value="a" * 40)
    assert in_order([seen, gone, gone, again, cursor]) == [[seen], gone, gone, [again, cursor]]


def test_a_batch_without_retractions_is_one_part() -> None:
    events = [v1.CommitsObserved(**IDS, seq=n, items=[]) for n in range(3)]
    assert in_order(events) == [events]
    assert in_order([]) == []
