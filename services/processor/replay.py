"""Replay: the staged events of some repositories (or all) applied again, to rebuild their rows.

The database is a projection of the STAGING stream; a replay reads it again through its own
ephemeral consumer, filtered on the repositories' subjects (``subjects.repo_events_filter``:
one repository's replay reads no other repository's events) and optionally from a start
time. It is requested over core NATS (``watershed replay``) and reports its progress to the
requester's inbox.

What a replay applies, and what it leaves alone:

- the repository's identity first (``RepoIdentified``: its row, under its id, when gone),
  then its facts, as the live path does: upserts keyed by platform ids that only ever move
  to a newer version, so replaying over existing rows changes nothing;
- queue settings and group sources (newer wins, so an old event undoes nothing);
- never the bookkeeping of jobs: dispatches, markers and decisions are history, and
  ``ops.job_messages`` of finished jobs is long cleared; applying them again would regress
  the status of the jobs running now. Facts are applied without claiming them;
- cursors only for a repository that has none (rebuilt from nothing): those of the last
  job the replay saw complete, so the next collection is incremental again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from services.processor import activity, control, tasks
from services.processor.batch import apply_facts
from services.processor.store import Statements
from shared.affiliations import Matcher
from shared.events import subjects, v1

if TYPE_CHECKING:
    from services.processor.app import Processor

REPORT_EVERY_S = 0.25
FETCH_TIMEOUT_S = 1.0
Report = Callable[[v1.ReplayProgress], Awaitable[None]]


@dataclass
class Cursors:
    """Cursors seen in a replay, kept for the repositories rebuilt from nothing: a job's cursors
    count once its marker says it succeeded."""

    rebuild: set[int]
    pending: dict[str, list[v1.CursorObserved]] = field(default_factory=dict)
    latest: dict[tuple[int, str], v1.CursorObserved] = field(default_factory=dict)

    def see(self, events: list[v1.StagedEvent]) -> None:
        for e in events:
            if isinstance(e, v1.CursorObserved) and not e.checkpoint and e.repo_id in self.rebuild:
                self.pending.setdefault(e.job_id, []).append(e)
            elif isinstance(e, v1.JobFinished) and not e.task:
                seen = self.pending.pop(e.job_id, [])
                if e.error_kind is None:
                    self.latest.update(((c.repo_id, c.stream), c) for c in seen)

    async def save(self, conn: asyncpg.Connection) -> None:
        if self.latest:
            await conn.executemany(
                "INSERT INTO ops.cursors (repo_id, stream, value, etag) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (repo_id, stream) DO UPDATE SET value = excluded.value, etag = excluded.etag,"
                " updated_at = now()",
                [(c.repo_id, c.stream, c.value, c.etag) for c in self.latest.values()])


async def apply_replayed(conn: asyncpg.Connection, sql: Statements, events: list[v1.StagedEvent],
                         cursors: Cursors, affiliations: Matcher | None = None) -> int:
    """One batch of a replay inside the caller's transaction; returns rows written."""
    await control.restore_repos(conn, [e for e in events if isinstance(e, v1.RepoIdentified)])
    await control.record_sources(conn, [e for e in events if isinstance(e, v1.GroupSourceAdded)])
    await control.record_group_settings(conn, [e for e in events if isinstance(e, v1.GroupSettingsChanged)])
    await control.record_repo_settings(conn, [e for e in events if isinstance(e, v1.RepoSettingsChanged)])
    facts = [e for e in events if isinstance(e, v1.JobEvent) and not isinstance(
        e, (v1.JobFinished, v1.JobRetrying, v1.CursorObserved, *v1.TASK_EVENTS))]
    # The processor's affiliation mappings, as on the live path: a rebuilt commit row is the same row.
    written = (await apply_facts(conn, sql, facts, affiliations)).written
    # The commits' aggregates follow them (the live path refreshes them when a facade job commits).
    committed = {e.repo_id for e in facts if isinstance(e, (v1.CommitsObserved, v1.CommitsRetracted))}
    written.update(await activity.refresh(conn, committed))
    contributed = await tasks.apply_activity(
        conn, [e for e in events if isinstance(e, v1.ContributorActivityObserved)])
    cursors.see(events)
    await cursors.save(conn)
    return sum(written.values()) + contributed


@dataclass
class Plan:
    """What one replay reads: a target's repository and the subjects of its consumer."""

    target: v1.ReplayTarget
    filters: list[str]
    sub: JetStreamContext.PullSubscription | None = None
    total: int = 0


class Replayer:
    """Serves replay requests for a processor: one background task per request."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, msg: Msg) -> None:
        try:
            request = v1.replay_request_decoder.decode(msg.data)
        except msgspec.DecodeError as exc:
            await self._send(msg.reply, v1.ReplayProgress(done=True, error=f"bad replay request: {exc}"))
            return

        async def report(progress: v1.ReplayProgress) -> None:
            await self._send(msg.reply, progress)

        task = asyncio.create_task(self._serve(request, report), name="processor-replay")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with suppress(asyncio.CancelledError, Exception):
                await task

    async def _send(self, inbox: str | None, progress: v1.ReplayProgress) -> None:
        if inbox:
            with suppress(Exception):  # a requester that went away does not stop the replay
                await self.processor.broker.connection.publish(inbox, v1.encoder.encode(progress))

    async def _serve(self, request: v1.ReplayRequest, report: Report) -> None:
        log = self.processor.log.bind(replay=",".join(request.urls) or "all")
        log.info("replay.started", since=str(request.since or ""))
        try:
            result = await self.run(request, report)
        except Exception as exc:  # noqa: BLE001 - reported to the requester, and logged
            log.exception("replay.failed")
            await report(v1.ReplayProgress(done=True, error=f"{type(exc).__name__}: {exc}"[:500]))
            return
        log.info("replay.finished", messages=result.messages_done)
        await report(result)

    async def run(self, request: v1.ReplayRequest, report: Report) -> v1.ReplayProgress:
        plans = await self._plan(request)
        js = self.processor.js
        progress = v1.ReplayProgress(repos=[p.target for p in plans])
        try:
            for plan in plans:
                if plan.target.error is None:
                    plan.sub = await js.pull_subscribe("", stream=subjects.STAGING,
                                                       config=_consumer(plan.filters, request.since))
                    plan.total = (await plan.sub.consumer_info()).num_pending or 0
                    plan.target = _replace(plan.target, messages=plan.total)
            progress = v1.ReplayProgress(messages_total=sum(p.total for p in plans), repos=[p.target for p in plans])
            await report(progress)
            done = 0
            for plan in plans:
                if plan.sub is not None:
                    done = await self._drain(plan, done, progress, report)
        finally:
            for plan in plans:
                if plan.sub is not None:
                    with suppress(Exception):
                        await plan.sub.unsubscribe()
        return v1.ReplayProgress(messages_total=progress.messages_total, messages_done=done,
                                 repos=[p.target for p in plans], done=True)

    async def _plan(self, request: v1.ReplayRequest) -> list[Plan]:
        """Targets with their filters; every repository's identity is applied before its facts."""
        if not request.urls:
            await self._restore_all_identities()
            target = v1.ReplayTarget(input="all")
            return [Plan(target, list(subjects.STAGING_SUBJECTS))]
        plans = []
        for url in request.urls:
            target = await self._resolve(url)
            plans.append(Plan(target, subjects.repo_events_filter(target.repo_id) if target.repo_id else []))
        return plans

    async def _resolve(self, url: str) -> v1.ReplayTarget:
        pool = self.processor._pool()
        repo_id = await pool.fetchval("SELECT repo_id FROM data.repos WHERE url = $1", url)
        identity = None
        if repo_id is None:
            identity = await self._find_identity(url)
            if identity is None:
                return v1.ReplayTarget(input=url, url=url, error="unknown repository: no row and no identity"
                                                                   " recorded in the stream")
            repo_id = identity.repo_id
        else:
            identity = await self._identity(repo_id)
        if identity is not None:
            async with pool.acquire() as conn, conn.transaction():
                await control.restore_repos(conn, [identity])
        return v1.ReplayTarget(input=url, url=url, repo_id=repo_id)

    async def _identity(self, repo_id: int) -> v1.RepoIdentified | None:
        try:
            raw = await self.processor.js.get_last_msg(subjects.STAGING, subjects.identity_subject(repo_id))
        except NotFoundError:
            return None
        event = v1.staged_decoder.decode(raw.data or b"")
        return event if isinstance(event, v1.RepoIdentified) else None

    async def _identities(self) -> list[v1.RepoIdentified]:
        """Every repository's latest identity (one message per repository subject)."""
        config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE, filter_subjects=[subjects.IDENTITIES_FILTER],
                                       deliver_policy=js_api.DeliverPolicy.LAST_PER_SUBJECT, inactive_threshold=60.0)
        sub = await self.processor.js.pull_subscribe("", stream=subjects.STAGING, config=config)
        found: list[v1.RepoIdentified] = []
        try:
            pending = (await sub.consumer_info()).num_pending or 0
            while pending > 0:
                msgs = await sub.fetch(min(pending, 1000), timeout=FETCH_TIMEOUT_S)
                pending -= len(msgs)
                found.extend(e for m in msgs if isinstance(e := v1.staged_decoder.decode(m.data), v1.RepoIdentified))
        except (nats.errors.TimeoutError, asyncio.TimeoutError):
            pass
        finally:
            with suppress(Exception):
                await sub.unsubscribe()
        return found

    async def _find_identity(self, url: str) -> v1.RepoIdentified | None:
        return next((e for e in await self._identities() if e.url == url), None)

    async def _restore_all_identities(self) -> None:
        found = await self._identities()
        pool = self.processor._pool()
        for start in range(0, len(found), 1000):
            async with pool.acquire() as conn, conn.transaction():
                await control.restore_repos(conn, found[start:start + 1000])

    async def _drain(self, plan: Plan, done: int, progress: v1.ReplayProgress, report: Report) -> int:
        """Apply the plan's messages until its consumer has nothing left; returns messages done."""
        processor = self.processor
        pool = processor._pool()
        async with pool.acquire() as conn:
            rebuild = await conn.fetch(
                "SELECT repo_id FROM data.repos r WHERE ($1::int IS NULL OR repo_id = $1)"
                " AND NOT EXISTS (SELECT 1 FROM ops.cursors c WHERE c.repo_id = r.repo_id)", plan.target.repo_id)
        cursors = Cursors({r["repo_id"] for r in rebuild})
        left, reported = plan.total, 0.0
        sub = plan.sub
        assert sub is not None
        while left > 0:
            try:
                msgs = await sub.fetch(min(left, processor.settings.processor_batch),
                                       timeout=FETCH_TIMEOUT_S)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                break  # fewer than counted: the stream's retention removed some meanwhile
            events = []
            for m in msgs:
                with suppress(msgspec.DecodeError):  # the live path dead-lettered it already
                    events.append(v1.staged_decoder.decode(m.data))
            async with pool.acquire() as conn, conn.transaction():
                await apply_replayed(conn, processor.sql, events, cursors, processor.affiliations)
            left -= len(msgs)
            done += len(msgs)
            if time.monotonic() - reported > REPORT_EVERY_S:
                reported = time.monotonic()
                await report(v1.ReplayProgress(messages_total=progress.messages_total, messages_done=done,
                                               repos=progress.repos))
        return done


def _consumer(filters: list[str], since: datetime | None) -> js_api.ConsumerConfig:
    config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE, filter_subjects=filters,
                                   inactive_threshold=60.0, mem_storage=True)
    if since is not None:
        config.deliver_policy = js_api.DeliverPolicy.BY_START_TIME
        config.opt_start_time = since
    else:
        config.deliver_policy = js_api.DeliverPolicy.ALL
    return config


def _replace(target: v1.ReplayTarget, **changes: object) -> v1.ReplayTarget:
    return msgspec.structs.replace(target, **changes)
