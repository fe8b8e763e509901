"""The processor on a job attempt that failed and will be retried: the status shows the error at
once, the next attempt's marker replaces it, and a late note never undoes a finished job."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import nats
import pytest

from services.processor.app import create_app
from shared.db import apply_migrations
from shared.events import v1
from shared.events.jetstream import ensure_streams
from shared.metrics import Metrics
from shared.settings import load_settings
from tests.integration.test_processor_children import T0, publish, wait_for

pytestmark = pytest.mark.integration

STATUS = "SELECT state, attempt, last_error, error_kind, next_due FROM ops.collection_status WHERE job_id = 'j1'"


def retrying(attempt: int, seq: int = 0) -> v1.JobRetrying:
    return v1.JobRetrying(repo_id=1, job_id="j1", attempt=attempt, seq=seq, phase="facade",
                          error="git fetch: could not resolve host h.example", error_kind="transient",
                          retry_at=T0 + timedelta(seconds=attempt))


async def test_retrying_shows_the_attempt_error_until_the_next_marker(nats_url: str, fresh_database_url: str,
                                                                      tmp_path: Path) -> None:
    await apply_migrations(fresh_database_url)
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path)
    processor = create_app(settings, Metrics())
    await processor.start()
    nc = await nats.connect(nats_url)
    conn = await asyncpg.connect(fresh_database_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        await publish(js, [v1.RepoRegistered(url="https://h.example/acme/app.git", platform="git",
                                             host="h.example", owner="acme", name="app")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 1)
        await publish(js, [v1.JobDispatched(repo_id=1, phase="facade", job_id="j1", dispatched_at=T0), retrying(1)])
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE job_id = 'j1'", "retrying")
        assert dict(await conn.fetchrow(STATUS)) == {
            "state": "retrying", "attempt": 1, "last_error": "git fetch: could not resolve host h.example",
            "error_kind": "transient", "next_due": T0 + timedelta(seconds=1)}
        assert await conn.fetchval("SELECT count(*) FROM ops.job_messages") == 0  # a note, not a data message

        await publish(js, [v1.JobFinished(repo_id=1, job_id="j1", attempt=2, seq=0, phase="facade", messages=0)])
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE job_id = 'j1'", "committed")
        assert (await conn.fetchrow(STATUS))["error_kind"] is None  # the second attempt succeeded

        # The first attempt's note, arriving late (another copy): the finished job stays finished.
        await publish(js, [retrying(1, seq=5), v1.RepoRegistered(url="https://h.example/acme/other.git",
                                                                 platform="git", host="h.example")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 2)
        assert (await conn.fetchrow(STATUS))["state"] == "committed"
        assert await conn.fetchval("SELECT state FROM data.repos WHERE repo_id = 1") == "active"
    finally:
        await conn.close()
        await nc.close()
        await processor.stop()
