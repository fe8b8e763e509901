"""The queue on real NATS and PostgreSQL: dispatch order (urgent, priority, due), the budgets
per tick and in flight, stuck phases dispatched anew, and two scheduler replicas (with two
facade workers) never running one phase of one repository twice at once."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timezone
from pathlib import Path

import asyncpg
import msgspec
import nats
import pytest
from nats.js import api as js_api

from services.facade.app import create_app as create_facade
from services.scheduler.app import create_app as create_scheduler
from shared.events import subjects, v1
from shared.events.jetstream import Publisher
from shared.settings import load_settings
from tests.integration.test_loss import make_history
from tests.integration.test_processor_children import wait_for
from watershed.client import request_collection
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)
# Long enough that the ticks before the stuck check finish first on a loaded machine (at 2 s,
# the second tick re-dispatched the first tick's jobs as stuck under a full test run).
STUCK_S = 8.0


async def publish(nats_url: str, events: list[tuple[str, v1.Struct]]) -> None:
    nc = await nats.connect(nats_url)
    try:
        publisher = Publisher(nc.jetstream())
        for subject, event in events:
            await publisher.send(subject, event)
        await publisher.flush()
    finally:
        await nc.close()


def control(key: object, kind: str) -> str:
    return subjects.event_subject(subjects.SOURCE_CONTROL, key, kind)  # type: ignore[arg-type]


async def by_tick(conn: asyncpg.Connection) -> list[set[str]]:
    """The queued repositories, grouped by the tick that dispatched them (its dispatch time)."""
    rows = await conn.fetch("SELECT r.name, s.dispatched_at FROM ops.collection_status s JOIN data.repos r"
                            " USING (repo_id) WHERE s.state = 'queued' ORDER BY s.dispatched_at")
    ticks: dict[object, set[str]] = {}
    for row in rows:
        ticks.setdefault(row["dispatched_at"], set()).add(row["name"])
    return list(ticks.values())


async def test_dispatch_follows_the_queue_order_within_the_budgets(nats_url: str, fresh_database_url: str,
                                                                   tmp_path: Path) -> None:
    # No worker runs: what is dispatched stays queued, and each tick is called by hand.
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data",
                             facade_allow_local=True, scheduler_tick_s=3600.0, scheduler_batch=3,
                             scheduler_max_in_flight=5, job_stuck_timeout_s=STUCK_S, org_refresh_interval_s=0,
                             breadth_interval_s=0, views_refresh_interval_s=0)
    names = ["d1", "d2", "d3", "v1", "v2", "r5", "p"]
    async with Pipeline(settings, http_port=0, without=frozenset({"scheduler", "facade", "collector"})) as pipeline:
        conn = await asyncpg.connect(fresh_database_url)
        try:
            events: list[tuple[str, v1.Struct]] = [
                (control(subjects.CONTROL_REPO_KEY, "registered"),
                 # GitLab repositories: one phase each (facade), so each one is one entry of the queue.
                 v1.RepoRegistered(url=f"https://gitlab.com/q/{n}", platform="gitlab", host="gitlab.com",
                                   owner="q", name=n, group="vip" if n.startswith("v") else "default"))
                for n in names]
            await publish(nats_url, events)
            await wait_for(conn, "SELECT count(*) FROM data.repos", len(names))
            ids = {r["name"]: r["repo_id"] for r in await conn.fetch("SELECT name, repo_id FROM data.repos")}
            await publish(nats_url, [
                (control(subjects.CONTROL_GROUP_KEY, "settings"), v1.GroupSettingsChanged(group="vip", changed_at=T0,
                                                                                          priority=10)),
                (control(ids["r5"], "settings"), v1.RepoSettingsChanged(repo_id=ids["r5"], changed_at=T0, priority=5)),
                (control(ids["p"], "prioritized"), v1.RepoPrioritized(repo_id=ids["p"], phases=["facade"],
                                                                      at=datetime.now(timezone.utc))),
            ])
            await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE urgent", 1)
            await wait_for(conn, "SELECT count(*) FROM ops.group_settings", 1)
            await wait_for(conn, "SELECT count(*) FROM ops.repo_settings", 1)

            scheduler = create_scheduler(settings, pipeline.metrics)
            started = asyncio.get_running_loop().time()
            await scheduler.start()  # its first tick runs now; its sweep wakes another
            try:
                await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE state = 'queued'", 3)
                # Urgent first, then the group's priority 10, within the batch of 3.
                first = await by_tick(conn)
                assert first[0] == {"p", "v1", "v2"}, first
                assert not await conn.fetchval("SELECT urgent FROM ops.collection_status WHERE repo_id = $1", ids["p"])
                # Asked to collect now, a phase already queued is not dispatched twice: its job is the answer.
                queued_job = await conn.fetchval("SELECT job_id FROM ops.collection_status WHERE repo_id = $1",
                                                 ids["p"])
                reply = await request_collection(nats_url, ["https://gitlab.com/q/p"], dispatch=True)
                assert (reply.targets[0].jobs, reply.targets[0].running) == ({"facade": queued_job}, ["facade"])
                await scheduler.run_pass()  # if the loop has not run its second tick yet
                await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE state = 'queued'", 5)
                # Then the repository's own priority 5, then the earliest registered of the rest; 5 in flight at most.
                assert await by_tick(conn) == [{"p", "v1", "v2"}, {"r5", "d1"}]
                assert await scheduler.run_pass() == 0
                # Nobody runs the jobs: after the stuck timeout they are dispatched anew (batch: 3).
                await asyncio.sleep(max(0.0, STUCK_S + 0.5 - (asyncio.get_running_loop().time() - started)))
                before = dict(await conn.fetch("SELECT repo_id, job_id FROM ops.collection_status"))
                await scheduler.run_pass()
                await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE job_id LIKE '%-stuck'", 3)
                after = dict(await conn.fetch("SELECT repo_id, job_id FROM ops.collection_status"))
                assert sum(before[k] != after[k] for k in before) == 3
                assert await conn.fetchval("SELECT count(*) FROM ops.collection_status WHERE state = 'queued'") == 5
            finally:
                await scheduler.stop()
        finally:
            await conn.close()


async def finished_jobs(nats_url: str) -> list[v1.JobFinished]:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        config = js_api.ConsumerConfig(ack_policy=js_api.AckPolicy.NONE,
                                       filter_subjects=[f"evt.{subjects.SOURCE_GIT}.*.finished"])
        sub = await js.pull_subscribe("", stream=subjects.STAGING, config=config)
        pending = (await sub.consumer_info()).num_pending
        events = []
        while pending > 0:
            msgs = await sub.fetch(min(pending, 500), timeout=5)
            pending -= len(msgs)
            events += [v1.staged_decoder.decode(m.data) for m in msgs]
        return [e for e in events if isinstance(e, v1.JobFinished)]
    finally:
        await nc.close()


async def test_two_schedulers_and_two_workers_never_run_one_phase_twice_at_once(
        nats_url: str, fresh_database_url: str, tmp_path: Path) -> None:
    repos = [make_history(tmp_path / f"r{i}.git", 5 + i) for i in range(10)]
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data",
                             facade_allow_local=True, scheduler_tick_s=0.1, recollect_interval_s=1.0,
                             org_refresh_interval_s=0, breadth_interval_s=0, views_refresh_interval_s=0)
    async with Pipeline(settings, http_port=0) as pipeline:
        second = create_scheduler(settings.replace(data_dir=tmp_path / "data2"), pipeline.metrics)
        worker = create_facade(settings.replace(clones_dir=tmp_path / "clones2"), pipeline.metrics)
        await second.start()
        await worker.start()
        try:
            reply = await request_collection(pipeline.servers.nats_url, [str(r) for r in repos], dispatch=False)
            assert all(t.repo_id for t in reply.targets), reply
            await asyncio.sleep(12)  # every repository is due again a second after each collection
        finally:
            await second.stop()
            await worker.stop()
    jobs = await finished_jobs(nats_url)
    by_repo: dict[int, list[v1.JobFinished]] = {}
    for job in jobs:
        by_repo.setdefault(job.repo_id, []).append(job)
    assert len(by_repo) == len(repos)
    assert min(len({j.job_id for j in js}) for js in by_repo.values()) >= 3, "each repository collected again and again"
    for runs in by_repo.values():
        runs.sort(key=lambda j: j.started_at)  # type: ignore[arg-type, return-value]
        for before, after in itertools.pairwise(runs):
            assert after.started_at >= before.finished_at, msgspec.json.encode([before, after])  # type: ignore[operator]
        assert len({j.job_id for j in runs}) == len(runs), "no job ran twice"
    assert sum(1 for j in jobs if j.error) == 0
