"""8Knot's SQL as 8Knot sends it: the query texts kept verbatim in tests/fixtures/8knot/, and
the rendering of their placeholders for a list of repository ids.

Used by the acceptance test (tests/integration/test_8knot_queries.py) and the analytics bench
(bench/analytics.py), so both run exactly the same text."""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "8knot"
# Not a query: 8Knot's cache tables, which the test copies query rows into.
CACHE_TABLES = "cache_tables"


def query_names() -> list[str]:
    """Every 8Knot query kept as a fixture, by name, sorted."""
    return sorted(p.stem for p in FIXTURES.glob("*.sql") if p.stem != CACHE_TABLES)


def load(name: str) -> str:
    """The query text, without our two header lines."""
    return "".join(line for line in (FIXTURES / f"{name}.sql").read_text().splitlines(keepends=True)
                   if not line.startswith("-- 8Knot query") and not line.startswith("-- ("))


def render(sql: str, repos: list[int]) -> str:
    """What reaches PostgreSQL: 8Knot's f-string modules interpolate str(repos)[1:-1]; the
    others pass (tuple(repos),) per %s to psycopg2, which sends a tuple of ints as (1, 2) and
    a doubled %% as %."""
    sql = sql.replace("{str(repos)[1:-1]}", str(repos)[1:-1])
    if "%s" not in sql:
        return sql
    bound = "(" + ", ".join(str(int(r)) for r in repos) + ")"
    return re.sub(r"%([s%])", lambda m: bound if m.group(1) == "s" else "%", sql)
