"""Scheduler: reads state (read-only), publishes decisions.

A pass (on every tick, and whenever progress or a request arrives):
1. phases whose job the processor committed get their final state and next due time (a
   ``PhaseScheduled`` fact the processor records), with the retry backoff after failures;
2. the queue is read in its order (urgent, priority, due time), with the phases of newly
   registered repositories and the phases stuck in flight, and at most the per-phase budget
   is dispatched (``policy.plan_dispatch``).
Job ids derive from (phase, repo, due time), and a job JetStream has seen is not dispatched
again: several replicas, or a pass repeated before the processor recorded the last one,
dispatch nothing twice. Requests of the CLI are answered in ``control.py``; periodic work runs
on one replica at a time (``periodic.py``, ``work.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from datetime import datetime, timedelta, timezone

import asyncpg

from services.scheduler.control import Control
from services.scheduler.dispatch import Dispatcher, repo_job
from services.scheduler.periodic import Periodic
from services.scheduler.policy import QUEUED_PHASES, Entry, after_job, plan_dispatch
from services.scheduler.queue import QueueReader, Repo
from services.scheduler.web import ControlPlane, poll_queue_metrics
from services.scheduler.work import PeriodicWork
from shared.db import Role, connect_pool
from shared.events import subjects, v1
from shared.metrics import Metrics
from shared.service import Service
from shared.settings import Settings

COMMITTED_PER_PASS = 5000
SWEEP_EVERY_S = 300.0


class Scheduler(Service):
    name = "scheduler"

    def setup(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sweep_task: asyncio.Task[None] | None = None
        self.pool: asyncpg.Pool | None = None
        self.queue: QueueReader | None = None
        self.control = Control(self.settings, self._pool, self.dispatcher, self.publisher, self._wake.set)
        self.work = PeriodicWork(self.settings, self._pool, self.dispatcher, self.publisher, self.control)
        self.periodic: Periodic | None = None
        # Progress is only a wake-up call, so a plain subscription (no durable consumer) does.
        self.broker.subscriber(subjects.PROGRESS_FILTER)(self._on_progress)
        # One replica answers each request.
        group = subjects.SCHEDULER_QUEUE_GROUP
        self.broker.subscriber(subjects.CONTROL_COLLECT, queue=group)(self._on_collect)
        self.broker.subscriber(subjects.CONTROL_SETTINGS, queue=group)(self._on_settings)
        self.broker.subscriber(subjects.CONTROL_PRIORITIZE, queue=group)(self._on_prioritize)
        self.broker.subscriber(subjects.CONTROL_ADD_ORG, queue=group)(self._on_add_org)
        self.broker.subscriber(subjects.CONTROL_DLQ_RETRY, queue=group)(self._on_dlq_retry)
        self.asgi = ControlPlane(self, self.metrics, self.name)  # REST API and dashboard (services/scheduler/web)

    async def poll_metrics(self) -> None:
        await super().poll_metrics()
        await poll_queue_metrics(self.js, self.metrics, self.name)

    def _pool(self) -> asyncpg.Pool:
        assert self.pool is not None
        return self.pool

    def dispatcher(self) -> Dispatcher:
        return Dispatcher(self.js)

    async def on_start(self) -> None:
        assert self.settings.database_url
        self.pool = await connect_pool(self.settings.database_url, role=Role.READER, min_size=1, max_size=4)
        self.queue = QueueReader(self.pool)
        self.periodic = Periodic(self.js, self.work.tasks(), ttl_s=self.settings.leader_ttl_s, log=self.log)
        await self.periodic.start()
        self._loop_task = asyncio.create_task(self._loop(), name="scheduler-loop")
        self._sweep_task = asyncio.create_task(self._sweeper(), name="scheduler-sweep")

    async def on_stopping(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self.periodic is not None:
            await self.periodic.stop()
        for task in (self._loop_task, self._sweep_task):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(task, timeout=30)

    async def on_stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def healthy(self) -> bool:
        loop_ok = self._loop_task is None or not self._loop_task.done()
        return loop_ok and (self.periodic is None or not self.periodic.tasks or self.periodic.healthy())

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

    async def _sweeper(self) -> None:
        """Beside the ticks (it reads every repository): the phases without any entry."""
        assert self.queue is not None
        while not self._stopping.is_set():
            try:
                if found := await self.queue.sweep():
                    self.log.info("queue.swept", missing=found)
                    self._wake.set()
            except Exception:  # noqa: BLE001 - tried again next time
                self.log.exception("sweep.failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=SWEEP_EVERY_S)

    async def run_pass(self) -> int:
        """One tick; returns how many jobs it dispatched."""
        assert self.queue is not None
        now = datetime.now(timezone.utc)
        await self._decide(now)
        return await self._dispatch(now)

    async def _decide(self, now: datetime) -> None:
        assert self.queue is not None
        s = self.settings
        publisher = self.publisher()
        for row in await self.queue.committed(COMMITTED_PER_PASS):
            state, next_due = after_job(row.error_kind, now, recollect_s=row.interval_s or s.recollect_interval_s,
                                        retry_s=s.retry_interval_s, failures=row.failures)
            await publisher.send(subjects.event_subject(subjects.SOURCE_SCHED, row.repo_id, "scheduled"),
                                 v1.PhaseScheduled(repo_id=row.repo_id, phase=row.phase, job_id=row.job_id,
                                                   state=state, next_due=next_due,
                                                   failures=0 if state == "done" else row.failures + 1))
        await publisher.flush()

    async def _dispatch(self, now: datetime) -> int:
        assert self.queue is not None
        s = self.settings
        queue = self.queue
        in_flight = await queue.in_flight()
        await queue.new_repositories(s.scheduler_batch * len(QUEUED_PHASES))
        candidates: list[tuple[Entry, Repo]] = []
        for phase in QUEUED_PHASES:
            budget = max(0, min(s.scheduler_batch, s.scheduler_max_in_flight - in_flight.get(phase, 0)))
            candidates += await queue.due(phase, now, budget)
            candidates += await queue.stuck(phase, now - timedelta(seconds=s.job_stuck_timeout_s), s.scheduler_batch)
        # Of the phases without an entry, only the first few can be dispatched this tick anyway.
        candidates += heapq.nsmallest(s.scheduler_batch * len(QUEUED_PHASES), queue.missing.values(),
                                      key=lambda item: item[0])
        repos = {(e.repo_id, e.phase): repo for e, repo in candidates}
        chosen = plan_dispatch([e for e, _ in candidates], in_flight, batch=s.scheduler_batch,
                               max_in_flight=s.scheduler_max_in_flight)
        chosen = await queue.still_missing(chosen)
        jobs = [repo_job(repos[(e.repo_id, e.phase)], e.phase, e.due, suffix="-stuck" if e.stuck else "")
                for e in chosen]
        sent = await self.dispatcher().send(jobs)
        queue.dispatched(chosen)
        new = [x for x in sent if not x.duplicate]
        for x in new:
            self.metrics.dispatched.labels(service=self.name, phase=x.job.phase).inc()
            self.log.debug("job.dispatched", repo=x.job.url, phase=x.job.phase, job=x.job.job_id)
        stuck = sum(1 for e in chosen if e.stuck)
        if new or stuck:
            self.log.info("queue.dispatched", jobs=len(new), duplicates=len(sent) - len(new), stuck=stuck)
        return len(new)

    # ------------------------------------------------------------------ control requests

    async def _on_collect(self, request: v1.CollectRequest) -> bytes:
        return v1.encoder.encode(await self.control.collect(request))

    async def _on_settings(self, request: v1.SettingsRequest) -> bytes:
        return v1.encoder.encode(await self.control.settings_change(request))

    async def _on_prioritize(self, request: v1.PrioritizeRequest) -> bytes:
        return v1.encoder.encode(await self.control.prioritize(request))

    async def _on_add_org(self, request: v1.AddOrgRequest) -> bytes:
        return v1.encoder.encode(await self.control.add_org(request))

    async def _on_dlq_retry(self, request: v1.DeadLetterRetryRequest) -> bytes:
        return v1.encoder.encode(await self.control.retry_dead_letters(request))


def create_app(settings: Settings, metrics: Metrics | None = None) -> Scheduler:
    return Scheduler(settings, metrics or Metrics())
