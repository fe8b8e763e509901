"""The processor: the only writer of relational rows.

It pulls STAGING messages in batches, applies each batch in one transaction
(contributors first, then entities in foreign-key order), commits, and only then
acks. A crash anywhere before the ack means redelivery; the upserts and the job
accounting make a redelivered message change nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import Counter
from collections.abc import Iterator, Sequence

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import api as js_api

from services.processor import activity, affiliations, control, gitstate, jobs
from services.processor.rows import build_rows
from services.processor.store import Statements, apply_rows
from shared.affiliations import Matcher, default_mappings, merge
from shared.db import Role, connect_pool
from shared.events import subjects, v1
from shared.ids import identity_namespace
from shared.metrics import Metrics
from shared.service import Service
from shared.settings import Settings

# Errors that say nothing about the batch itself: wait and try the same batch again.
_TRANSIENT_DB = (asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
                 asyncpg.DeadlockDetectedError, asyncpg.SerializationError, ConnectionError, OSError,
                 asyncio.TimeoutError)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic collection inside a batch.

    A batch is some 100k acyclic objects (decoded structs, row values) that reference
    counting frees as soon as it is done; a full collection in the middle of one walks
    them all for nothing (bench/processor.py: five of them took 1.1 s of 7.7 s). The
    first allocation after the batch runs the collection, when they are gone.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Decoded(msgspec.Struct):
    msg: Msg
    event: v1.StagedEvent


class Processor(Service):
    name = "processor"
    watched_consumers = ((subjects.STAGING, subjects.PROCESSOR_CONSUMER),)

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        super().__init__(settings, metrics)
        self.pool: asyncpg.Pool | None = None
        self.sql = Statements()
        # The effective mappings: the shipped list with the user's file over it.
        self.mappings = merge(default_mappings(), settings.affiliations)
        self.affiliations = Matcher(self.mappings)
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def on_start(self) -> None:
        assert self.settings.database_url
        self.pool = await connect_pool(self.settings.database_url, role=Role.WRITER, min_size=1, max_size=4)
        config = js_api.ConsumerConfig(
            durable_name=subjects.PROCESSOR_CONSUMER,
            ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.settings.processor_ack_wait_s,
            max_deliver=-1,
            max_ack_pending=50_000,
            filter_subjects=list(subjects.STAGING_SUBJECTS),
        )
        await self.js.add_consumer(subjects.STAGING, config)
        self._sub = await self.js.pull_subscribe_bind(subjects.PROCESSOR_CONSUMER, subjects.STAGING)
        self._loop_task = asyncio.create_task(self._consume(), name="processor-consume")

    async def on_stopping(self) -> None:
        self._stopping.set()
        if self._loop_task is not None:
            # The loop finishes the batch in hand (commit + ack) before it looks at the flag.
            try:
                await asyncio.wait_for(self._loop_task, timeout=60)
            except asyncio.TimeoutError:
                self._loop_task.cancel()
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()

    async def on_stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def healthy(self) -> bool:
        return self._loop_task is None or not self._loop_task.done()

    async def _sync_derived(self) -> None:
        """Before the first batch: re-apply changed affiliation mappings to stored rows, and build
        the activity aggregates if they are missing or stale. Here, not in ``on_start``: on a big
        database this takes minutes, and the service must answer its health probes meanwhile."""
        assert self.pool is not None
        delay = 0.5
        while not self._stopping.is_set():
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    reapplied = await affiliations.sync_mappings(conn, self.mappings)
                if reapplied is not None:
                    self.log.info("affiliations.reapplied", mappings=len(self.mappings), **reapplied)
                async with self.pool.acquire() as conn, conn.transaction():
                    if await activity.ensure_built(conn):
                        self.log.info("activity.rebuilt", version=activity.VERSION)
                return
            except Exception:  # noqa: BLE001 - keep trying; batches wait, so no row gets stale mappings
                self.log.exception("derived.sync_failed", delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _consume(self) -> None:
        batch = self.settings.processor_batch
        await self._sync_derived()
        while not self._stopping.is_set():
            try:
                msgs = await self._sub.fetch(batch, timeout=0.25)
            # nats-py raises its own TimeoutError, or asyncio's from deep inside fetch.
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                if self._stopping.is_set():
                    return
                await asyncio.sleep(0.5)
                continue
            except Exception:  # noqa: BLE001 - e.g. a consumer deleted under us: say so, keep trying
                self.log.exception("fetch.failed")
                await asyncio.sleep(1.0)
                continue
            try:
                with _gc_paused():
                    await self.handle_batch(msgs)
            except Exception:  # noqa: BLE001 - the loop must outlive any one batch; unacked = redelivered
                self.log.exception("batch.failed", size=len(msgs))
                await asyncio.sleep(1.0)

    async def handle_batch(self, msgs: Sequence[Msg]) -> None:
        decoded: list[Decoded] = []
        for msg in msgs:
            try:
                decoded.append(Decoded(msg, v1.staged_decoder.decode(msg.data)))
            except msgspec.DecodeError as exc:
                await self._dead_letter(msg, f"undecodable message: {exc}")
        delay = 0.5
        while decoded:
            try:
                await self._apply(decoded)
                break
            except _TRANSIENT_DB as exc:
                self.log.warning("batch.retry", error=type(exc).__name__, delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except (asyncpg.PostgresError, ValueError, KeyError) as exc:
                # Something in this batch is bad: apply one by one to find it.
                self.log.warning("batch.isolating", error=str(exc)[:200], size=len(decoded))
                if len(decoded) == 1:
                    await self._dead_letter(decoded[0].msg, f"{type(exc).__name__}: {exc}")
                    break
                for one in decoded:
                    await self.handle_batch([one.msg])
                return
        await asyncio.gather(*(d.msg.ack() for d in decoded))

    async def _apply(self, batch: list[Decoded]) -> None:
        started = time.perf_counter()
        events = [d.event for d in batch]
        data = [e for e in events if isinstance(e, v1.JobEvent) and not isinstance(e, (v1.JobFinished, v1.JobRetrying))]
        finished = [e for e in events if isinstance(e, v1.JobFinished)]
        assert self.pool is not None
        progress: list[v1.JobCommitted | v1.RepoAdded] = []
        async with self.pool.acquire() as conn, conn.transaction():
            added = await control.apply_requests(conn, [e for e in events if isinstance(e, control.REQUEST_TYPES)])
            progress.extend(added)
            await jobs.record_dispatches(conn, [e for e in events if isinstance(e, v1.JobDispatched)])
            fresh = await jobs.claim_messages(conn, data)
            todo = [e for e in data if (e.job_id, e.attempt, e.seq) in fresh]
            written: Counter[str] = Counter()
            if todo:
                repo_ids = list({e.repo_id for e in todo})
                # Accounts are named per server: a GitHub Enterprise user 42 is not github.com's.
                platforms = {r["repo_id"]: identity_namespace(r["platform"], r["host"]) for r in await conn.fetch(
                    "SELECT repo_id, platform, host FROM data.repos WHERE repo_id = ANY($1::int[])", repo_ids)}
                todo = [e for e in todo if e.repo_id in platforms]  # a deleted repository's late events
                written = await self._apply_rows(conn, todo, platforms)
                await jobs.record_started(conn, {e.job_id for e in todo})
                await jobs.record_cursors(conn, [e for e in todo if isinstance(e, v1.CursorObserved)])
            await jobs.record_retrying(conn, [e for e in events if isinstance(e, v1.JobRetrying)])
            await jobs.record_finished(conn, finished)
            touched = {e.job_id for e in data} | {e.job_id for e in finished}
            await jobs.promote_checkpoints(conn, touched)
            completed = await jobs.complete_jobs(conn, touched)
            # A committed facade job may have added or retracted commits: its aggregates follow.
            written.update(await activity.refresh(
                conn, [d.repo_id for d in completed if d.phase == subjects.PHASE_FACADE]))
            for done in completed:
                progress.append(v1.JobCommitted(repo_id=done.repo_id, phase=done.phase, job_id=done.job_id,
                                                ok=done.ok, error=done.error, error_kind=done.error_kind,
                                                requests=done.requests))
            await jobs.record_scheduled(conn, [e for e in events if isinstance(e, v1.PhaseScheduled)])
        for entity, count in written.items():
            self.metrics.rows_written.labels(service=self.name, entity=entity).inc(count)
        self.metrics.messages_applied.labels(service=self.name, outcome="applied").inc(len(batch))
        self.metrics.batch_seconds.labels(service=self.name).observe(time.perf_counter() - started)
        await self._report(progress)

    async def _apply_rows(self, conn: asyncpg.Connection, todo: Sequence[v1.JobEvent],
                          platforms: dict[int, str]) -> Counter[str]:
        """The batch's rows; facade retractions in their place in it (see gitstate.in_order)."""
        written: Counter[str] = Counter()
        for part in gitstate.in_order(todo):
            if isinstance(part, v1.CommitsRetracted):
                written["commits_retracted"] += await gitstate.retract_commits(conn, part)
            else:
                written.update(await apply_rows(conn, self.sql, build_rows(part, platforms, self.affiliations)))  # type: ignore[arg-type]
        if clones := [e for e in todo if isinstance(e, v1.CloneObserved)]:
            written["repo_clones"] += await gitstate.record_clones(conn, clones)
        return written

    async def _report(self, progress: list[v1.JobCommitted | v1.RepoAdded]) -> None:
        # Progress is a wake-up call: the scheduler also finds committed jobs in the
        # database, so a report lost in a crash right here delays nothing for long.
        if not progress:
            return
        publisher = self.publisher()
        for event in progress:
            await publisher.send(subjects.progress_subject(event.repo_id), event)
        try:
            await publisher.flush()
        except Exception as exc:  # noqa: BLE001
            self.log.warning("progress.publish_failed", error=type(exc).__name__)

    async def _dead_letter(self, msg: Msg, error: str) -> None:
        self.log.error("message.dead_lettered", subject=msg.subject, error=error[:300])
        self.metrics.messages_applied.labels(service=self.name, outcome="dead_lettered").inc()
        self.metrics.dead_lettered.labels(service=self.name).inc()
        headers = {"Nats-Msg-Id": f"dlq:{msg.headers.get('Nats-Msg-Id', '') if msg.headers else ''}",
                   "Watershed-Error": error[:1000].replace("\n", " ")}
        await self.js.publish(subjects.deadletter_subject(msg.subject), msg.data, headers=headers)
        assert self.pool is not None
        repo_id = None
        parts = msg.subject.split(".")
        if len(parts) > 2 and parts[2].isdigit():
            repo_id = int(parts[2])
        await self.pool.execute(
            "INSERT INTO ops.dead_letters (subject, msg_id, repo_id, error, payload) VALUES ($1, $2, $3, $4, $5)",
            msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), repo_id, error, msg.data,
        )
        await msg.ack()


def create_app(settings: Settings, metrics: Metrics | None = None) -> Processor:
    return Processor(settings, metrics or Metrics())
