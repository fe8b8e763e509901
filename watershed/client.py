"""The CLI's side of the pipeline: find (or start) a stack, ask the scheduler, wait for rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

import asyncpg
import nats
import nats.errors

from shared.embedded.stack import discover_running
from shared.errors import WatershedError
from shared.events import subjects, v1
from shared.settings import Settings
from watershed.pipeline import Pipeline
from watershed.report import RETRYING, RepoReport, repo_report

TERMINAL = ("done", "error")


class CliError(Exception):
    """One clear line for the user; the command exits non-zero."""


@dataclass
class Endpoints:
    nats_url: str
    database_url: str
    http_url: str | None
    pipeline: Pipeline | None  # set when this process started the stack


@asynccontextmanager
async def connect_stack(settings: Settings, *, start_if_missing: bool = True) -> AsyncIterator[Endpoints]:
    """Services already running (on the configured servers, or the stack of the data dir);
    otherwise the six services in this process, on the configured servers or embedded ones."""
    if settings.nats_url and settings.database_url:
        if await scheduler_answers(settings.nats_url):
            yield Endpoints(settings.nats_url, settings.database_url, None, None)
            return
    else:
        running = discover_running(settings.data_dir)
        if running is not None:
            yield Endpoints(running.nats_url, running.database_url, running.http_url, None)
            return
    if not start_if_missing:
        raise CliError(f"no Watershed stack is running in {settings.data_dir} (start one with `watershed up`)")
    pipeline = Pipeline(settings, http_port=0)
    await pipeline.start()
    try:
        yield Endpoints(pipeline.servers.nats_url, pipeline.servers.database_url, pipeline.http_url, pipeline)
    finally:
        await pipeline.stop()


async def scheduler_answers(nats_url: str) -> bool:
    """Whether a scheduler listens on this NATS (an empty request registers nothing)."""
    try:
        nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's to see
        raise CliError(f"cannot connect to NATS at {nats_url}: {exc or type(exc).__name__}") from None
    try:
        await nc.request(subjects.CONTROL_COLLECT, v1.encoder.encode(v1.CollectRequest(urls=[], dispatch=False)),
                         timeout=10)
        return True
    except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
        return False
    finally:
        await nc.close()


def validate_urls(settings: Settings, urls: list[str]) -> list[str]:
    """Refuse malformed input before anything starts; returns one error line per bad URL."""
    errors = []
    for url in urls:
        try:
            settings.repo_ref(url)
        except WatershedError as exc:
            errors.append(str(exc))
    return errors


async def request_collection(nats_url: str, urls: list[str], *, dispatch: bool, full: bool = False,
                             timeout: float = 120.0, group: str = "default") -> v1.CollectReply:
    nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=3)
    try:
        request = v1.CollectRequest(urls=urls, dispatch=dispatch, full=full, group=group)
        msg = await nc.request(subjects.CONTROL_COLLECT, v1.encoder.encode(request), timeout=timeout)
    except nats.errors.NoRespondersError:
        raise CliError(f"no scheduler is listening on {nats_url}; is the stack running?") from None
    except nats.errors.TimeoutError:
        raise CliError("the scheduler did not answer in time") from None
    finally:
        await nc.close()
    return v1.collect_reply_decoder.decode(msg.data)


async def wait_for_jobs(database_url: str, reply: v1.CollectReply, *, timeout: float,
                        requested_at: datetime | None = None, until_retry: bool = False,
                        on_progress: Callable[[int, int], None] | None = None) -> None:
    """Until every job of the reply has ended (done or error) in ops.collection_status.

    With ``until_retry`` a job whose attempt failed and waits for a retry ('retrying') counts as
    ended too: a person waiting at a terminal learns the error now, not after every retry and its
    backoff (a rate limit may be an hour away); the retry still runs in the stack."""
    ended = (*TERMINAL, RETRYING) if until_retry else TERMINAL
    requested_at = requested_at or reply.requested_at or datetime.max.replace(tzinfo=timezone.utc)
    pending = {(t.repo_id, phase): job for t in reply.targets if t.repo_id is not None for phase, job in t.jobs.items()}
    total = len(pending)
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(database_url)
    try:
        repo_ids = list({repo_id for repo_id, _ in pending})
        while True:
            rows = await conn.fetch(
                "SELECT repo_id, phase, job_id, state, dispatched_at, next_due <= now() AS due_again"
                " FROM ops.collection_status WHERE repo_id = ANY($1::int[])", repo_ids)
            # Judged on one snapshot each time: a phase that ended may be made due again at once by
            # a later commit of another phase (the resolver, when the facade brings new emails);
            # then its next job is what the rows wait for.
            finished: set[tuple[int, str]] = set()
            for row in rows:
                key = (row["repo_id"], row["phase"])
                if key not in pending or row["state"] not in ended or row["due_again"]:
                    continue
                # Another job of the same phase dispatched after our request may have replaced
                # ours in the status row; once it has ended, the rows are as fresh as ours.
                newer = row["dispatched_at"] is not None and row["dispatched_at"] >= requested_at
                if row["job_id"] == pending[key] or newer:
                    finished.add(key)
            if on_progress is not None:
                on_progress(len(finished), total)
            if len(finished) == total:
                return
            if time.monotonic() > deadline:
                raise CliError(f"timed out after {timeout:.0f}s waiting for {total - len(finished)} job(s) to finish")
            await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def collect(settings: Settings, urls: list[str], *, timeout: float, full: bool = False,
                  on_progress: Callable[[int, int], None] | None = None) -> tuple[list[RepoReport], float]:
    started = time.monotonic()
    async with connect_stack(settings) as ends:
        requested_at = datetime.now(timezone.utc)
        reply = await request_collection(ends.nats_url, urls, dispatch=True, full=full)
        await wait_for_jobs(ends.database_url, reply, timeout=timeout, requested_at=requested_at, until_retry=True,
                            on_progress=on_progress)
        reports = await reports_for(ends.database_url, reply)
    return reports, time.monotonic() - started


async def reports_for(database_url: str, reply: v1.CollectReply) -> list[RepoReport]:
    conn = await asyncpg.connect(database_url)
    try:
        reports = []
        for target in reply.targets:
            if target.repo_id is None:
                reports.append(RepoReport(url=target.url or target.input, error=target.error))
            else:
                report = await repo_report(conn, target.repo_id)
                report.running = list(target.running)
                reports.append(report)
        return reports
    finally:
        await conn.close()
