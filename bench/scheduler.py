"""Scheduler: the dispatch decisions of one tick over 100,000 registered repositories, against
the full scan the scheduler did before the queue (same data, same run).

    python -m bench.scheduler [--repos 100000] [--ticks 5] [--seed 1]

1. Starts an embedded NATS + PostgreSQL (temporary data dir) and applies the migrations.
2. Fills PostgreSQL with synthetic rows, in SQL (``generate_series``): ``--repos`` repositories
   (70 % GitHub: two phases; 30 % git: one), 20 groups of which 5 have a priority, 1 % of the
   repositories a priority of their own; per phase a queue entry: most collected and due later,
   5 % due now, 2 % queued or running, 0.3 % stuck, 0.1 % committed (awaiting their decision),
   0.5 % failed for good; plus 1 % registered just now without any entry. ``ANALYZE``.
3. Timed: ``Scheduler.run_pass`` (decisions for the committed, in-flight counts, new
   repositories, due and stuck entries per phase in queue order, the plan, the publishes to
   JetStream) ``--ticks`` times; no processor runs, so every tick finds the same backlog (its
   jobs are duplicates after the first). The sweep over every repository (which runs beside
   the ticks every few minutes) is timed on its own.
4. Baseline, same run, same data: the scan of every repository with its entries and the due
   check in Python that each tick did before the queue (``git show d051d3e:services/scheduler/app.py``),
   without its publishes. And the tick with nothing due.
5. Peak memory: the process's peak RSS (``VmHWM``) after the ticks (before the baseline runs),
   and the Python allocations of one tick and of one baseline scan (``tracemalloc``).
6. ``EXPLAIN`` of each query of a tick: a sequential scan of ``data.repos`` or
   ``ops.collection_status`` there would grow the tick with the number of repositories.

The last line of output is one JSON object.
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
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from services.scheduler import queue as q
from services.scheduler.app import create_app
from services.scheduler.policy import QUEUED_PHASES, is_due, phases_for
from shared.db import Role, apply_migrations, connect_pool
from shared.embedded import EmbeddedStack
from shared.events.jetstream import ensure_streams
from shared.logging import configure_logging
from shared.metrics import Metrics
from shared.settings import load_settings

# What every tick did before the queue (d051d3e): every repository with every entry, due checked in Python.
NAIVE_SQL = """
SELECT r.repo_id, r.url, r.platform, r.host, r.owner, r.name, r.registered_at,
       s.phase, s.state, s.next_due
FROM data.repos r
LEFT JOIN ops.collection_status s ON s.repo_id = r.repo_id
WHERE r.state = 'active'
"""

FILL = """
INSERT INTO data.repo_groups (name) SELECT 'group-' || g FROM generate_series(1, 20) g;
INSERT INTO ops.group_settings (repo_group_id, priority, changed_at)
    SELECT repo_group_id, 10 + repo_group_id % 5, now() FROM data.repo_groups WHERE name LIKE 'group-%' LIMIT 5;
INSERT INTO data.repos (url, platform, host, owner, name, repo_group_id, registered_at, platform_repo_id)
    SELECT CASE WHEN i % 10 < 7 THEN 'https://github.com/bench-' || (i % 500) || '/repo-' || i
                ELSE 'https://git.example.org/bench/repo-' || i END,
           CASE WHEN i % 10 < 7 THEN 'github' ELSE 'git' END,
           CASE WHEN i % 10 < 7 THEN 'github.com' ELSE 'git.example.org' END,
           'bench-' || (i % 500), 'repo-' || i,
           (SELECT repo_group_id FROM data.repo_groups WHERE name = 'group-' || (1 + i % 20)),
           CASE WHEN i <= $1 * 0.99 THEN now() - interval '30 days' ELSE now() END, i
    FROM generate_series(1, $1) i;
INSERT INTO ops.repo_settings (repo_id, priority, changed_at)
    SELECT repo_id, 1 + repo_id % 10, now() FROM data.repos WHERE repo_id % 100 = 0;
INSERT INTO ops.collection_status (repo_id, phase, state, job_id, next_due, updated_at, last_success_at,
                                   error_kind, priority, dispatched_at)
    SELECT r.repo_id, p.phase, x.state, p.phase || '-' || r.repo_id || '-1',
           CASE x.state WHEN 'done' THEN CASE WHEN x.u < 0.05 / 0.971 THEN now() - x.u * interval '20 days'
                                              ELSE now() + x.u * interval '1 day' END
                        WHEN 'error' THEN NULL ELSE now() - interval '1 day' END,
           CASE WHEN x.stuck THEN now() - interval '10 hours' ELSE now() - interval '1 minute' END,
           now() - interval '1 day', CASE WHEN x.state = 'error' THEN 'not_found' END,
           coalesce(ops.effective_priority(r.repo_id), 0), now() - interval '1 hour'
    FROM data.repos r
    CROSS JOIN LATERAL unnest(CASE WHEN r.platform = 'github' THEN ARRAY['collector', 'facade']
                                   ELSE ARRAY['facade'] END) AS p(phase)
    -- Two uniform draws per entry from a hash of (seed, repository, phase): deterministic per seed.
    CROSS JOIN LATERAL (SELECT (abs(hashtext($2 || ':' || r.repo_id || p.phase)) % 1000003) / 1000003.0 AS v,
                               (abs(hashtext($2 || '/' || r.repo_id || p.phase)) % 1000003) / 1000003.0 AS u) AS rnd
    CROSS JOIN LATERAL (SELECT CASE WHEN rnd.v < 0.017 THEN 'queued' WHEN rnd.v < 0.023 THEN 'collecting'
                                    WHEN rnd.v < 0.024 THEN 'committed' WHEN rnd.v < 0.029 THEN 'error'
                                    ELSE 'done' END AS state,
                               rnd.v >= 0.020 AND rnd.v < 0.023 AS stuck, rnd.u AS u) AS x
    WHERE r.registered_at < now() - interval '1 day';
"""


def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def naive_tick(pool: asyncpg.Pool) -> int:
    """The old tick's reading and deciding (its dispatches left out): returns the due count."""
    now = datetime.now(UTC)
    seen: dict[int, set[str]] = {}
    due = 0
    repos: dict[int, asyncpg.Record] = {}
    for row in await pool.fetch(NAIVE_SQL):
        repos[row["repo_id"]] = row
        if row["phase"] is None:
            continue
        seen.setdefault(row["repo_id"], set()).add(row["phase"])
        if row["phase"] in phases_for(row["platform"]) and is_due(row["state"], row["next_due"], now):
            due += 1
    for repo_id, repo in repos.items():
        due += sum(1 for phase in phases_for(repo["platform"]) if phase not in seen.get(repo_id, set()))
    return due


async def plans(pool: asyncpg.Pool) -> dict[str, str]:
    """The top plan nodes of each query of a tick, and whether any scans a big table sequentially."""
    now = datetime.now(UTC)
    queries = {
        **{f"due {p}": (q._DUE, (p, now, 200)) for p in QUEUED_PHASES},
        **{f"stuck {p}": (q._STUCK, (p, now, 200)) for p in QUEUED_PHASES},
        "committed": (q._COMMITTED, (5000,)), "in_flight": (q._IN_FLIGHT, ()), "new": (q._NEW, (now, 400)),
    }
    found = {}
    async with pool.acquire() as conn:
        for name, (sql, args) in queries.items():
            plan = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args)
            found[name] = "; ".join(plan_nodes(json.loads(plan)[0]["Plan"]))
    return found


def plan_nodes(node: dict[str, Any]) -> list[str]:
    """Every node of a plan, depth first: its type, relation and index."""
    here = f"{node['Node Type']} {node.get('Relation Name', '')} {node.get('Index Name', '')}".strip()
    return [here] + [n for child in node.get("Plans", []) for n in plan_nodes(child)]


def seq_scans(found: dict[str, str]) -> list[str]:
    return [f"{name}: {plan}" for name, plan in found.items()
            if "Seq Scan repos" in plan or "Seq Scan collection_status" in plan]


async def bench(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="watershed-bench-"))
    stack = EmbeddedStack(tmp)
    try:
        info = await stack.start()
        await apply_migrations(info.database_url)
        db = await asyncpg.connect(info.database_url)
        filled = time.perf_counter()
        await db.execute(FILL.replace("$1", str(args.repos)).replace("$2", f"'{args.seed}'"))
        await db.execute("ANALYZE")
        filled = time.perf_counter() - filled
        entries = await db.fetchval("SELECT count(*) FROM ops.collection_status")
        due = await db.fetchval("SELECT count(*) FROM ops.collection_status WHERE state IN ('new', 'done', 'error')"
                                " AND next_due <= now()")
        print(f"{args.repos} repositories, {entries} queue entries ({due} due) in {filled:.1f} s")

        settings = load_settings({}, data_dir=tmp, nats_url=info.nats_url, database_url=info.database_url,
                                 org_refresh_interval_s=0, breadth_interval_s=0, views_refresh_interval_s=0)
        scheduler = create_app(settings, Metrics())
        # The loop is not started: each tick is called and timed here.
        await scheduler.broker.connect()
        await ensure_streams(scheduler.js)
        scheduler.pool = await connect_pool(info.database_url, role=Role.READER, min_size=1, max_size=4)
        scheduler.queue = q.QueueReader(scheduler.pool)
        try:
            started = time.perf_counter()
            missing = await scheduler.queue.sweep()
            sweep_s = time.perf_counter() - started
            ticks, dispatched = [], []
            for _ in range(args.ticks + 1):
                started = time.perf_counter()
                dispatched.append(await scheduler.run_pass())
                ticks.append(time.perf_counter() - started)
            peak_rss = vm_hwm_mb()
            tracemalloc.start()
            await scheduler.run_pass()
            tick_alloc = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()

            naive = []
            for _ in range(args.ticks):
                started = time.perf_counter()
                naive_due = await naive_tick(scheduler.pool)
                naive.append(time.perf_counter() - started)
            tracemalloc.start()
            await naive_tick(scheduler.pool)
            naive_alloc = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()

            found = await plans(scheduler.pool)
            # Nothing due: every waiting entry is due tomorrow, nothing new, nothing stuck or committed.
            await db.execute("UPDATE ops.collection_status SET state = 'done', updated_at = now(),"
                             " next_due = now() + interval '1 day';"
                             " UPDATE data.repos SET registered_at = now() - interval '30 days'; ANALYZE")
            scheduler.queue = q.QueueReader(scheduler.pool)
            idle = []
            for _ in range(args.ticks):
                started = time.perf_counter()
                await scheduler.run_pass()
                idle.append(time.perf_counter() - started)
            pg_version = await db.fetchval("SHOW server_version")
            v = scheduler.broker.connection.connected_server_version
        finally:
            await scheduler.pool.close()
            await scheduler.broker.stop()
            await db.close()
    finally:
        await stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    tick = statistics.median(ticks[1:])
    baseline = statistics.median(naive)
    scans = seq_scans(found)
    return {
        "bench": "scheduler", "date": datetime.now(UTC).date().isoformat(), "repos": args.repos,
        "entries": entries, "due": due, "missing_found_by_sweep": missing,
        "tick_s": round(tick, 4), "first_tick_s": round(ticks[0], 4), "ticks_s": [round(t, 4) for t in ticks],
        "dispatched_per_tick": dispatched, "idle_tick_s": round(statistics.median(idle), 4),
        "sweep_s": round(sweep_s, 3), "baseline_full_scan_s": round(baseline, 4), "baseline_due": naive_due,
        "ratio_vs_full_scan": round(tick / baseline, 3), "ratio_idle_vs_full_scan": round(statistics.median(idle) / baseline, 3),
        "peak_rss_mb": round(peak_rss, 1), "tick_alloc_peak_mb": round(tick_alloc, 1),
        "baseline_alloc_peak_mb": round(naive_alloc, 1), "index_backed": not scans, "seq_scans": scans,
        "plans": found, "targets_met": tick < 1.0 and peak_rss < 300 and not scans,
        "batch": settings.scheduler_batch, "max_in_flight": settings.scheduler_max_in_flight,
        "cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg_version,
        "nats_server": f"{v.major}.{v.minor}.{v.patch}", "seed": args.seed,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduler", description=__doc__.split("\n")[0])
    parser.add_argument("--repos", type=int, default=100_000, help="registered repositories (default 100000)")
    parser.add_argument("--ticks", type=int, default=5, help="timed ticks (the median is reported; default 5)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    configure_logging("warning")
    result = asyncio.run(bench(args))
    print(f"tick:      {result['tick_s']} s median (first {result['first_tick_s']} s), dispatching"
          f" {result['dispatched_per_tick']}; nothing due: {result['idle_tick_s']} s; sweep {result['sweep_s']} s")
    print(f"full scan: {result['baseline_full_scan_s']} s  ratio {result['ratio_vs_full_scan']}")
    print(f"memory:    peak RSS {result['peak_rss_mb']} MB; allocations of a tick {result['tick_alloc_peak_mb']} MB,"
          f" of a full scan {result['baseline_alloc_peak_mb']} MB; index-backed: {result['index_backed']}")
    print(json.dumps(result, sort_keys=True))
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
