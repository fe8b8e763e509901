"""Scheduler: reads state (read-only), publishes decisions.

A pass (on every tick, and whenever progress or a request arrives):
1. phases whose job the processor committed get their final state and next due
   time (a ``PhaseScheduled`` fact the processor records);
2. phases that are due get a job: a ``JobDispatched`` fact, then the job itself.
Job ids derive from (phase, repo, due time), so a pass repeated before the
processor has recorded the last one dispatches nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import asyncpg

from services.scheduler.policy import after_job, is_due, phases_for
from services.scheduler.web import ControlPlane, poll_queue_metrics
from shared.db import Role, connect_pool
from shared.errors import WatershedError
from shared.events import subjects, v1
from shared.forge.urls import parse_repo_url
from shared.metrics import Metrics
from shared.service import Service
from shared.settings import Settings

REGISTRATION_TIMEOUT_S = 30.0

_DUE_SQL = """
SELECT r.repo_id, r.url, r.platform, r.host, r.owner, r.name, r.registered_at,
       s.phase, s.state, s.next_due
FROM data.repos r
LEFT JOIN ops.collection_status s ON s.repo_id = r.repo_id
WHERE r.state = 'active'
ORDER BY r.priority DESC, r.repo_id
"""


class Scheduler(Service):
    name = "scheduler"

    def setup(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self.pool: asyncpg.Pool | None = None
        # Progress is only a wake-up call, so a plain subscription (no durable consumer) does.
        self.broker.subscriber(subjects.PROGRESS_FILTER)(self._on_progress)
        self.broker.subscriber(subjects.CONTROL_COLLECT)(self._on_collect)
        self.asgi = ControlPlane(self, self.metrics, self.name)  # REST API and dashboard (services/scheduler/web)

    async def poll_metrics(self) -> None:
        await super().poll_metrics()
        await poll_queue_metrics(self.js, self.metrics, self.name)

    async def on_start(self) -> None:
        assert self.settings.database_url
        self.pool = await connect_pool(self.settings.database_url, role=Role.READER, min_size=1, max_size=4)
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler-loop")

    async def on_stopping(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._loop_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._loop_task, timeout=30)

    async def on_stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def healthy(self) -> bool:
        return self._loop_task is None or not self._loop_task.done()

    async def _on_progress(self, body: object) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_pass()
            except Exception:  # noqa: BLE001 - a failed pass is retried on the next tick
                self.log.exception("pass.failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.scheduler_tick_s)
            self._wake.clear()

    async def run_pass(self) -> None:
        assert self.pool is not None
        now = datetime.now(timezone.utc)
        publisher = self.publisher()
        committed = await self.pool.fetch(
            "SELECT repo_id, phase, job_id, error_kind FROM ops.collection_status WHERE state = 'committed'")
        for row in committed:
            state, next_due = after_job(row["error_kind"], now, recollect_s=self.settings.recollect_interval_s,
                                        retry_s=self.settings.retry_interval_s)
            await publisher.send(subjects.event_subject(subjects.SOURCE_SCHED, row["repo_id"], "scheduled"),
                                 v1.PhaseScheduled(repo_id=row["repo_id"], phase=row["phase"], job_id=row["job_id"],
                                                   state=state, next_due=next_due))
        seen: dict[int, set[str]] = {}
        repos: dict[int, asyncpg.Record] = {}
        for row in await self.pool.fetch(_DUE_SQL):
            repos[row["repo_id"]] = row
            if row["phase"] is None:
                continue
            seen.setdefault(row["repo_id"], set()).add(row["phase"])
            if row["phase"] in phases_for(row["platform"]) and is_due(row["state"], row["next_due"], now):
                await self._dispatch(publisher, row, row["phase"], row["next_due"] or row["registered_at"])
        for repo_id, repo in repos.items():
            for phase in phases_for(repo["platform"]):
                if phase not in seen.get(repo_id, set()):
                    await self._dispatch(publisher, repo, phase, repo["registered_at"])
        await publisher.flush()

    async def _dispatch(self, publisher: object, repo: asyncpg.Record, phase: str, due: datetime,
                        full: bool = False) -> str:
        job_id = v1.job_id(phase, repo["repo_id"], due) + ("-full" if full else "")
        now = datetime.now(timezone.utc)
        job = v1.Job(job_id=job_id, repo_id=repo["repo_id"], phase=phase, url=repo["url"], platform=repo["platform"],
                     host=repo["host"], owner=repo["owner"], name=repo["name"], dispatched_at=now, full=full)
        # Recorded before it is sent, so the job's own facts can never precede its dispatch.
        await publisher.send(subjects.event_subject(subjects.SOURCE_SCHED, repo["repo_id"], "dispatched"),  # type: ignore[attr-defined]
                             v1.JobDispatched(repo_id=repo["repo_id"], phase=phase, job_id=job_id, dispatched_at=now))
        await publisher.flush()  # type: ignore[attr-defined]
        await publisher.send(subjects.command_subject(phase, repo["repo_id"]), job, msg_id=job_id)  # type: ignore[attr-defined]
        self.metrics.dispatched.labels(service=self.name, phase=phase).inc()
        self.log.info("job.dispatched", repo=repo["url"], phase=phase, job=job_id)
        return job_id

    async def _on_collect(self, request: v1.CollectRequest) -> bytes:
        reply = await self.collect(request)
        return v1.encoder.encode(reply)

    async def collect(self, request: v1.CollectRequest) -> v1.CollectReply:
        """Register the repositories and (with ``dispatch``) run every phase for them now."""
        assert self.pool is not None
        targets: list[v1.CollectTarget] = []
        publisher = self.publisher()
        for text in request.urls:
            try:
                ref = parse_repo_url(text, github_hosts=self.settings.github_hosts,
                                     allow_local=self.settings.facade_allow_local)
            except WatershedError as exc:
                targets.append(v1.CollectTarget(input=text, error=str(exc)))
                continue
            repo = await self.pool.fetchrow("SELECT * FROM data.repos WHERE url = $1", ref.url)
            created = repo is None
            if repo is None:
                await publisher.send(subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_REPO_KEY,
                                                            "registered"),
                                     v1.RepoRegistered(url=ref.url, platform=ref.platform, host=ref.host,
                                                       owner=ref.owner, name=ref.name, group=request.group,
                                                       registered_at=datetime.now(timezone.utc)))
                await publisher.flush()
                repo = await self._wait_for_repo(ref.url)
            if repo is None:
                targets.append(v1.CollectTarget(input=text, url=ref.url,
                                                error="registration was not recorded in time (is the processor running?)"))
                continue
            jobs: dict[str, str] = {}
            if request.dispatch:
                # A repository registered just now is also dispatched by the loop (woken by its
                # registration), as due at registered_at; the same due time names the same job,
                # so the two dispatches are one job and not two racing ones.
                due = repo["registered_at"] if created else datetime.now(timezone.utc)
                for phase in phases_for(repo["platform"]):
                    jobs[phase] = await self._dispatch(publisher, repo, phase, due, full=request.full)
            targets.append(v1.CollectTarget(input=text, url=ref.url, repo_id=repo["repo_id"], created=created,
                                            jobs=jobs))
        await publisher.flush()
        if not request.dispatch:
            self._wake.set()
        return v1.CollectReply(targets=targets)

    async def _wait_for_repo(self, url: str) -> asyncpg.Record | None:
        assert self.pool is not None
        deadline = asyncio.get_running_loop().time() + REGISTRATION_TIMEOUT_S
        while asyncio.get_running_loop().time() < deadline:
            repo = await self.pool.fetchrow("SELECT * FROM data.repos WHERE url = $1", url)
            if repo is not None:
                return repo
            await asyncio.sleep(0.05)
        return None


def create_app(settings: Settings, metrics: Metrics | None = None) -> Scheduler:
    return Scheduler(settings, metrics or Metrics())
