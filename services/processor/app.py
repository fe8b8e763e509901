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
from collections.abc import Iterator, Sequence
from typing import Any

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import api as js_api

from services.processor import activity, affiliations, control, deadletters
from services.processor.batch import apply_batch
from services.processor.replay import Replayer
from services.processor.store import Statements
from services.processor.views import ViewRefresher
from shared.affiliations import Matcher, default_mappings, merge
from shared.db import Role, connect_pool
from shared.events import subjects, v1
from shared.events.jetstream import ATTEMPTS_HEADER, ERROR_HEADER, MSG_ID_HEADER
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
        self._loop_task: asyncio.Task[None] | None = None
        self._dlq_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # The effective mappings: the shipped list with the user's file over it.
        self.mappings = merge(default_mappings(), settings.affiliations)
        self.affiliations = Matcher(self.mappings)
        self.views = ViewRefresher(self._pool, self._report_views, self.log)
        self.replayer = Replayer(self)

    def _pool(self) -> asyncpg.Pool:
        assert self.pool is not None
        return self.pool

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
        await self.js.add_consumer(subjects.DEADLETTER, js_api.ConsumerConfig(
            durable_name=subjects.PROCESSOR_DEADLETTER_CONSUMER, ack_policy=js_api.AckPolicy.EXPLICIT,
            ack_wait=self.settings.processor_ack_wait_s, max_deliver=-1, filter_subject="dlq.>"))
        self._dlq_sub = await self.js.pull_subscribe_bind(subjects.PROCESSOR_DEADLETTER_CONSUMER, subjects.DEADLETTER)
        self._loop_task = asyncio.create_task(self._consume(), name="processor-consume")
        self._dlq_task = asyncio.create_task(self._consume_dead_letters(), name="processor-deadletters")
        # One processor replica serves each replay request.
        self._replay_sub = await self.broker.connection.subscribe(
            subjects.CONTROL_REPLAY, queue=subjects.PROCESSOR_QUEUE_GROUP, cb=self.replayer.handle)

    async def on_stopping(self) -> None:
        self._stopping.set()
        with contextlib.suppress(Exception):
            await self._replay_sub.unsubscribe()
        await self.replayer.close()
        for task in (self._loop_task, self._dlq_task):
            if task is None:
                continue
            # The loop finishes the batch in hand (commit + ack) before it looks at the flag.
            try:
                await asyncio.wait_for(task, timeout=60)
            except asyncio.TimeoutError:
                task.cancel()
        await self.views.close()
        for sub in (self._sub, self._dlq_sub):
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def on_stop(self) -> None:
        if self.pool is not None:
            await self.pool.close()

    def healthy(self) -> bool:
        return all(t is None or not t.done() for t in (self._loop_task, self._dlq_task))

    async def _fetch(self, sub: Any, batch: int, timeout: float, failed: str) -> list[Msg]:
        """The next messages of a consumer; none after a timeout, or (after a pause) a failure."""
        try:
            return await sub.fetch(batch, timeout=timeout)  # type: ignore[no-any-return]
        # nats-py raises its own TimeoutError, or asyncio's from deep inside fetch.
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            return []
        except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
            if not self._stopping.is_set():
                await asyncio.sleep(0.5)
            return []
        except Exception:  # noqa: BLE001 - e.g. a consumer deleted under us: say so, keep trying
            self.log.exception(failed)
            await asyncio.sleep(1.0)
            return []

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
            msgs = await self._fetch(self._sub, batch, 0.25, "fetch.failed")
            if not msgs:
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
                    # Acked by the dead-lettering; a second ack would raise and abandon the batch.
                    await self._dead_letter(decoded[0].msg, f"{type(exc).__name__}: {exc}")
                    return
                for one in decoded:
                    await self.handle_batch([one.msg])
                return
        await asyncio.gather(*(d.msg.ack() for d in decoded))

    async def _apply(self, batch: list[Decoded]) -> None:
        started = time.perf_counter()
        assert self.pool is not None
        async with self.pool.acquire() as conn, conn.transaction():
            result = await apply_batch(conn, self.sql, [d.event for d in batch], self.affiliations)
        for entity, count in result.written.items():
            self.metrics.rows_written.labels(service=self.name, entity=entity).inc(count)
        self.metrics.messages_applied.labels(service=self.name, outcome="applied").inc(len(batch))
        self.metrics.batch_seconds.labels(service=self.name).observe(time.perf_counter() - started)
        # Before the batch is acked: a crash here redelivers the registrations, which publish
        # the identities again (the same message ids).
        await self._identify(result.identify)
        for run_id in result.views:
            self.views.request(run_id)
        await self._report(result.progress)

    async def _identify(self, repo_ids: list[int]) -> None:
        """Put the ids given to repositories into the stream, on each repository's subjects."""
        if not repo_ids:
            return
        assert self.pool is not None
        async with self.pool.acquire() as conn:
            facts = await control.identities(conn, repo_ids)
        publisher = self.publisher()
        for fact in facts:
            await publisher.send(subjects.identity_subject(fact.repo_id), fact)
        await publisher.flush()

    async def _report_views(self, result: v1.ViewsRefreshed) -> None:
        await self._report([result])

    async def _report(self, progress: Sequence[v1.ProgressEvent]) -> None:
        # Progress is a wake-up call: the scheduler also finds committed jobs in the
        # database, so a report lost in a crash right here delays nothing for long.
        if not progress:
            return
        publisher = self.publisher()
        for event in progress:
            await publisher.send(subjects.progress_subject(_progress_key(event)), event)
        try:
            await publisher.flush()
        except Exception as exc:  # noqa: BLE001
            self.log.warning("progress.publish_failed", error=f"{type(exc).__name__}: {exc}"[:300])

    async def _dead_letter(self, msg: Msg, error: str) -> None:
        """Hand a message that cannot be applied to the DEADLETTER stream (the dead-letter
        consumer records it) and let the batch go on without it."""
        self.log.error("message.dead_lettered", subject=msg.subject, error=error[:300])
        self.metrics.messages_applied.labels(service=self.name, outcome="dead_lettered").inc()
        self.metrics.dead_lettered.labels(service=self.name).inc()
        original = (msg.headers or {}).get(MSG_ID_HEADER) or f"{msg.subject}@{msg.metadata.sequence.stream}"
        headers = {MSG_ID_HEADER: f"dlq:{original}",
                   ERROR_HEADER: error[:1000].replace("\n", " "),
                   ATTEMPTS_HEADER: str(msg.metadata.num_delivered or 1)}
        await self.js.publish(subjects.deadletter_subject(msg.subject), msg.data, headers=headers)
        await msg.ack()

    async def _consume_dead_letters(self) -> None:
        while not self._stopping.is_set():
            msgs = await self._fetch(self._dlq_sub, 100, 1.0, "deadletters.fetch_failed")
            if not msgs:
                continue
            letters = [deadletters.describe(m.subject, m.headers, m.data, m.metadata.sequence.stream) for m in msgs]
            try:
                assert self.pool is not None
                async with self.pool.acquire() as conn, conn.transaction():
                    new = await deadletters.record(conn, letters)
            except Exception:  # noqa: BLE001 - unacked: redelivered and recorded later
                self.log.exception("deadletters.record_failed", size=len(letters))
                await asyncio.sleep(1.0)
                continue
            if new:
                self.log.info("deadletters.recorded", count=new)
            await asyncio.gather(*(m.ack() for m in msgs))


def _progress_key(event: v1.ProgressEvent) -> int | str:
    if isinstance(event, v1.AccountSynced):
        return f"source-{event.source_id}"
    if isinstance(event, v1.ViewsRefreshed):
        return subjects.CONTROL_OPS_KEY
    return event.repo_id


def create_app(settings: Settings, metrics: Metrics | None = None) -> Processor:
    return Processor(settings, metrics or Metrics())
