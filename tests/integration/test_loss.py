"""Loss test: the processor dies (SIGKILL) in the middle of a collection and is restarted;
the rows end up identical to an uninterrupted run: nothing missing, nothing duplicated."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from shared.db import apply_migrations
from shared.fakeforge import FakeForge, generate_dataset
from shared.settings import Secret, load_settings
from tests.integration.snapshot import snapshot
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

OWNER, NAME = "loss", "big"
COMMITS = 4000


def make_history(path: Path, commits: int) -> Path:
    """A git repository with a long history, written in one fast-import stream (seconds, not minutes)."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    chunks = []
    for i in range(commits):
        content = f"line {i}\n".encode()
        message = f"change {i}\n".encode()
        when = 1_600_000_000 + i * 3600
        chunks.append(
            b"commit refs/heads/main\n"
            + f"author Dev {i % 7} <dev{i % 7}@example.org> {when} +0200\n".encode()
            + f"committer Dev {i % 7} <dev{i % 7}@example.org> {when} +0200\n".encode()
            + f"data {len(message)}\n".encode() + message
            + f"M 100644 inline file{i % 50}.txt\n".encode()
            + f"data {len(content)}\n".encode() + content + b"\n"
        )
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(chunks), check=True)
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return path


@pytest.fixture(scope="module")
def big_forge(tmp_path_factory: pytest.TempPathFactory) -> FakeForge:
    dataset = generate_dataset(11, OWNER, NAME, n_users=60, n_issues=1200, n_pulls=400, n_comments=3000)
    history = make_history(tmp_path_factory.mktemp("loss") / "big.git", COMMITS)
    forge = FakeForge(dataset)
    forge.start()
    forge.add_git_repo(f"{OWNER}/{NAME}", history)
    yield forge
    forge.close()


def start_processor(env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "services.processor"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return proc


async def wait_ready(port: int, proc: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 30
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "processor exited"
            try:
                if (await client.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("processor did not become ready")


async def run_collection(nats_url: str, dsn: str, forge: FakeForge, workdir: Path, *, kill: bool) -> dict:
    from shared.embedded._proc import free_port

    await apply_migrations(dsn)
    settings = load_settings({}, nats_url=nats_url, database_url=dsn, data_dir=workdir,
                             github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
                             facade_allow_local=True, scheduler_tick_s=0.2,
                             github_tokens=(Secret("loss-test-token"),))
    port = free_port()
    env = {**os.environ, "WATERSHED_NATS_URL": nats_url, "WATERSHED_DATABASE_URL": dsn,
           "WATERSHED_HTTP_PORT": str(port), "WATERSHED_PROCESSOR_BATCH": "3",
           "WATERSHED_PROCESSOR_ACK_WAIT": "2", "WATERSHED_LOG_LEVEL": "warning"}
    processor = start_processor(env)
    killed_at: dict[str, int] = {}
    try:
        await wait_ready(port, processor)
        async with Pipeline(settings, http_port=0, without=frozenset({"processor"})) as pipeline:
            url = f"https://github.com/{OWNER}/{NAME}"
            reply = await request_collection(pipeline.servers.nats_url, [url], dispatch=True)
            if kill:
                conn = await asyncpg.connect(dsn)
                try:
                    while True:
                        counts = await conn.fetchrow(
                            "SELECT (SELECT count(*) FROM data.issues) AS issues,"
                            " (SELECT count(*) FROM data.commits) AS commits,"
                            " (SELECT count(*) FROM ops.collection_status WHERE state IN ('done', 'error')) AS ended")
                        if counts["issues"] + counts["commits"] > 0:
                            break
                        await asyncio.sleep(0.01)
                    processor.send_signal(signal.SIGKILL)
                    processor.wait()
                    killed_at = dict(await conn.fetchrow(
                        "SELECT (SELECT count(*) FROM data.issues) AS issues,"
                        " (SELECT count(*) FROM data.commits) AS commits,"
                        " (SELECT count(*) FROM ops.collection_status WHERE state IN ('done', 'error')) AS ended"))
                finally:
                    await conn.close()
                processor = start_processor(env)
                await wait_ready(port, processor)
            await wait_for_jobs(dsn, reply, timeout=120)
    finally:
        if processor.poll() is None:
            processor.send_signal(signal.SIGTERM)
            processor.wait(timeout=30)
    return killed_at


async def test_processor_killed_mid_collection_loses_and_duplicates_nothing(
    nats_url: str, postgres_server: object, tmp_path: Path, big_forge: FakeForge
) -> None:
    from shared.db.scratch import scratch_database

    server_url = postgres_server.url  # type: ignore[attr-defined]
    async with scratch_database(server_url) as clean_dsn, scratch_database(server_url) as killed_dsn:
        await run_collection(nats_url, clean_dsn, big_forge, tmp_path / "clean", kill=False)
        expected = await snapshot(clean_dsn)
        await _reset_streams(nats_url)
        killed_at = await run_collection(nats_url, killed_dsn, big_forge, tmp_path / "killed", kill=True)
        actual = await snapshot(killed_dsn)

    # The kill must have landed mid-collection, or this test proves nothing.
    assert killed_at["ended"] < 2, killed_at
    assert killed_at["issues"] < 1200 or killed_at["commits"] < COMMITS, killed_at
    assert len(expected["issues"]) == 1200 and len(expected["commits"]) == COMMITS
    for table in expected:
        assert len(actual[table]) == len(expected[table]), table
        assert actual[table] == expected[table], table


async def _reset_streams(nats_url: str) -> None:
    """The second run starts from empty streams, like the first."""
    import nats

    from shared.events.subjects import STREAMS

    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for definition in STREAMS:
            try:
                await js.delete_stream(definition.name)
            except Exception:  # noqa: BLE001 - not created yet
                pass
    finally:
        await nc.close()
