"""Facade throughput: a repository's whole history to published commit facts, against `git log`
itself and PyDriller on the same range, with the facade's peak memory and the processor's rate.

    python -m bench.facade [--commits 50000] [--small 5000] [--runs 3] [--seed 1]

1. Makes two bare repositories with ``bench.githistory`` (no network here to clone a public
   one): ``--commits`` commits, and the first ``--small`` commits of the same history.
2. Starts embedded NATS + PostgreSQL and registers both as local repositories
   (``WATERSHED_FACADE_ALLOW_LOCAL``). The facade service runs in this process; jobs go through
   the COMMANDS work queue as the scheduler sends them.
3. Each repository's first job clones it and publishes its history (timed, with the clone).
   While the big one's facts wait in STAGING, a fresh processor is timed until they are
   committed: commit rows per second.
4. ``--runs`` full passes (``full=True``, the clone already current) per repository: the
   facade's time, each against ``git log`` with the facade's own arguments writing to /dev/null
   on the same clone right after it (the baseline: the cost of git itself; the ratio is the
   median of the pairs' ratios), and PyDriller over the small one.
5. Peak RSS of this process (the facade) is sampled during every job: flat means the big
   history needs no more than the small one.

The last line of output is one JSON object (``commits``, ``facade_s``, ``git_log_s``,
``ratio_vs_git_log``, ``pydriller_s``, ``speedup_vs_pydriller``, ``peak_rss_mb``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import nats
from nats.js import JetStreamContext

from bench.processor import consumer_idle, publish, run_processor, wait_until
from services.facade.app import clone_path
from services.facade.app import create_app as create_facade
from services.facade.gitlog import LOG_ARGS
from services.processor.app import create_app as create_processor
from shared.db import apply_migrations
from shared.embedded import EmbeddedStack
from shared.events import subjects, v1
from shared.events.jetstream import MSG_ID_HEADER, ensure_streams
from shared.forge.urls import parse_repo_url
from shared.logging import configure_logging
from shared.metrics import Metrics
from shared.settings import Settings, load_settings

COMMIT_TABLES = ("data.commits", "data.commit_files", "data.commit_parents", "data.commit_messages")
PYDRILLER = """
import sys, time
from pydriller import Repository
started, commits, files = time.perf_counter(), 0, 0
for c in Repository(sys.argv[1]).traverse_commits():
    commits += 1
    fields = (c.hash, c.parents, c.author.name, c.author.email, c.author_date, c.committer.name,
              c.committer.email, c.committer_date, c.msg)
    for m in c.modified_files:
        files += 1
        fields = (m.new_path, m.old_path, m.added_lines, m.deleted_lines)
print(commits, files, time.perf_counter() - started)
"""


class RssSampler:
    """Peak resident memory of this process while running (ru_maxrss never comes down)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def now() -> int:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.now())
            await asyncio.sleep(self.interval)

    def __enter__(self) -> RssSampler:
        self.peak = self.now()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.now())


def release_freed_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # glibc keeps freed heap pages otherwise


def make_histories(tmp: Path, commits: int, small: int, seed: int) -> tuple[Path, Path]:
    big = tmp / "big.git"
    subprocess.run([sys.executable, "-m", "bench.githistory", str(big), "--commits", str(commits),
                    "--seed", str(seed)], check=True)
    first = subprocess.run(["git", "-C", str(big), "rev-list", "--reverse", "main"], check=True,
                           capture_output=True, text=True).stdout.split()
    # The small history is the first --small commits of the big one (by commit order).
    cut = first[min(small, len(first)) - 1]
    little = tmp / "small.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(little)], check=True)
    subprocess.run(["git", "-C", str(little), "fetch", "-q", str(big), f"{cut}:refs/heads/main"], check=True)
    return big, little


def count(repo: Path, rev: str = "HEAD") -> int:
    return int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", rev], check=True,
                              capture_output=True, text=True).stdout)


def git_log_seconds(clone: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "-C", str(clone), *LOG_ARGS, "HEAD", "--"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def pydriller_seconds(clone: Path) -> tuple[float, int]:
    out = subprocess.run([sys.executable, "-c", PYDRILLER, str(clone)], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[2]), int(out[0])


async def register(settings: Settings, db: asyncpg.Connection, js: JetStreamContext, repos: list[Path]) -> list[int]:
    refs = [parse_repo_url(str(repo), allow_local=True) for repo in repos]
    urls = [ref.url for ref in refs]
    await publish(js, [v1.RepoRegistered(url=ref.url, platform=ref.platform, host=ref.host, owner=ref.owner,
                                         name=ref.name) for ref in refs])
    proc = create_processor(settings, Metrics())
    await proc.start()
    try:
        async def registered() -> bool:
            n = await db.fetchval("SELECT count(*) FROM data.repos WHERE url = ANY($1::text[])", urls)
            return n == len(urls) and await consumer_idle(js)
        await wait_until(registered, "repository rows", 60)
    finally:
        await proc.stop()
    ids = dict(await db.fetch("SELECT url, repo_id FROM data.repos WHERE url = ANY($1::text[])", urls))
    return [ids[u] for u in urls]


class Jobs:
    """Sends facade jobs through the work queue and waits for each one's ``JobFinished``."""

    def __init__(self, nc: nats.NATS, js: JetStreamContext) -> None:
        self.nc, self.js = nc, js
        self.serial = 0

    async def run(self, repo_id: int, repo: Path, *, full: bool, timeout: float) -> tuple[float, v1.JobFinished]:
        self.serial += 1
        job = v1.Job(job_id=f"facade-bench-{repo_id}-{self.serial}", repo_id=repo_id, phase=subjects.PHASE_FACADE,
                     url=repo.as_uri(), platform="git", full=full)
        done: asyncio.Future[v1.JobFinished] = asyncio.get_running_loop().create_future()

        async def on_event(msg: nats.aio.msg.Msg) -> None:
            event = v1.staged_decoder.decode(msg.data)
            if isinstance(event, v1.JobFinished) and event.job_id == job.job_id and not done.done():
                done.set_result(event)

        sub = await self.nc.subscribe(subjects.event_subject(subjects.SOURCE_GIT, repo_id, "finished"), cb=on_event)
        try:
            started = time.perf_counter()
            await self.js.publish(subjects.command_subject(job.phase, repo_id), v1.encoder.encode(job),
                                  headers={MSG_ID_HEADER: job.job_id})
            finished = await asyncio.wait_for(done, timeout)
            seconds = time.perf_counter() - started
        finally:
            await sub.unsubscribe()
        if finished.error:
            raise RuntimeError(f"facade job failed: {finished.error}")
        return seconds, finished


async def commit_rows(db: asyncpg.Connection, repo_id: int) -> dict[str, int]:
    return {t: await db.fetchval(f"SELECT count(*) FROM {t} WHERE repo_id = $1", repo_id) for t in COMMIT_TABLES}


async def bench(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="watershed-bench-facade-"))
    stack = EmbeddedStack(tmp / "stack")
    try:
        made = time.perf_counter()
        big, small = make_histories(tmp, args.commits, args.small, args.seed)
        made = time.perf_counter() - made
        commits, small_commits = count(big), count(small)
        print(f"histories: {commits} and {small_commits} commits, made in {made:.0f} s")
        info = await stack.start()
        await apply_migrations(info.database_url)
        settings = load_settings({}, data_dir=tmp / "data", nats_url=info.nats_url, database_url=info.database_url,
                                 facade_allow_local=True, clones_dir=tmp / "clones")
        nc = await nats.connect(info.nats_url)
        db = await asyncpg.connect(info.database_url)
        try:
            js = nc.jetstream()
            await ensure_streams(js)
            big_id, small_id = await register(settings, db, js, [big, small])
            facade = create_facade(settings, Metrics())
            await facade.start()
            jobs = Jobs(nc, js)
            try:
                with RssSampler() as rss_small:
                    first_small, marker = await jobs.run(small_id, small, full=False, timeout=args.timeout)
                await run_processor(settings, db, js, [marker.job_id], args.timeout)  # the small one, untimed
                with RssSampler() as rss_big:
                    first_big, marker = await jobs.run(big_id, big, full=False, timeout=args.timeout)
                print(f"first jobs (clone + history): small {first_small:.1f} s, big {first_big:.1f} s")
                processor_s = await run_processor(settings, db, js, [marker.job_id], args.timeout)
                # The processor ran in this process too: what it freed goes back to the system
                # before the facade's passes are sampled, so their peak is the facade's own.
                release_freed_memory()
                written = await commit_rows(db, big_id)
                if written["data.commits"] != commits:
                    raise RuntimeError(f"the processor holds {written} for {commits} commits")
                print(f"processor: {sum(written.values())} commit rows in {processor_s:.1f} s")

                # Interleaved: each facade pass, then git log on the same clone at once (the facade
                # idle meanwhile), so a change of load on a shared machine hits both sides of a pair.
                big_clone = clone_path(settings.clones_dir, big_id)
                facade_runs, git_runs, small_runs = [], [], []
                for _ in range(args.runs):
                    with RssSampler() as sampler:
                        facade_runs.append((await jobs.run(big_id, big, full=True, timeout=args.timeout))[0])
                    rss_big.peak = max(rss_big.peak, sampler.peak)
                    git_runs.append(await asyncio.to_thread(git_log_seconds, big_clone))
                    with RssSampler() as sampler:
                        small_runs.append((await jobs.run(small_id, small, full=True, timeout=args.timeout))[0])
                    rss_small.peak = max(rss_small.peak, sampler.peak)
            finally:
                await facade.stop()
            pydriller_s, pydriller_commits = pydriller_seconds(clone_path(settings.clones_dir, small_id))
            if pydriller_commits != small_commits:
                raise RuntimeError(f"PyDriller saw {pydriller_commits} commits of {small_commits}")
            pg_version = await db.fetchval("SHOW server_version")
        finally:
            await db.close()
            await nc.close()
    finally:
        await stack.stop()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    facade_s, git_log_s, facade_small_s = (statistics.median(x) for x in (facade_runs, git_runs, small_runs))
    # The ratio is the median of the pairs' ratios (each pass against the git log right after it).
    ratio = statistics.median(f / g for f, g in zip(facade_runs, git_runs, strict=True))
    rows = sum(written.values())
    return {
        "bench": "facade", "date": datetime.now(UTC).date().isoformat(),
        "history": "synthetic (bench.githistory), made locally: no network to clone a public repository",
        "commits": commits, "facade_s": round(facade_s, 3), "git_log_s": round(git_log_s, 3),
        "ratio_vs_git_log": round(ratio, 3), "ratio_of_medians": round(facade_s / git_log_s, 3),
        "small_commits": small_commits, "facade_small_s": round(facade_small_s, 3),
        "pydriller_s": round(pydriller_s, 3), "speedup_vs_pydriller": round(pydriller_s / facade_small_s, 1),
        "peak_rss_mb": round(rss_big.peak / 2**20, 1), "peak_rss_small_mb": round(rss_small.peak / 2**20, 1),
        "first_job_s": round(first_big, 3), "processor_s": round(processor_s, 3),
        "commit_rows": rows, "commit_rows_by_table": written,
        "commit_rows_per_s": round(rows / processor_s), "commits_per_s_processor": round(commits / processor_s),
        "facade_runs": [round(x, 3) for x in facade_runs], "git_log_runs": [round(x, 3) for x in git_runs],
        "cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg_version,
        "git": subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.facade", description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=50_000, help="commits of the big history (default 50000)")
    parser.add_argument("--small", type=int, default=5_000,
                        help="commits of the small history, also PyDriller's range (default 5000)")
    parser.add_argument("--runs", type=int, default=3, help="timed full passes per repository (default 3)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on a job after this many seconds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (histories, clones)")
    args = parser.parse_args(argv)
    configure_logging("warning")
    result = asyncio.run(bench(args))
    print(f"facade:    {result['commits']} commits in {result['facade_s']} s; git log {result['git_log_s']} s;"
          f" ratio {result['ratio_vs_git_log']} (target <= 1.3)")
    print(f"PyDriller: {result['small_commits']} commits in {result['pydriller_s']} s vs facade"
          f" {result['facade_small_s']} s: {result['speedup_vs_pydriller']} x (target >= 20)")
    print(f"memory:    peak {result['peak_rss_mb']} MB ({result['small_commits']} commits:"
          f" {result['peak_rss_small_mb']} MB; target < 200, flat)")
    print(f"processor: {result['commit_rows']} commit rows in {result['processor_s']} s ="
          f" {result['commit_rows_per_s']} rows/s (target >= 20000)")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
