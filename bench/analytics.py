"""Analytics at scale: 8Knot's queries for 100 repositories, and the leaderboards, on a database
holding 1,000 repositories' synthetic history.

    python -m bench.analytics [--repos 1000] [--sample 100] [--runs 5] [--seed 1] [--before]
    python -m bench.analytics --quick          # 20 repositories, 5 sampled: a smoke test

1. PostgreSQL: a scratch database on the server named by ``--database-url`` or
   WATERSHED_BENCH_DATABASE_URL, else an embedded server in a temporary directory. Migrations.
2. ``bench.synthetic``: ``--repos`` repositories' history by COPY (timed), then ``VACUUM (ANALYZE)``.
3. The explorer materialized views refreshed twice, per view: plainly (they are created empty),
   then ``CONCURRENTLY`` as the periodic refresh does.
4. Every 8Knot query (tests/fixtures/8knot, rendered as 8Knot binds it) as 8Knot runs it:
   ``search_path=augur_data``, the read-only role, the text planned on every call (no prepared
   statement reuse, like psycopg2), every row fetched. For ``--sample`` repositories (every
   tenth by size from the biggest down, for 100 of 1,000), once to warm up and then ``--runs``
   times: the median. Baseline, same run: the same query for one repository of the sample (the
   median-sized one), and the ratio.
5. The leaderboard (``shared.leaderboard``, default two-year window) over every repository,
   over the sample, and for the biggest repository.
6. ``--before``: steps 1-4 first run with migrations 0013 and 0014 left pending (the Augur
   layer as 0012 made it), each statement capped at ``--timeout`` seconds; then those two are
   applied and steps 3-5 run again on the same data: the ratio after / before per query.

Target: every 8Knot query for 100 repositories under 1 s on 1,000 repositories. The last line
of output is one JSON object; the exit code is 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial
from math import inf
from pathlib import Path
from typing import Any

import asyncpg

from bench.eightknot import load as load_query
from bench.eightknot import query_names, render
from bench.synthetic import Shape
from bench.synthetic import load as load_synthetic
from shared.db import apply_migrations, scratch_database
from shared.db.augur import EXPLORER_VIEWS
from shared.embedded import EmbeddedPostgres, free_port
from shared.leaderboard import DEFAULT_WINDOW, leaderboard

DATABASE_ENV = "WATERSHED_BENCH_DATABASE_URL"
ANALYTICS_MIGRATIONS = (13, 14)  # indexes, and views rewritten for scale: what --before leaves out
TARGET_S = 1.0


@contextlib.asynccontextmanager
async def database(server_url: str | None) -> AsyncIterator[str]:
    """A scratch database on the given server, or on an embedded one started here."""
    if server_url:
        async with scratch_database(server_url, prefix="watershed_bench") as url:
            yield url
        return
    root = Path(tempfile.mkdtemp(prefix="watershed-bench-"))
    server = EmbeddedPostgres(root / "postgres", free_port())
    try:
        await server.start()
        async with scratch_database(server.dsn, prefix="watershed_bench") as url:
            yield url
    finally:
        await server.stop()
        shutil.rmtree(root, ignore_errors=True)


async def as_reader(conn: asyncpg.Connection) -> None:
    if await conn.fetchval("SELECT count(*) FROM pg_roles WHERE rolname = 'watershed_reader'"):
        await conn.execute("SET ROLE watershed_reader")


async def eightknot_connection(url: str, timeout_s: float) -> asyncpg.Connection:
    """As 8Knot connects (-c search_path=augur_data, read only); no statement cache, so every
    call parses and plans the text again, as psycopg2 does."""
    conn = await asyncpg.connect(url, statement_cache_size=0, server_settings={
        "search_path": "augur_data", "statement_timeout": str(int(timeout_s * 1000))})
    await as_reader(conn)
    return conn


async def timed(call: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float, Any]:
    """(median seconds of ``runs`` calls after a first one, the first call's seconds, last result)."""
    started = time.perf_counter()
    result = await call()
    first = time.perf_counter() - started
    taken = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await call()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken), first, result


async def refresh(conn: asyncpg.Connection, timeout_s: float) -> dict[str, float | None]:
    """Seconds per explorer view (None: over the timeout, or failed; the view keeps its rows)."""
    await conn.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
    taken: dict[str, float | None] = {}
    for view in EXPLORER_VIEWS:
        started = time.perf_counter()
        try:
            await conn.execute("SELECT augur_data.refresh_explorer_view($1)", view)
            taken[view] = round(time.perf_counter() - started, 3)
        except asyncpg.PostgresError as exc:
            print(f"  refresh {view}: {type(exc).__name__} after {time.perf_counter() - started:.0f} s", flush=True)
            taken[view] = None
    await conn.execute("RESET statement_timeout")
    return taken


async def run_queries(url: str, sample: list[int], one: int, runs: int, timeout_s: float) -> dict[str, dict[str, Any]]:
    conn = await eightknot_connection(url, timeout_s)
    found: dict[str, dict[str, Any]] = {}
    try:
        for name in query_names():
            text = load_query(name)
            entry: dict[str, Any] = {}
            for key, repos in (("", sample), ("one_repo_", [one])):
                sql = render(text, repos)
                try:
                    median, first, rows = await timed(partial(conn.fetch, sql), runs)
                    entry.update({f"{key}s": round(median, 4), f"{key}first_s": round(first, 4),
                                  f"{key}rows": len(rows)})
                except asyncpg.PostgresError as exc:
                    entry.update({f"{key}s": None, f"{key}error": f"{type(exc).__name__}: {exc}"[:200]})
            if entry.get("s") is not None and entry.get("one_repo_s"):
                entry["ratio_vs_one_repo"] = round(entry["s"] / entry["one_repo_s"], 2)
            found[name] = entry
            print(f"  {name:32} {fmt(entry.get('s'))} ({entry.get('rows', '-')} rows)  one repository"
                  f" {fmt(entry.get('one_repo_s'))}", flush=True)
    finally:
        await conn.close()
    return found


async def explain(url: str, names: list[str], sample: list[int], timeout_s: float) -> dict[str, str]:
    """EXPLAIN ANALYZE of the named queries for the sample (printed: what to look at next)."""
    conn = await eightknot_connection(url, timeout_s)
    plans = {}
    try:
        for name in names:
            try:
                rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {render(load_query(name), sample)}")
                plans[name] = "\n".join(r[0] for r in rows)
            except asyncpg.PostgresError as exc:
                plans[name] = f"{type(exc).__name__}: {exc}"
            print(f"--- EXPLAIN ANALYZE {name}\n{plans[name]}", flush=True)
    finally:
        await conn.close()
    return plans


async def run_leaderboards(url: str, sample: list[int], biggest: int, runs: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        await as_reader(conn)
        until = datetime.now(UTC)
        since = until - DEFAULT_WINDOW
        found: dict[str, Any] = {}
        for key, repo_ids in (("global", None), ("sample", sample), ("biggest_repo", [biggest])):
            median, first, entries = await timed(
                partial(leaderboard, conn, repo_ids=repo_ids, since=since, until=until), runs)
            found[key] = {"s": round(median, 4), "first_s": round(first, 4), "entries": len(entries)}
            print(f"  leaderboard {key:20} {fmt(median)} ({len(entries)} entries)", flush=True)
        return found
    finally:
        await conn.close()


def fmt(seconds: float | None) -> str:
    if seconds is None:
        return "   timeout"
    return f"{seconds:8.1f} s " if seconds >= 10 else f"{seconds * 1000:8.1f} ms"


async def repo_sizes(conn: asyncpg.Connection) -> dict[int, int]:
    """Commits, issues and pull requests per repository."""
    return {r["repo_id"]: r["n"] for r in await conn.fetch(
        "SELECT r.repo_id, (SELECT count(*) FROM data.commits c WHERE c.repo_id = r.repo_id)"
        " + (SELECT count(*) FROM data.issues i WHERE i.repo_id = r.repo_id)"
        " + (SELECT count(*) FROM data.pull_requests p WHERE p.repo_id = r.repo_id) AS n FROM data.repos r")}


def choose_sample(sizes: dict[int, int], k: int) -> list[int]:
    """Every (n/k)-th repository by size, from the biggest down: the sample spans the skew and
    holds a little more than its share of the rows (a random one mostly misses the big ones)."""
    by_size = sorted(sizes, key=lambda r: (-sizes[r], r))
    return sorted(by_size[i * len(by_size) // k] for i in range(k))


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    started_all = time.perf_counter()
    result: dict[str, Any] = {"bench": "analytics", "date": datetime.now(UTC).date().isoformat(),
                              "repos": args.repos, "sample_size": args.sample, "runs": args.runs, "seed": args.seed}
    async with database(args.database_url) as url:
        await apply_migrations(url, skip=ANALYTICS_MIGRATIONS if args.before else ())
        conn = await asyncpg.connect(url)
        try:
            started = time.perf_counter()
            counts = await load_synthetic(conn, Shape(repos=args.repos, seed=args.seed))
            load_s = time.perf_counter() - started
            # As autovacuum leaves a live database: statistics, and the visibility map that lets
            # index-only scans skip the table.
            started = time.perf_counter()
            await conn.execute("VACUUM (ANALYZE)")
            analyze_s = time.perf_counter() - started
            sizes = await repo_sizes(conn)
            sample = choose_sample(sizes, args.sample)
            in_sample = sorted(sample, key=lambda r: (sizes[r], r))
            one = in_sample[len(in_sample) // 2]  # the baseline: the sample's median-sized repository
            biggest = max(sizes, key=lambda r: (sizes[r], -r))
            facts = {
                "db_size_mb": round(await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20),
                "sample_share": round(sum(sizes[r] for r in sample) / max(1, sum(sizes.values())), 3),
                "one_repo": one, "one_repo_items": sizes[one], "biggest_repo": biggest,
                "biggest_repo_items": sizes[biggest],
            }
            rows = sum(counts.values())
            result["dataset"] = {"rows": rows, "rows_by_table": counts, "load_s": round(load_s, 1),
                                 "load_rows_per_s": round(rows / load_s), "vacuum_analyze_s": round(analyze_s, 1), **facts}
            result["sample"] = sample
            print(f"{args.repos} repositories, {rows:,} rows ({facts['db_size_mb']} MB) loaded in {load_s:.1f} s,"
                  f" VACUUM (ANALYZE) {analyze_s:.1f} s; sample of {args.sample} holds {facts['sample_share']:.1%} of the"
                  f" commits, issues and pull requests", flush=True)

            if args.before:
                print("before (migrations 0013 and 0014 pending):", flush=True)
                result["before"] = await phase(url, conn, args, sample, one, biggest, leaderboards=False)
                await conn.close()
                await apply_migrations(url)
                conn = await asyncpg.connect(url)
                await conn.execute("VACUUM (ANALYZE)")  # the statistics of the new expression indexes
                print("after:", flush=True)
            result.update(await phase(url, conn, args, sample, one, biggest, leaderboards=True))
            result["postgres"] = await conn.fetchval("SHOW server_version")
            result["work_mem"] = await conn.fetchval("SHOW work_mem")
            result["shared_buffers"] = await conn.fetchval("SHOW shared_buffers")
        finally:
            await conn.close()

    queries = result["queries"]
    timed_s = [q["s"] for q in queries.values()]
    name = slowest({n: q["s"] for n, q in queries.items()})
    result["slowest_query"], result["slowest_s"] = name, queries[name]["s"]
    result["targets_met"] = all(s is not None and s < TARGET_S for s in timed_s)
    if "before" in result:
        for name, entry in queries.items():
            was = result["before"]["queries"][name].get("s")
            entry["before_s"] = was
            entry["ratio_vs_before"] = round(entry["s"] / was, 4) if was and entry["s"] is not None else None
    result.update({"cpus": os.cpu_count(), "python": platform.python_version(), "asyncpg": asyncpg.__version__,
                   "seconds": round(time.perf_counter() - started_all, 1)})
    return result


async def phase(url: str, conn: asyncpg.Connection, args: argparse.Namespace, sample: list[int], one: int,
                biggest: int, *, leaderboards: bool) -> dict[str, Any]:
    """Refresh the explorer views twice, then time every query (and the leaderboards)."""
    found: dict[str, Any] = {}
    first = await refresh(conn, args.timeout)
    again = await refresh(conn, args.timeout)
    found["refresh_s"], found["refresh_concurrently_s"] = first, again
    found["refresh_total_s"] = sum_or_none(first.values())
    found["refresh_concurrently_total_s"] = sum_or_none(again.values())
    view = slowest(first)
    print(f"  explorer views refreshed in {fmt(found['refresh_total_s'])} (slowest {view} {fmt(first[view])}),"
          f" concurrently {fmt(found['refresh_concurrently_total_s'])}", flush=True)
    found["queries"] = await run_queries(url, sample, one, args.runs, args.timeout)
    if args.explain:
        slow = [n for n, q in found["queries"].items() if q.get("s") is None or q["s"] >= args.explain]
        found["plans"] = await explain(url, slow, sample, args.timeout)
    if leaderboards:
        found["leaderboard"] = await run_leaderboards(url, sample, biggest, args.runs)
    return found


def slowest(seconds: dict[str, float | None]) -> str:
    """The name that took longest; one that timed out (None) counts as the slowest."""
    return max(seconds, key=lambda name: inf if (taken := seconds[name]) is None else taken)


def sum_or_none(values: Any) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else round(sum(values), 3)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__.split("\n")[0])
    parser.add_argument("--repos", type=int, default=1000, help="repositories generated (default 1000)")
    parser.add_argument("--sample", type=int, default=100, help="repositories each query asks for (default 100)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query after a warm-up (default 5)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20 repositories, 5 sampled, 2 runs: a smoke test")
    parser.add_argument("--before", action="store_true",
                        help="first measure with migrations 0013 and 0014 pending, then apply them")
    parser.add_argument("--timeout", type=float, default=600.0, help="statement timeout in seconds (default 600)")
    parser.add_argument("--explain", type=float, default=0.0, metavar="SECONDS",
                        help="print EXPLAIN ANALYZE of the queries taking at least this long")
    parser.add_argument("--database-url", default=os.environ.get(DATABASE_ENV),
                        help=f"a PostgreSQL server to make a scratch database on (default: ${DATABASE_ENV},"
                             " else an embedded server)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repos, args.sample, args.runs = 20, 5, 2
    if not 0 < args.sample <= args.repos:
        parser.error("--sample must be between 1 and --repos")
    return args


async def amain(argv: list[str] | None = None) -> int:
    result = await bench(parse_args(argv))
    board = result["leaderboard"]
    print(f"slowest 8Knot query: {result['slowest_query']} {fmt(result['slowest_s'])} (target {TARGET_S} s);"
          f" leaderboard global {fmt(board['global']['s'])}, sample {fmt(board['sample']['s'])},"
          f" biggest repository {fmt(board['biggest_repo']['s'])}; target met: {result['targets_met']}")
    print(json.dumps(result, sort_keys=True, default=str))
    return 0 if result["targets_met"] else 1


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(amain(argv))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
