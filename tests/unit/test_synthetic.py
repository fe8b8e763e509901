"""The analytics bench's synthetic history: deterministic, shaped as the data tables want."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from bench.analytics import choose_sample
from bench.synthetic import COLUMNS, ORDER, Shape, generate

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def rows(shape: Shape) -> list[tuple[str, list[tuple[object, ...]]]]:
    return [(table, chunk) for table, _, chunk in generate(shape, [1, 2])]


def test_the_same_shape_gives_the_same_rows_and_another_seed_others() -> None:
    shape = Shape(repos=6, seed=3, now=NOW)
    assert rows(shape) == rows(shape)
    assert rows(shape) != rows(Shape(repos=6, seed=4, now=NOW))


def test_rows_fit_their_columns_arrive_in_foreign_key_order_and_stay_in_the_past() -> None:
    seen: Counter[str] = Counter()
    first: dict[str, int] = {}
    for position, (table, chunk) in enumerate(rows(Shape(repos=8, seed=1, now=NOW))):
        first.setdefault(table, position)
        seen[table] += len(chunk)
        assert all(len(row) == len(COLUMNS[table]) for row in chunk), table
        assert all(v <= NOW for row in chunk for v in row if isinstance(v, datetime)), table
    assert first["contributors"] < first["repos"] < first["commits"] < first["commit_parents"]
    assert [t for t in ORDER if seen[t]] == [t for t in ORDER if t in seen]
    assert seen["repos"] == 8 and seen["commits"] >= 8 and seen["contributors"] > 0


def test_the_sample_spans_the_sizes_from_the_biggest_down() -> None:
    sizes = {repo: 1000 // repo for repo in range(1, 11)}  # repository 1 is the biggest
    assert choose_sample(sizes, 5) == [1, 3, 5, 7, 9]
    assert choose_sample(sizes, 10) == list(range(1, 11))
