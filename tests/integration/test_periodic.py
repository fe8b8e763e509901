"""Periodic work on one replica at a time (a lease in a JetStream key-value bucket, on a real
server: the in-memory test broker has no KV), of two scheduler replicas too, and the processor's
refresh of materialized views."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import nats
import pytest

from services.scheduler.app import create_app as create_scheduler
from services.scheduler.periodic import Lease, Periodic, PeriodicTask, bucket
from shared.db import apply_migrations
from shared.events import subjects, v1
from shared.events.jetstream import Publisher
from shared.logging import get_logger
from shared.metrics import Metrics
from shared.settings import load_settings
from tests.integration.test_processor_children import wait_for
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

TTL = 1.5


async def test_a_lease_has_one_holder_and_lapses_without_renewal(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        kv = await bucket(nc.jetstream(), subjects.LEASES_BUCKET, ttl_s=TTL)
        a, b = Lease(kv, "k", "a", TTL), Lease(kv, "k", "b", TTL)
        assert await a.refresh() and a.held
        assert not await b.refresh() and not b.held
        assert await a.refresh()  # renewed by revision
        assert await a.holder_now() == "a"
        await asyncio.sleep(TTL + 1.2)  # a stops renewing: the key expires
        assert not a.held
        assert await b.refresh() and b.held
        assert not await a.refresh()  # a's revision is stale: it does not take it back
        await b.release()
        assert await a.refresh()
    finally:
        await nc.close()


async def test_two_replicas_run_periodic_work_one_at_a_time(nats_url: str) -> None:
    runs: list[tuple[str, float, float]] = []
    busy: set[str] = set()

    def task(name: str) -> PeriodicTask:
        async def run(slot: int) -> None:
            assert not busy, f"{name} ran while {busy} did"
            busy.add(name)
            started = time.monotonic()
            try:
                await asyncio.sleep(0.05)
            finally:  # a replica stopped mid-run is not running any more
                busy.discard(name)
            runs.append((name, started, time.monotonic()))
        return PeriodicTask("tick", 0.3, run)

    nc1, nc2 = await nats.connect(nats_url), await nats.connect(nats_url)
    log = get_logger("test")
    one = Periodic(nc1.jetstream(), [task("one")], ttl_s=TTL, log=log, holder="one", poll_s=0.05)
    two = Periodic(nc2.jetstream(), [task("two")], ttl_s=TTL, log=log, holder="two", poll_s=0.05)
    try:
        await one.start()
        await two.start()
        await asyncio.sleep(2.0)
        holders = {name for name, _, _ in runs}
        assert len(holders) == 1, runs  # one replica did the work
        leader, follower = (one, two) if holders == {"one"} else (two, one)
        count = len(runs)
        assert count >= 4, runs  # every 0.3 s, the rhythm kept in the bucket
        await leader.stop()  # the holder goes away: the other takes over within the TTL
        await nc1.close() if leader is one else await nc2.close()
        await asyncio.sleep(TTL + 2.0)
        assert {name for name, _, _ in runs[count:]} == {follower.holder}
        intervals = sorted((start, end) for _, start, end in runs)
        assert all(b[0] >= a[1] for a, b in itertools.pairwise(intervals)), "runs never overlap"
    finally:
        await one.stop()
        await two.stop()
        for nc in (nc1, nc2):
            if not nc.is_closed:
                await nc.close()


async def refresh(nats_url: str, run_id: str) -> v1.ViewsRefreshed:
    nc = await nats.connect(nats_url)
    try:
        sub = await nc.subscribe(subjects.progress_subject(subjects.CONTROL_OPS_KEY))
        publisher = Publisher(nc.jetstream())
        await publisher.send(subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_OPS_KEY, "views"),
                             v1.RefreshViews(run_id=run_id, requested_at=datetime.now(timezone.utc)))
        await publisher.flush()
        msg = await sub.next_msg(timeout=30)
        event = v1.progress_decoder.decode(msg.data)
        assert isinstance(event, v1.ViewsRefreshed)
        return event
    finally:
        await nc.close()


async def test_the_processor_refreshes_every_materialized_view(nats_url: str, fresh_database_url: str,
                                                               tmp_path: Path) -> None:
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data")
    async with Pipeline(settings, http_port=0, without=frozenset({"scheduler", "collector", "facade"})):
        shipped_views = await refresh(nats_url, "zero")
        conn = await asyncpg.connect(fresh_database_url)
        try:
            # The migrations' own views (the Augur explorer views) are refreshed, and nothing fails.
            shipped = sorted(f"{r['schemaname']}.{r['matviewname']}" for r in await conn.fetch(
                "SELECT schemaname, matviewname FROM pg_matviews"))
            assert shipped and all(v.startswith("augur_data.") for v in shipped)
            assert (sorted(shipped_views.views), shipped_views.failed) == (shipped, {})
            # As a later migration would: views owned by the migrating role, one with a unique index.
            await conn.execute("CREATE MATERIALIZED VIEW data.repo_count AS SELECT 1 AS k, count(*) AS n FROM data.repos")
            await conn.execute("CREATE UNIQUE INDEX ON data.repo_count (k)")
            await conn.execute("CREATE MATERIALIZED VIEW augur_data.test_repos AS SELECT url FROM data.repos")
            await conn.execute("CREATE MATERIALIZED VIEW public.elsewhere AS SELECT 1 AS x")
            await conn.execute("INSERT INTO data.repos (url, platform, host, repo_group_id) VALUES"
                               " ('https://git.example.org/a/b', 'git', 'git.example.org', 1)")
            some = await refresh(nats_url, "some")
            assert sorted(some.views) == sorted([*shipped, "augur_data.test_repos", "data.repo_count"])
            assert some.failed == {}  # public.elsewhere is not ours: left alone
            assert await conn.fetchval("SELECT n FROM data.repo_count") == 1
            assert await conn.fetchval("SELECT count(*) FROM augur_data.test_repos") == 1
            modes = dict(await conn.fetch("SELECT view_name, concurrent FROM ops.view_refreshes WHERE run_id = 'some'"
                                          " AND view_name IN ('data.repo_count', 'augur_data.test_repos')"))
            assert modes == {"data.repo_count": True, "augur_data.test_repos": False}
            await wait_for(conn, "SELECT count(*) FROM ops.view_refreshes WHERE run_id = 'some'", len(shipped) + 2)
        finally:
            await conn.close()


async def test_of_two_scheduler_replicas_one_runs_the_periodic_work(nats_url: str, fresh_database_url: str,
                                                                     tmp_path: Path) -> None:
    await apply_migrations(fresh_database_url)
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data",
                             leader_ttl_s=TTL, views_refresh_interval_s=0.3, org_refresh_interval_s=0,
                             breadth_interval_s=0, scheduler_tick_s=3600.0)
    first, second = create_scheduler(settings, Metrics()), create_scheduler(settings, Metrics())
    await first.start()
    await second.start()
    stopped = []
    try:
        await asyncio.sleep(2.5)
        runs = {s: s.periodic.runs for s in (first, second)}  # type: ignore[union-attr]
        leader = max(runs, key=runs.__getitem__)
        other = second if leader is first else first
        assert runs[leader] >= 2 and runs[other] == 0, runs  # it looks once a second
        await leader.stop()
        stopped.append(leader)
        await asyncio.sleep(TTL + 2.0)
        assert other.periodic.runs >= 2  # type: ignore[union-attr]
    finally:
        for scheduler in (first, second):
            if scheduler not in stopped:
                await scheduler.stop()
