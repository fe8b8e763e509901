"""The CLI's side of the control plane: requests to the scheduler and the processor, and the
read-only views of the queue, groups and dead letters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import asyncpg
import msgspec
import nats
import nats.errors

from shared.events import subjects, v1
from watershed.client import CliError

T = TypeVar("T")

Progress = Callable[[int, int], None]  # (done, total)


async def request(nats_url: str, subject: str, body: v1.Struct, decoder: msgspec.json.Decoder[T], *,
                  timeout: float = 120.0, who: str = "scheduler") -> T:
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        msg = await nc.request(subject, v1.encoder.encode(body), timeout=timeout)
    except nats.errors.NoRespondersError:
        raise CliError(f"no {who} is listening on {nats_url}; is the stack running?") from None
    except nats.errors.TimeoutError:
        raise CliError(f"the {who} did not answer in time") from None
    finally:
        await nc.close()
    return decoder.decode(msg.data)


async def replay(nats_url: str, body: v1.ReplayRequest, *, timeout: float,
                 on_progress: Callable[[v1.ReplayProgress], None] | None = None) -> v1.ReplayProgress:
    """Ask a processor to replay; its progress comes to our inbox until the last report."""
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        inbox = nc.new_inbox()
        sub = await nc.subscribe(inbox)
        await nc.publish(subjects.CONTROL_REPLAY, v1.encoder.encode(body), reply=inbox)
        deadline = time.monotonic() + timeout
        first = True
        while True:
            # No answer at all soon means no processor listens (a publish has no "no responders").
            wait = 10.0 if first else max(0.1, deadline - time.monotonic())
            try:
                msg = await sub.next_msg(timeout=wait)
            except nats.errors.TimeoutError:
                if first:
                    raise CliError(f"no processor answered on {nats_url}; is the stack running?") from None
                raise CliError(f"timed out after {timeout:.0f}s waiting for the replay") from None
            first = False
            progress = v1.replay_progress_decoder.decode(msg.data)
            if on_progress is not None:
                on_progress(progress)
            if progress.done:
                return progress
    finally:
        await nc.close()


async def wait_for_listing(database_url: str, reply: v1.AddOrgReply, *, timeout: float,
                           on_progress: Progress | None = None) -> dict[int, str]:
    """Until each account's listing is applied, its job failed, or a newer listing replaced it;
    returns the errors of the listings that failed, by source.

    "Newer" is dispatched later than ours: until the processor records our job's dispatch, the
    task's row still shows the listing before it, finished."""
    jobs = {t.source_id: t.job_id for t in reply.targets if t.source_id is not None and t.job_id}
    sent = {t.source_id: t.dispatched_at for t in reply.targets if t.source_id is not None}

    def failed(r: asyncpg.Record) -> bool:
        # Ours, or the newer listing that replaced it: either way the account's latest word.
        return bool(r["state"] == "error" and (r["job_id"] == jobs[r["source_id"]] or replaced(r)))

    def replaced(r: asyncpg.Record) -> bool:
        ours = sent.get(r["source_id"])
        return (r["job_id"] not in (None, jobs[r["source_id"]]) and r["state"] in ("done", "error")
                and (ours is None or (r["dispatched_at"] is not None and r["dispatched_at"] > ours)))

    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            rows = await conn.fetch(
                "SELECT s.source_id, s.listed_job_id, t.job_id, t.state, t.dispatched_at, t.last_error"
                " FROM ops.group_sources s LEFT JOIN ops.task_status t ON t.task = 'account-' || s.source_id"
                " WHERE s.source_id = ANY($1::int[])", list(jobs))
            ended = sum(1 for r in rows if r["listed_job_id"] == jobs[r["source_id"]] or failed(r) or replaced(r))
            if on_progress is not None:
                on_progress(ended, len(jobs))
            if ended >= len(jobs):
                return {r["source_id"]: r["last_error"] or "unknown error" for r in rows if failed(r)}
            if time.monotonic() > deadline:
                raise CliError(f"timed out after {timeout:.0f}s waiting for {len(jobs) - ended} listing(s)")
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


# ------------------------------------------------------------------ read-only views


class QueueLine(msgspec.Struct, kw_only=True):
    url: str
    phase: str
    state: str
    priority: int
    urgent: bool
    due: datetime | None
    failures: int


class QueueView(msgspec.Struct, kw_only=True):
    in_flight: dict[str, int]
    due_now: dict[str, int]
    next: list[QueueLine]


async def queue_view(conn: asyncpg.Connection, limit: int) -> QueueView:
    in_flight = {r["phase"]: r["n"] for r in await conn.fetch(
        "SELECT phase, count(*) AS n FROM ops.collection_status WHERE state IN ('queued', 'collecting', 'retrying')"
        " GROUP BY phase ORDER BY phase")}
    due = {r["phase"]: r["n"] for r in await conn.fetch(
        "SELECT s.phase, count(*) AS n FROM ops.collection_status s JOIN data.repos r USING (repo_id)"
        " WHERE r.state = 'active' AND s.state IN ('new', 'done', 'error') AND s.next_due <= now()"
        " GROUP BY s.phase ORDER BY s.phase")}
    rows = await conn.fetch(
        "SELECT r.url, s.phase, s.state, s.priority, s.urgent, s.next_due, s.failures"
        " FROM ops.collection_status s JOIN data.repos r USING (repo_id)"
        " WHERE r.state = 'active' AND s.state IN ('new', 'done', 'error') AND s.next_due IS NOT NULL"
        " ORDER BY s.urgent DESC, s.priority DESC, s.next_due LIMIT $1", limit)
    return QueueView(in_flight=in_flight, due_now=due, next=[
        QueueLine(url=r["url"], phase=r["phase"], state=r["state"], priority=r["priority"], urgent=r["urgent"],
                  due=r["next_due"], failures=r["failures"]) for r in rows])


class GroupLine(msgspec.Struct, kw_only=True):
    name: str
    repos: int
    active: int
    priority: int | None = None
    recollect_interval_s: float | None = None
    source: str | None = None
    listed_at: datetime | None = None
    last_changes: str | None = None
    listing_state: str | None = None
    listing_error: str | None = None


async def groups_view(conn: asyncpg.Connection) -> list[GroupLine]:
    rows = await conn.fetch(
        "SELECT g.name, gs.priority, gs.recollect_interval_s,"
        " (SELECT count(*) FROM data.repos r WHERE r.repo_group_id = g.repo_group_id) AS repos,"
        " (SELECT count(*) FROM data.repos r WHERE r.repo_group_id = g.repo_group_id AND r.state = 'active') AS active,"
        " s.url AS source, s.listed_at, s.last_changes, t.state AS listing_state,"
        " CASE WHEN t.state IN ('error', 'retrying') THEN t.last_error END AS listing_error"
        " FROM data.repo_groups g LEFT JOIN ops.group_settings gs USING (repo_group_id)"
        " LEFT JOIN ops.group_sources s USING (repo_group_id)"
        " LEFT JOIN ops.task_status t ON t.task = 'account-' || s.source_id"
        " ORDER BY g.name, s.url")
    return [GroupLine(**dict(r)) for r in rows]


class DeadLetterLine(msgspec.Struct, kw_only=True):
    id: int
    kind: str
    repo: str | None
    phase: str | None
    task: str | None
    job_id: str | None
    error: str
    attempts: int | None
    failed_at: datetime
    next_retry: datetime | None = None  # the phase's automatic retry (with backoff), if any
    retried_at: datetime | None = None
    resolved_at: datetime | None = None
    subject: str = ""


async def dead_letters(conn: asyncpg.Connection, *, include_resolved: bool, limit: int) -> list[DeadLetterLine]:
    rows = await conn.fetch(
        "SELECT d.dead_letter_id AS id, coalesce(d.kind, 'message') AS kind, r.url AS repo, d.phase, d.task,"
        " d.job_id, d.error, d.attempts, d.failed_at, d.retried_at, d.resolved_at, d.subject,"
        " CASE WHEN s.state IN ('error', 'retrying') THEN s.next_due END AS next_retry"
        " FROM ops.dead_letters d LEFT JOIN data.repos r ON r.repo_id = d.repo_id"
        " LEFT JOIN ops.collection_status s ON s.repo_id = d.repo_id AND s.phase = d.phase"
        " WHERE $1 OR d.resolved_at IS NULL ORDER BY d.dead_letter_id DESC LIMIT $2", include_resolved, limit)
    return [DeadLetterLine(**dict(r)) for r in rows]


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)
