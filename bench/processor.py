"""Processor throughput: staged events to committed rows, against a plain COPY of the same rows.

    python -m bench.processor [--rows 200000] [--repos 8] [--batch N] [--seed 1]

1. Starts an embedded NATS + PostgreSQL (temporary data dir) and applies the migrations.
2. Registers ``--repos`` repositories through the processor (``RepoRegistered``), as in production.
3. Stages, untimed, one collector job (issues, pull requests, comments) and one facade job
   (commits) per repository: ``JobDispatched``, the data messages, ``JobFinished``.
4. Timed: starts a fresh processor and waits until every job is ``committed`` in
   ``ops.collection_status`` and the consumer has nothing pending or unacked.
5. Baseline, same run, same server: a fresh database with the same migrations receives exactly
   the rows the processor wrote (same tables, same columns) by ``COPY``, in one transaction.

The last line of output is one JSON object (``rows_per_s``, ``copy_rows_per_s``, ``ratio_vs_copy``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import nats
from nats.js import JetStreamContext

from services.processor import rows as r
from services.processor.app import create_app
from services.processor.commits import MESSAGE_COLUMNS, PARENT_COLUMNS
from services.processor.store import CONTRIBUTOR_NAMES
from shared.db import apply_migrations
from shared.embedded import EmbeddedStack
from shared.events import subjects, v1
from shared.events.jetstream import Publisher, ensure_streams
from shared.logging import configure_logging
from shared.metrics import Metrics
from shared.settings import Settings, load_settings

ISSUES_PAGE = 100  # GitHub's per_page maximum, as the collector pages
COMMITS_CHUNK = 500  # the facade's chunk size
POLL_S = 0.05
# Rows one item produces on average (the item, its labels, assignees, reviewers, files), used to
# size the workload; the reported row count is what the tables actually hold.
ROWS_PER = {"issue": 1 + 1.5 + 1.0, "pull": 1 + 1.5 + 1.0 + 1.0, "comment": 1.0, "commit": 1 + 3.0}
SHARE = {"issue": 0.25, "pull": 0.20, "comment": 0.20, "commit": 0.35}

# Every data table the events fill, in foreign-key order, with the columns the processor writes
# (plus the surrogate key it lets PostgreSQL assign, which COPY must carry for the children).
TABLES: dict[str, tuple[str, ...]] = {
    "data.contributors": CONTRIBUTOR_NAMES,
    "data.issues": ("issue_id", *r.ISSUE_COLUMNS),
    "data.issue_labels": ("issue_id", "name", "color", "description", "platform_label_id"),
    "data.issue_assignees": ("issue_id", "cntrb_id"),
    "data.pull_requests": ("pull_request_id", *r.PULL_COLUMNS),
    "data.pull_request_labels": ("pull_request_id", "name", "color", "description", "platform_label_id"),
    "data.pull_request_assignees": ("pull_request_id", "cntrb_id"),
    "data.pull_request_reviewers": ("pull_request_id", "cntrb_id"),
    "data.messages": ("msg_id", *r.MESSAGE_COLUMNS),
    "data.commits": ("commit_id", *r.COMMIT_COLUMNS),
    "data.commit_files": r.FILE_COLUMNS,
    "data.commit_parents": PARENT_COLUMNS,
    "data.commit_messages": MESSAGE_COLUMNS,
}

WORDS = ("the build fails when running tests on windows with python 3.12 because the path separator is "
         "wrong and the cache never gets invalidated after an upgrade so please add a regression test "
         "for this case también naïve café déjà vu — 🚀 fix docs typo refactor parser cleanup").split()
LABELS = [v1.Label(name=n, platform_id=9_000 + i, color=f"{(i * 2654435761) % 0xFFFFFF:06x}",
                   description=None if i % 3 else f"Issues about {n}")
          for i, n in enumerate(("bug", "enhancement", "documentation", "question", "good first issue",
                                 "help wanted", "wontfix", "duplicate", "performance", "security",
                                 "dependencies", "ci", "breaking change", "needs triage", "regression",
                                 "windows", "macos", "linux", "api", "ux"))]
PATHS = [f"{d}/{f}" for d in ("src/core", "src/api", "src/cli", "tests", "docs", "scripts")
         for f in ("__init__.py", "models.py", "views.py", "utils.py", "config.py", "index.md", "run.sh")]


# ------------------------------------------------------------------ workload


@dataclass
class Workload:
    """Every staged message of the run, in publishing order, and what the tables must hold after."""

    urls: list[str]
    registrations: list[v1.RepoRegistered]
    jobs: list[list[v1.StagedEvent]] = field(default_factory=list)  # per job: dispatched, data..., finished
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def messages(self) -> int:
        return sum(len(job) for job in self.jobs)

    @property
    def job_ids(self) -> list[str]:
        return [job[0].job_id for job in self.jobs]  # type: ignore[union-attr]


class Generator:
    """Deterministic (seeded) shapes close to what the collector and the facade publish."""

    def __init__(self, seed: int, users: int = 400) -> None:
        self.rng = random.Random(seed)
        self.base = datetime(2019, 1, 1, tzinfo=UTC)
        self.users = [self._user(i) for i in range(users)]
        self.devs = [(f"Dev {i}", f"dev{i}@example.org") for i in range(120)]

    def _user(self, i: int) -> v1.User:
        bot = i % 50 == 49
        login = f"bot-{i}[bot]" if bot else f"user-{i:04d}"
        return v1.User(platform_id=1_000_000 + i * 7, login=login, node_id=f"MDQ6VXNlcj{i:08d}",
                       kind="Bot" if bot else "User", avatar_url=f"https://avatars.example/u/{i}",
                       html_url=f"https://github.com/{login}")

    def _text(self, lo: int, hi: int) -> str:
        return " ".join(self.rng.choices(WORDS, k=self.rng.randint(lo, hi)))

    def _when(self) -> datetime:
        return self.base + timedelta(seconds=self.rng.randrange(5 * 365 * 86400))

    def _person(self) -> v1.User:
        # A few active people write most things, as in real projects.
        return self.users[min(int(self.rng.paretovariate(1.2)) - 1, len(self.users) - 1)] \
            if self.rng.random() < 0.5 else self.rng.choice(self.users)

    def issue(self, rix: int, number: int) -> v1.Issue:
        created = self._when()
        closed = self.rng.random() < 0.6
        labels = self.rng.sample(LABELS, self.rng.randint(0, 3))
        assignees = self.rng.sample(self.users, self.rng.randint(0, 2))
        return v1.Issue(
            platform_id=rix * 10_000_000 + number, number=number, title=self._text(3, 12),
            state="closed" if closed else "open", node_id=f"I_kwDO{rix:04d}{number:07d}",
            body=None if self.rng.random() < 0.1 else self._text(10, 200),
            state_reason="completed" if closed else None, author=self._person(),
            closed_by=self._person() if closed else None, assignees=assignees, labels=labels,
            milestone="v1.0" if self.rng.random() < 0.2 else None, comments=self.rng.randint(0, 20),
            html_url=f"https://github.com/o{rix}/r{rix}/issues/{number}", created_at=created,
            updated_at=created + timedelta(days=self.rng.randint(0, 300)),
            closed_at=created + timedelta(days=self.rng.randint(0, 300)) if closed else None,
        )

    def pull(self, rix: int, number: int) -> v1.PullRequest:
        created = self._when()
        state = self.rng.choice(("open", "closed", "closed", "closed"))
        merged = state == "closed" and self.rng.random() < 0.8
        sha = hashlib.sha1(f"pr{rix}-{number}".encode()).hexdigest()
        return v1.PullRequest(
            platform_id=rix * 10_000_000 + 5_000_000 + number, number=number, title=self._text(3, 12),
            state=state, node_id=f"PR_kwDO{rix:04d}{number:07d}", body=self._text(5, 150),
            draft=self.rng.random() < 0.05, author=self._person(), author_association="CONTRIBUTOR",
            assignees=self.rng.sample(self.users, self.rng.randint(0, 2)),
            requested_reviewers=self.rng.sample(self.users, self.rng.randint(0, 2)),
            labels=self.rng.sample(LABELS, self.rng.randint(0, 3)),
            html_url=f"https://github.com/o{rix}/r{rix}/pull/{number}", created_at=created,
            updated_at=created + timedelta(days=self.rng.randint(0, 60)),
            closed_at=created + timedelta(days=3) if state == "closed" else None,
            merged_at=created + timedelta(days=3) if merged else None,
            merge_commit_sha=sha if merged else None, head_ref=f"feature/{number}", head_sha=sha[::-1],
            head_repo=f"fork{number % 50}/r{rix}", base_ref="main", base_sha=sha[1:] + "0",
        )

    def comment(self, rix: int, seq: int, parents: int) -> v1.Comment:
        created = self._when()
        return v1.Comment(
            platform_id=rix * 100_000_000 + seq, parent_number=self.rng.randint(1, parents),
            node_id=f"IC_kwDO{rix:04d}{seq:08d}", body=self._text(3, 120), author=self._person(),
            author_association=self.rng.choice(("MEMBER", "CONTRIBUTOR", "NONE")),
            html_url=f"https://github.com/o{rix}/r{rix}/issues/1#issuecomment-{seq}", created_at=created,
            updated_at=created + timedelta(minutes=self.rng.randint(0, 600)),
        )

    def commits(self, rix: int, count: int) -> list[v1.Commit]:
        out: list[v1.Commit] = []
        previous: list[str] = []
        when = self.base
        for i in range(count):
            sha = hashlib.sha1(f"c{rix}-{i}".encode()).hexdigest()
            name, email = self.rng.choice(self.devs)
            when += timedelta(minutes=self.rng.randint(1, 3000))
            tz = timezone(timedelta(minutes=self.rng.choice((-480, -300, 0, 60, 120, 330, 540))))
            files = [v1.FileChange(path=p, added=self.rng.randint(0, 200), deleted=self.rng.randint(0, 80))
                     for p in self.rng.sample(PATHS, self.rng.randint(1, 5))]
            parents = previous + ([hashlib.sha1(f"m{rix}-{i}".encode()).hexdigest()]
                                  if previous and self.rng.random() < 0.05 else [])
            out.append(v1.Commit(sha=sha, parents=parents, author_name=name, author_email=email,
                                 author_date=when.astimezone(tz), committer_name=name, committer_email=email,
                                 committer_date=when.astimezone(tz), message=self._text(3, 40), files=files))
            previous = [sha]
        return out


def _job(repo_id: int, phase: str, job_id: str, pages: list[v1.DataEvent], started: datetime) -> list[v1.StagedEvent]:
    return [
        v1.JobDispatched(repo_id=repo_id, phase=phase, job_id=job_id, dispatched_at=started),
        *pages,
        v1.JobFinished(repo_id=repo_id, job_id=job_id, seq=len(pages), phase=phase, messages=len(pages),
                       requests=len(pages), started_at=started, finished_at=started + timedelta(minutes=5)),
    ]


def build_jobs(work: Workload, repo_ids: dict[str, int], target_rows: int, seed: int) -> None:
    """One collector job and one facade job per repository, sized so the run writes ~target_rows."""
    gen = Generator(seed)
    per_repo = target_rows / len(work.urls)
    n = {kind: max(1, round(per_repo * SHARE[kind] / ROWS_PER[kind])) for kind in SHARE}
    due = datetime(2026, 11, 23, tzinfo=UTC)
    expected = dict.fromkeys(TABLES, 0)
    users: set[int] = set()
    for rix, url in enumerate(work.urls, 1):
        rid = repo_ids[url]
        issues = [gen.issue(rix, k) for k in range(1, n["issue"] + 1)]
        pulls = [gen.pull(rix, k) for k in range(n["issue"] + 1, n["issue"] + n["pull"] + 1)]
        comments = [gen.comment(rix, k, n["issue"] + n["pull"]) for k in range(1, n["comment"] + 1)]
        commits = gen.commits(rix, n["commit"])
        collector = v1.job_id(subjects.PHASE_COLLECTOR, rid, due)
        pages: list[v1.DataEvent] = []
        for items, kind in ((issues, v1.IssuesObserved), (pulls, v1.PullRequestsObserved),
                            (comments, v1.CommentsObserved)):
            for start in range(0, len(items), ISSUES_PAGE):
                pages.append(kind(repo_id=rid, job_id=collector, seq=len(pages),
                                  items=items[start:start + ISSUES_PAGE]))  # type: ignore[arg-type]
        work.jobs.append(_job(rid, subjects.PHASE_COLLECTOR, collector, pages, due))
        facade = v1.job_id(subjects.PHASE_FACADE, rid, due)
        chunks: list[v1.DataEvent] = [
            v1.CommitsObserved(repo_id=rid, job_id=facade, seq=k, items=commits[start:start + COMMITS_CHUNK])
            for k, start in enumerate(range(0, len(commits), COMMITS_CHUNK))]
        work.jobs.append(_job(rid, subjects.PHASE_FACADE, facade, chunks, due))

        expected["data.issues"] += len(issues)
        expected["data.issue_labels"] += sum(len(i.labels) for i in issues)
        expected["data.issue_assignees"] += sum(len(i.assignees) for i in issues)
        expected["data.pull_requests"] += len(pulls)
        expected["data.pull_request_labels"] += sum(len(p.labels) for p in pulls)
        expected["data.pull_request_assignees"] += sum(len(p.assignees) for p in pulls)
        expected["data.pull_request_reviewers"] += sum(len(p.requested_reviewers) for p in pulls)
        expected["data.messages"] += len(comments)
        expected["data.commits"] += len(commits)
        expected["data.commit_files"] += sum(len(c.files) for c in commits)
        expected["data.commit_parents"] += sum(len(c.parents) for c in commits)
        expected["data.commit_messages"] += len(commits)
        for item in (*issues, *pulls, *comments):
            for user in (getattr(item, "author", None), getattr(item, "closed_by", None),
                         *getattr(item, "assignees", ()), *getattr(item, "requested_reviewers", ())):
                if user is not None:
                    users.add(user.platform_id)
    expected["data.contributors"] = len(users)
    work.expected = expected


def subject_of(event: v1.StagedEvent) -> str:
    if isinstance(event, v1.RepoRegistered):
        return subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_REPO_KEY, "register")
    if isinstance(event, v1.JobDispatched):
        return subjects.event_subject(subjects.SOURCE_SCHED, event.repo_id, "dispatched")
    assert isinstance(event, v1.JobEvent)
    source = subjects.SOURCE_GIT if event.job_id.startswith(subjects.PHASE_FACADE) else subjects.SOURCE_FORGE
    return subjects.event_subject(source, event.repo_id, event.__struct_config__.tag)  # type: ignore[arg-type]


async def publish(js: JetStreamContext, events: list[v1.StagedEvent]) -> None:
    publisher = Publisher(js, in_flight=256)
    for event in events:
        await publisher.send(subject_of(event), event)
    await publisher.flush()


# ------------------------------------------------------------------ measuring


async def consumer_idle(js: JetStreamContext) -> bool:
    info = await js.consumer_info(subjects.STAGING, subjects.PROCESSOR_CONSUMER)
    return info.num_pending == 0 and info.num_ack_pending == 0


async def wait_until(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")
        await asyncio.sleep(POLL_S)


async def count_rows(conn: asyncpg.Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in TABLES}


async def run_processor(settings: Settings, db: asyncpg.Connection, js: JetStreamContext, job_ids: list[str],
                        timeout: float) -> float:
    """Seconds from the processor's start until every job is committed and every message acked."""
    proc = create_app(settings, Metrics())

    async def all_committed() -> bool:
        done = await db.fetchval("SELECT count(*) FROM ops.collection_status"
                                 " WHERE job_id = ANY($1::text[]) AND state = 'committed'", job_ids)
        return done == len(job_ids) and await consumer_idle(js)

    started = time.perf_counter()
    await proc.start()
    try:
        await wait_until(all_committed, "every job committed", timeout)
        return time.perf_counter() - started
    finally:
        await proc.stop()


async def copy_baseline(src: asyncpg.Connection, dst_dsn: str) -> float:
    """COPY the processor's rows into a fresh database with the same schema; seconds, commit included."""
    dst = await asyncpg.connect(dst_dsn)
    try:
        for table, cols in (("data.repo_groups", ("repo_group_id", "name")),
                            ("data.repos", ("repo_id", "repo_group_id", "url", "platform", "host", "owner", "name"))):
            await dst.execute(f"TRUNCATE {table} CASCADE")
            await dst.copy_records_to_table(table.split(".")[1], schema_name="data", columns=list(cols),
                                            records=await src.fetch(f"SELECT {', '.join(cols)} FROM {table}"))
        rows = {table: await src.fetch(f"SELECT {', '.join(cols)} FROM {table}") for table, cols in TABLES.items()}
        started = time.perf_counter()
        async with dst.transaction():
            for table, cols in TABLES.items():
                await dst.copy_records_to_table(table.split(".")[1], schema_name="data", columns=list(cols),
                                                records=rows[table])
        elapsed = time.perf_counter() - started
        copied = await count_rows(dst)
        expected = {table: len(records) for table, records in rows.items()}
        if copied != expected:
            raise RuntimeError(f"COPY baseline holds {copied}, expected {expected}")
        return elapsed
    finally:
        await dst.close()


async def bench(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="watershed-bench-"))
    stack = EmbeddedStack(tmp)
    try:
        info = await stack.start()
        await apply_migrations(info.database_url)
        settings = load_settings({}, data_dir=tmp, nats_url=info.nats_url, database_url=info.database_url,
                                 **({"processor_batch": args.batch} if args.batch else {}))
        nc = await nats.connect(info.nats_url)
        db = await asyncpg.connect(info.database_url)
        try:
            js = nc.jetstream()
            await ensure_streams(js)
            urls = [f"https://github.com/bench-owner-{i}/repo-{i}" for i in range(1, args.repos + 1)]
            work = Workload(urls, [v1.RepoRegistered(url=u, platform="github", host="github.com",
                                                     owner=u.split("/")[3], name=u.split("/")[4]) for u in urls])

            # Registration goes through the processor like in production; untimed.
            await publish(js, list(work.registrations))
            reg = create_app(settings, Metrics())
            await reg.start()
            try:
                async def registered() -> bool:
                    n = await db.fetchval("SELECT count(*) FROM data.repos WHERE url = ANY($1::text[])", urls)
                    return n == len(urls) and await consumer_idle(js)
                await wait_until(registered, "repository rows", 60)
            finally:
                await reg.stop()
            repo_ids = dict(await db.fetch("SELECT url, repo_id FROM data.repos WHERE url = ANY($1::text[])", urls))

            made = time.perf_counter()
            build_jobs(work, repo_ids, args.rows, args.seed)
            made = time.perf_counter() - made
            staged = time.perf_counter()
            await publish(js, [event for job in work.jobs for event in job])
            staged = time.perf_counter() - staged
            print(f"staged {work.messages} messages for {len(work.jobs)} jobs on {len(urls)} repositories"
                  f" (generated in {made:.1f} s, published in {staged:.1f} s)")

            seconds = await run_processor(settings, db, js, work.job_ids, args.timeout)
            counts = await count_rows(db)
            dead = await db.fetchval("SELECT count(*) FROM ops.dead_letters")
            if counts != work.expected or dead:
                raise RuntimeError(f"processor wrote {counts} with {dead} dead letters; expected {work.expected}")
            rows = sum(counts.values())

            await db.execute("CREATE DATABASE watershed_copy")
            copy_dsn = info.database_url.rsplit("/", 1)[0] + "/watershed_copy"
            await apply_migrations(copy_dsn)
            copy_seconds = await copy_baseline(db, copy_dsn)
            pg_version = await db.fetchval("SHOW server_version")
            v = nc.connected_server_version
            nats_version = f"{v.major}.{v.minor}.{v.patch}"
        finally:
            await db.close()
            await nc.close()
    finally:
        await stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    rows_per_s = rows / seconds
    copy_rows_per_s = rows / copy_seconds
    return {
        "bench": "processor", "date": datetime.now(UTC).date().isoformat(),
        "rows_per_s": round(rows_per_s), "copy_rows_per_s": round(copy_rows_per_s),
        "ratio_vs_copy": round(rows_per_s / copy_rows_per_s, 3),
        "rows": rows, "messages": work.messages, "jobs": len(work.jobs), "repos": len(urls),
        "seconds": round(seconds, 3), "copy_seconds": round(copy_seconds, 3),
        "batch": settings.processor_batch, "seed": args.seed, "rows_by_table": counts,
        "cpus": os.cpu_count(), "python": platform.python_version(), "postgres": pg_version,
        "nats_server": str(nats_version), "asyncpg": asyncpg.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.processor", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows to write, roughly (default 200000)")
    parser.add_argument("--repos", type=int, default=8, help="repositories (two jobs each; default 8)")
    parser.add_argument("--batch", type=int, default=0, help="processor batch size (default: the setting's)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    args = parser.parse_args(argv)
    configure_logging("warning")
    result = asyncio.run(bench(args))
    print(f"processor: {result['rows']} rows from {result['messages']} messages in {result['seconds']} s"
          f" = {result['rows_per_s']} rows/s (batch {result['batch']})")
    print(f"COPY:      same rows in {result['copy_seconds']} s = {result['copy_rows_per_s']} rows/s")
    print(f"ratio:     {result['ratio_vs_copy']} of COPY speed")
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
