"""The processor on retracted commits and clone states: rows go in stream order, and a
retraction applied twice, or a replay of the repository's facade events, changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import nats
import pytest

from services.processor.app import create_app
from shared.db import apply_migrations
from shared.events import subjects, v1
from shared.events.jetstream import Publisher, ensure_streams
from shared.metrics import Metrics
from shared.settings import load_settings
from tests.integration.test_processor_children import wait_for

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
C1, C2, C3, C4, C5, C6 = (ch * 40 for ch in "123456")


def commit(sha: str, *paths: str) -> v1.Commit:
    return v1.Commit(sha=sha, author_name="Dev", author_email="dev@example.org", author_date=T0, message=sha[:6],
                     files=[v1.FileChange(path=p, added=1, deleted=0) for p in paths])


def job(job_id: str, facts: list[dict[str, object]], *, attempt: int = 1) -> list[v1.Struct]:
    """A facade job: its facts numbered, then its marker."""
    ids = {"repo_id": 1, "job_id": job_id, "attempt": attempt}
    events: list[v1.Struct] = [v1.JobDispatched(repo_id=1, phase="facade", job_id=job_id, dispatched_at=T0)]
    for seq, fact in enumerate(facts):
        kind = fact.pop("kind")
        events.append(kind(**ids, seq=seq, **fact))  # type: ignore[operator]
    events.append(v1.JobFinished(**ids, seq=len(facts), phase="facade", messages=len(facts)))
    return events


def observed(*commits: v1.Commit) -> dict[str, object]:
    return {"kind": v1.CommitsObserved, "items": list(commits)}


def retracted(*shas: str) -> dict[str, object]:
    return {"kind": v1.CommitsRetracted, "shas": list(shas)}


async def publish(js: object, events: list[v1.Struct]) -> None:
    publisher = Publisher(js)  # type: ignore[arg-type]
    for event in events:
        repo = getattr(event, "repo_id", subjects.CONTROL_REPO_KEY)
        await publisher.send(subjects.event_subject(subjects.SOURCE_GIT, repo, "x"), event)
    await publisher.flush()


async def rows(conn: asyncpg.Connection) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    commits = {tuple(r) for r in await conn.fetch(
        "SELECT c.xmin::text, c.commit_id, c.sha, m.message FROM data.commits c"
        " LEFT JOIN data.commit_messages m USING (repo_id, sha)")}
    files = {tuple(r) for r in await conn.fetch("SELECT xmin::text, sha, path FROM data.commit_files")}
    return commits, files


async def committed(conn: asyncpg.Connection, job_id: str) -> None:
    await wait_for(conn, f"SELECT state FROM ops.collection_status WHERE job_id = '{job_id}'", "committed")


async def test_retractions_land_in_order_and_replays_change_nothing(nats_url: str, fresh_database_url: str,
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
        await publish(js, [v1.RepoRegistered(url="https://git.example.org/app.git", platform="git",
                                             host="git.example.org")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 1)

        history = [
            ("j1", [observed(commit(C1, "a"), commit(C2, "b", "c"), commit(C3, "a"))]),
            # A force-push: C2 and C3 left the history, C4 came.
            ("j2", [retracted(C2, C3), observed(commit(C4, "d"))]),
            # Order within a job (and a batch): C5 seen then gone, C6 gone then seen again.
            ("j3", [observed(commit(C5, "e")), retracted(C5, C6), observed(commit(C6, "f"))]),
        ]
        for job_id, facts in history:
            await publish(js, job(job_id, [dict(f) for f in facts]))
            await committed(conn, job_id)
        assert {r[2] for r in (await rows(conn))[0]} == {C1, C4, C6}
        assert {(r[1], r[2]) for r in (await rows(conn))[1]} == {(C1, "a"), (C4, "d"), (C6, "f")}
        before = await rows(conn)

        # The retracting job again, as another attempt (redelivered to a new worker): nothing changes.
        await publish(js, job("j2", [dict(f) for f in history[1][1]], attempt=2))
        await wait_for(conn, "SELECT attempt FROM ops.collection_status WHERE job_id = 'j2'", 2)
        await committed(conn, "j2")
        assert await rows(conn) == before

        # A replay of the repository's facade events, in order, as new jobs: the same rows. C1
        # and C4 are not even rewritten (xmin, id); C2, C3 and C5 come and go again, and so
        # does C6 (retracted before it is seen again): same content, a new row.
        for job_id, facts in history:
            await publish(js, job(f"{job_id}-replay", [dict(f) for f in facts]))
            await committed(conn, f"{job_id}-replay")
        after = await rows(conn)
        assert {r[2:] for r in after[0]} == {r[2:] for r in before[0]}
        assert {r[1:] for r in after[1]} == {r[1:] for r in before[1]}
        assert {r for r in after[0] if r[2] in (C1, C4)} == {r for r in before[0] if r[2] in (C1, C4)}
    finally:
        await conn.close()
        await nc.close()
        await processor.stop()


async def test_clone_state_keeps_the_latest_observation(nats_url: str, fresh_database_url: str,
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
        await publish(js, [v1.RepoRegistered(url="https://git.example.org/app.git", platform="git",
                                             host="git.example.org")])
        await wait_for(conn, "SELECT count(*) FROM data.repos", 1)
        synced = {"kind": v1.CloneObserved, "state": "ok", "observed_at": T0, "default_branch": "main",
                  "head_sha": C1, "branches": 2, "tracked": 1, "disk_bytes": 4096}
        unreachable = {"kind": v1.CloneObserved, "state": "unreachable", "observed_at": T0 + timedelta(hours=1),
                       "error": "git fetch: could not resolve host git.example.org"}
        await publish(js, job("j1", [dict(synced)]))
        await committed(conn, "j1")
        await publish(js, job("j2", [dict(unreachable)]))
        await committed(conn, "j2")
        row = dict(await conn.fetchrow("SELECT state, error, default_branch, head_sha, disk_bytes, synced_at"
                                       " FROM data.repo_clones"))
        # A failed sync says why and keeps what the last good one saw.
        assert row == {"state": "unreachable", "error": unreachable["error"], "default_branch": "main",
                       "head_sha": C1, "disk_bytes": 4096, "synced_at": T0}
        # A late redelivery of the older observation does not roll it back.
        await publish(js, job("j1-late", [dict(synced)]))
        await committed(conn, "j1-late")
        assert await conn.fetchval("SELECT state FROM data.repo_clones") == "unreachable"
    finally:
        await conn.close()
        await nc.close()
        await processor.stop()
