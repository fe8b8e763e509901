"""shared.embedded against the real binaries, and the conftest fixtures built on them."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import nats
import pytest

from shared.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    EmbeddedServerError,
    EmbeddedStack,
    StackAlreadyRunning,
    discover_running,
    free_port,
)
from shared.events.subjects import COMMANDS

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short and outside pytest's 0700 basetemp, like the real default data dir would be.
    root = Path(tempfile.mkdtemp(prefix="watershed-embedded-"))
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


async def _stream_messages(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return (await nc.jetstream().stream_info(stream)).state.messages
    finally:
        await nc.close()


async def test_nats_keeps_jetstream_data_across_restart(data_dir: Path) -> None:
    server = EmbeddedNats(data_dir, free_port())
    await server.start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="KEEP", subjects=["keep.>"])
        await js.publish("keep.1", b"x" * (4 * 1024 * 1024))  # above the 1 MB default payload
        await nc.close()
        await server.stop()
        assert not server.running
        await server.start()
        assert await _stream_messages(server.url, "KEEP") == 1
    finally:
        await server.stop()


async def test_nats_start_failure_reports_its_log(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedNats(data_dir, taken.getsockname()[1])
        with pytest.raises(EmbeddedServerError, match="address already in use"):
            await server.start()
    assert not server.running


async def test_postgres_keeps_data_across_restart(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir, free_port())
    await server.start()
    try:
        conn = await asyncpg.connect(server.dsn)
        await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
        assert await conn.fetchval("SHOW max_connections") == "200"
        await conn.close()
        await server.stop()
        await server.start()
        conn = await asyncpg.connect(server.dsn)
        assert await conn.fetchval("SELECT v FROM kept") == 42
        await conn.close()
    finally:
        await server.stop()


async def test_postgres_recovers_from_kill_9(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir, free_port())
    await first.start()
    pid = int((first.cluster_dir / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    second = EmbeddedPostgres(data_dir, free_port())
    try:
        await second.start()
        conn = await asyncpg.connect(second.dsn)
        assert await conn.fetchval("SELECT current_database()") == "watershed"
        await conn.close()
    finally:
        await second.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when the tests run as root")
async def test_postgres_runs_unprivileged_when_root(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir, free_port())
    await server.start()
    try:
        pid = int((server.cluster_dir / "postmaster.pid").read_text().split()[0])
        assert os.stat(f"/proc/{pid}").st_uid != 0
        assert server.cluster_dir.stat().st_uid == os.stat(f"/proc/{pid}").st_uid
    finally:
        await server.stop()


async def test_stack_keeps_ports_and_is_discoverable(data_dir: Path) -> None:
    async with EmbeddedStack(data_dir) as stack:
        info = stack.info
        assert discover_running(data_dir) == info
        stack.record_http_url("http://127.0.0.1:8080")
        found = discover_running(data_dir)
        assert found is not None and found.http_url == "http://127.0.0.1:8080"
        assert found.pid == os.getpid()
        with pytest.raises(StackAlreadyRunning):
            await EmbeddedStack(data_dir).start()
    assert discover_running(data_dir) is None
    async with EmbeddedStack(data_dir) as again:
        assert (again.nats_url, again.database_url) == (info.nats_url, info.database_url)


async def test_stack_moves_off_a_taken_port(data_dir: Path) -> None:
    async with EmbeddedStack(data_dir) as stack:
        old_port = stack.info.nats_url.rsplit(":", 1)[1]
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(old_port)))
        squatter.listen()
        async with EmbeddedStack(data_dir) as stack:
            assert not stack.nats_url.endswith(f":{old_port}")
            assert await _stream_count(stack.nats_url) == 0
    persisted = json.loads((data_dir / "stack.json").read_text())
    assert persisted["nats_port"] != int(old_port)


async def _stream_count(url: str) -> int:
    nc = await nats.connect(url)
    try:
        return len(await nc.jetstream().streams_info())
    finally:
        await nc.close()


def test_discover_running_ignores_a_dead_owner(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    state = {
        "nats_url": "nats://127.0.0.1:1",
        "database_url": "postgresql://postgres@127.0.0.1:1/watershed",
        "http_url": None,
        "pid": int(dead.stdout),
    }
    (data_dir / "stack.json").write_text(json.dumps(state))
    assert discover_running(data_dir) is None
    assert discover_running(data_dir / "missing") is None


async def test_stack_takes_over_from_an_owner_killed_with_sigkill(data_dir: Path) -> None:
    owner = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from shared.embedded import EmbeddedStack
        async def main() -> None:
            await EmbeddedStack(Path({str(data_dir)!r})).start()
            print("up", flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
    """)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", owner, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    assert await asyncio.wait_for(process.stdout.readline(), 60) == b"up\n"
    orphaned = discover_running(data_dir)
    assert orphaned is not None
    process.kill()
    await process.wait()
    async with EmbeddedStack(data_dir) as stack:
        # Same ports: the orphaned servers were stopped rather than routed around.
        assert (stack.nats_url, stack.database_url) == (orphaned.nats_url, orphaned.database_url)
        conn = await asyncpg.connect(stack.database_url)
        await conn.close()


# The fixtures of tests/conftest.py.


async def test_database_url_is_a_scratch_database(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert (await conn.fetchval("SELECT current_database()")).startswith("watershed_test_")
    finally:
        await conn.close()


async def test_fresh_database_url_is_new_and_empty(database_url: str, fresh_database_url: str) -> None:
    assert fresh_database_url != database_url
    conn = await asyncpg.connect(fresh_database_url)
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
        assert tables == 0
        await conn.execute("CREATE TABLE scribble (v int)")
    finally:
        await conn.close()


async def test_streams_made_by_a_test(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    await nc.jetstream().add_stream(name=COMMANDS, subjects=["cmd.>"])
    await nc.close()


async def test_are_gone_in_the_next(clean_nats: str) -> None:
    nc = await nats.connect(clean_nats)
    try:
        names = {info.config.name for info in await nc.jetstream().streams_info()}
    finally:
        await nc.close()
    assert COMMANDS not in names
