"""Job workers: the common shape of collector, facade, analysis and resolver.

A worker takes one job at a time from its COMMANDS work-queue consumer, runs
it while heartbeating (``in_progress``), publishes the job's facts numbered per
attempt, then a ``JobFinished`` marker, and acks. What happens on failure is
decided by the error taxonomy (``shared.errors.ACTIONS``), nowhere else:

- ack:        the job is over; its marker carries the error (repository gone, bad input)
- retry:      a ``JobRetrying`` note with the attempt's error, then nack with a delay; after
              the last allowed delivery it is reported like ack
- deadletter: a copy goes to the DEADLETTER stream with its error, and it is reported
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime, timedelta, timezone
from typing import Any

from faststream import AckPolicy
from faststream.nats import ConsumerConfig, JStream, NatsMessage, PullSub

from shared.errors import ACTIONS, Action, ErrorKind, FatalError, RateLimitedError, classify
from shared.events import subjects, v1
from shared.events.jetstream import ATTEMPTS_HEADER, ERROR_HEADER, MSG_ID_HEADER, Publisher, chunk_by_size
from shared.forge.http import backoff_delay
from shared.logging import RedactingFilter
from shared.service import Service


class JobContext:
    """What a running job publishes through: numbering, subjects and counting are done here."""

    def __init__(self, job: v1.Job, attempt: int, source: str, publisher: Publisher,
                 redact: Callable[[str], str]) -> None:
        self.job = job
        self.redact = redact
        self.attempt = attempt
        self.source = source
        self.publisher = publisher
        self.seq = 0
        # Forge requests of this attempt: all of them, of which GraphQL, of which 304 (free),
        # and the quota actually charged. A collector sets them; JobFinished carries them.
        self.requests = 0
        self.requests_graphql = 0
        self.not_modified = 0
        self.charged = 0
        self.started_at = datetime.now(timezone.utc)

    def describe(self, error: BaseException, limit: int = 2000) -> str:
        """An error as one line for events, headers and logs: secrets masked before it is cut,
        so no fragment of a token survives the cut."""
        text = self.redact(str(error) or type(error).__name__).replace("\n", " ")
        return text if len(text) <= limit else text[:limit] + "..."

    async def emit(self, event_type: type[v1.JobEvent], kind: str, **fields: Any) -> None:
        event = event_type(repo_id=self.job.repo_id, job_id=self.job.job_id, attempt=self.attempt,
                           seq=self.seq, **fields)
        self.seq += 1
        await self.publisher.send(subjects.event_subject(self.source, self.job.key, kind), event)

    async def emit_items(self, event_type: type[v1.JobEvent], kind: str, items: list[Any], max_items: int = 100) -> None:
        """Publish items in messages small enough for NATS."""
        for chunk in chunk_by_size(items, max_items=max_items):
            await self.emit(event_type, kind, items=chunk)

    def retrying(self, error: BaseException, kind: ErrorKind, retry_at: datetime) -> v1.JobRetrying:
        """The note that this attempt failed and the job will be delivered again."""
        return v1.JobRetrying(repo_id=self.job.repo_id, job_id=self.job.job_id, attempt=self.attempt, seq=self.seq,
                              phase=self.job.phase, error=self.describe(error), error_kind=kind.value,
                              retry_at=retry_at, task=self.job.task)

    def finished(self, error: BaseException | None) -> v1.JobFinished:
        """The job's marker. After a failure only the messages JetStream acknowledged are
        announced: the processor waits for exactly that many (or more, if a cancelled
        publish landed after all)."""
        kind = None if error is None else classify(error).value
        message = None if error is None else self.describe(error)
        return v1.JobFinished(
            repo_id=self.job.repo_id, job_id=self.job.job_id, attempt=self.attempt, seq=self.seq,
            phase=self.job.phase, messages=self.seq if error is None else self.publisher.published,
            requests=self.requests, requests_graphql=self.requests_graphql, not_modified=self.not_modified,
            charged=self.charged, error=message, error_kind=kind,
            started_at=self.started_at, finished_at=datetime.now(timezone.utc), task=self.job.task,
        )


class JobWorker(Service):
    """A service that runs jobs of one phase. Subclasses implement :meth:`run_job`."""

    phase = ""
    source = ""

    def setup(self) -> None:
        settings = self.settings
        self.watched_consumers = ((subjects.COMMANDS, subjects.job_consumer(self.phase)),)
        self._redactor = RedactingFilter(t.reveal() for t in settings.secrets)
        self.broker.subscriber(
            subjects.command_filter(self.phase),
            stream=JStream(subjects.COMMANDS, declare=False),
            durable=subjects.job_consumer(self.phase),
            pull_sub=PullSub(batch_size=1, timeout=1.0),
            ack_policy=AckPolicy.MANUAL,
            # One more delivery than retries allowed, so the last attempt can report its failure.
            config=ConsumerConfig(ack_wait=settings.job_ack_wait_s, max_deliver=settings.job_max_deliver + 1),
        )(self._handle)

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        raise NotImplementedError

    async def _heartbeat(self, msg: NatsMessage) -> None:
        # Long jobs tell JetStream they are alive so the job is not handed to another worker.
        interval = max(1.0, self.settings.job_ack_wait_s / 3)
        while True:
            await asyncio.sleep(interval)
            with suppress(Exception):
                await msg.in_progress()

    async def _handle(self, job: v1.Job, msg: NatsMessage) -> None:
        attempt = int(msg.raw_message.metadata.num_delivered or 1)
        log = self.log.bind(repo=job.url, job=job.job_id, attempt=attempt)
        ctx = JobContext(job, attempt, self.source, self.publisher(), self._redactor.redact)
        beat = asyncio.create_task(self._heartbeat(msg))
        started = time.perf_counter()
        log.info("job.started")
        try:
            await self.run_job(job, ctx)
            await ctx.publisher.flush()
        except asyncio.CancelledError:
            # Shutdown in the middle of a job: hand it back now, so another worker (or this
            # one after a restart) runs it again whole instead of waiting out the ack window.
            await ctx.publisher.close()
            with suppress(Exception):
                await asyncio.shield(msg.nack())
            log.info("job.interrupted")
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            await ctx.publisher.close()
            await self._failed(job, msg, ctx, exc, log)
            return
        finally:
            beat.cancel()
            self.metrics.job_seconds.labels(service=self.name, phase=self.phase).observe(time.perf_counter() - started)
        await self._report(job, ctx.finished(None))
        await msg.ack()
        self.metrics.jobs.labels(service=self.name, phase=self.phase, outcome="ok").inc()
        log.info("job.finished", messages=ctx.seq, requests=ctx.requests)

    async def _failed(self, job: v1.Job, msg: NatsMessage, ctx: JobContext, exc: Exception, log: Any) -> None:
        kind = classify(exc)
        action = ACTIONS[kind]
        last = ctx.attempt >= self.settings.job_max_deliver
        if action is Action.RETRY and not last:
            delay = backoff_delay(ctx.attempt, base=2.0, cap=300.0)
            if isinstance(exc, RateLimitedError) and exc.retry_at is not None:
                delay = max(1.0, (exc.retry_at - datetime.now(timezone.utc)).total_seconds())
            log.warning("job.retry", kind=kind.value, error=ctx.describe(exc, 300), delay=round(delay, 1))
            self.metrics.jobs.labels(service=self.name, phase=self.phase, outcome="retry").inc()
            retry_at = datetime.now(timezone.utc) + timedelta(seconds=delay)
            try:
                await self._report(job, ctx.retrying(exc, kind, retry_at))
            except Exception as note_exc:  # noqa: BLE001 - a lost note delays what the status shows, not the retry
                log.warning("job.retry_note_failed", error=type(note_exc).__name__)
            await msg.nack(delay=delay)
            return
        if action is Action.DEADLETTER or (action is Action.RETRY and last):
            log.error("job.dead_lettered", kind=kind.value, error=ctx.describe(exc, 300))
            self.metrics.dead_lettered.labels(service=self.name).inc()
            await self.js.publish(
                subjects.deadletter_subject(msg.raw_message.subject), msg.raw_message.data,
                headers={MSG_ID_HEADER: f"dlq:{job.job_id}", ERROR_HEADER: f"{kind.value}: {ctx.describe(exc, 900)}",
                         ATTEMPTS_HEADER: str(ctx.attempt)},
            )
        else:
            log.warning("job.failed", kind=kind.value, error=ctx.describe(exc, 300))
        await self._report(job, ctx.finished(exc))
        await msg.ack()
        self.metrics.jobs.labels(service=self.name, phase=self.phase, outcome=kind.value).inc()

    async def _report(self, job: v1.Job, marker: v1.JobFinished | v1.JobRetrying) -> None:
        kind = "finished" if isinstance(marker, v1.JobFinished) else "retrying"
        publisher = self.publisher()
        await publisher.send(subjects.event_subject(self.source, job.key, kind), marker)
        await publisher.flush()



class PendingPhaseWorker(JobWorker):
    """A service whose phase's work does not exist yet (analysis, resolver).

    It runs, consumes its work queue and reports health and metrics, so deployments
    are complete; the scheduler dispatches it nothing. A job that arrives anyway fails
    loudly (dead-lettered with its reason) instead of pretending to succeed.
    """

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        raise FatalError(f"{job.url}: the {self.phase} phase is not implemented in this version")
