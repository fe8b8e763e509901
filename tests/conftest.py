"""Real NATS and PostgreSQL for every test, and nothing left behind in them.

Where the servers come from, first that works:
  1. WATERSHED_TEST_NATS_URL / WATERSHED_TEST_DATABASE_URL (external servers);
  2. testcontainers, when a Docker engine answers;
  3. shared.embedded servers under a temporary dir, started once per run.

Fixtures:
  nats_url            (session) a NATS server with JetStream. Every test that uses it has
                      the pipeline's streams (and, on servers we own, every stream)
                      deleted after it.
  clean_nats          (function) nats_url, for tests that want to say so explicitly.
  database_url        (session) a new database `watershed_test_<random>`, dropped at the end.
  fresh_database_url  (function) a new empty database per test, dropped after it.

The machine's own PostgreSQL (5432) and NATS (4222) are never used unless named in the
environment, and then only through databases and streams the tests create themselves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from shared.db.scratch import connect_maintenance, scratch_database
from shared.embedded import EmbeddedNats, EmbeddedPostgres, free_port
from shared.events.subjects import STREAMS

log = logging.getLogger(__name__)

NATS_ENV = "WATERSHED_TEST_NATS_URL"
DATABASE_ENV = "WATERSHED_TEST_DATABASE_URL"
PIPELINE_STREAMS = frozenset(stream.name for stream in STREAMS)


@dataclass(frozen=True)
class Server:
    url: str
    owned: bool  # started by this test run, so nobody else's data can be on it


@pytest.fixture(scope="session")
def embedded_root() -> Iterator[Path]:
    # Not pytest's tmp_path: that sits under a 0700 dir PostgreSQL's user cannot enter,
    # and is deep enough to overflow the unix socket path.
    root = Path(tempfile.mkdtemp(prefix="watershed-test-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _container(factory: Callable[[], Any]) -> Any | None:
    """A started testcontainer, or None when there is no Docker engine (or it fails)."""
    try:
        container = factory()  # raises DockerException within milliseconds without Docker
    except Exception as exc:  # noqa: BLE001 - any failure means "use the embedded server"
        log.debug("tests.no_docker reason=%r", exc)
        return None
    try:
        return container.start()
    except Exception as exc:  # noqa: BLE001
        log.warning("tests.container_failed reason=%r", exc)
        with contextlib.suppress(Exception):
            container.stop()
        return None


@pytest.fixture(scope="session")
async def nats_server(embedded_root: Path) -> AsyncIterator[Server]:
    if url := os.environ.get(NATS_ENV):
        yield Server(url, owned=False)
        return

    def make() -> Any:
        from testcontainers.community.nats import NatsContainer

        return NatsContainer("nats:2", jetstream=True)

    if (container := _container(make)) is not None:
        try:
            yield Server(container.nats_uri(), owned=True)
        finally:
            container.stop()
        return
    server = EmbeddedNats(embedded_root / "nats", free_port())
    await server.start()
    try:
        yield Server(server.url, owned=True)
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def nats_url(nats_server: Server) -> str:
    existing = PIPELINE_STREAMS & await _stream_names(nats_server.url)
    if existing:
        pytest.fail(
            f"NATS at {nats_server.url} already has the pipeline's streams {sorted(existing)}; "
            "tests delete these streams after each test, so they refuse to run against a "
            f"server that holds someone else's. Point {NATS_ENV} at an empty server.",
            pytrace=False,
        )
    return nats_server.url


@pytest.fixture(autouse=True)
async def _delete_test_streams(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    if "nats_url" not in request.fixturenames:
        yield
        return
    server: Server = request.getfixturevalue("nats_server")
    request.getfixturevalue("nats_url")
    yield
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        names = await _stream_names_on(js)
        # On a server someone else may use, only the streams the tests own go.
        doomed = names if server.owned else names & PIPELINE_STREAMS
        for name in doomed:
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(name)
    finally:
        await nc.close()


@pytest.fixture
def clean_nats(nats_url: str) -> str:
    """nats_url; its streams are deleted after the test (as for every user of nats_url)."""
    return nats_url


async def _stream_names(url: str) -> set[str]:
    nc = await nats.connect(url)
    try:
        return await _stream_names_on(nc.jetstream())
    finally:
        await nc.close()


async def _stream_names_on(js: Any) -> set[str]:
    return {info.config.name for info in await js.streams_info()}


@pytest.fixture(scope="session")
async def postgres_server(embedded_root: Path) -> AsyncIterator[Server]:
    if url := os.environ.get(DATABASE_ENV):
        # Migrations create cluster-wide roles; on someone else's server, remove the ones we made.
        before = await _roles(url)
        yield Server(url, owned=False)
        made = await _roles(url) - before
        if made:
            conn = await connect_maintenance(url)
            try:
                for role in sorted(made):
                    await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
            finally:
                await conn.close()
        return

    def make() -> Any:
        from testcontainers.community.postgres import PostgresContainer

        return PostgresContainer("postgres:16", driver=None)

    if (container := _container(make)) is not None:
        try:
            yield Server(container.get_connection_url(), owned=True)
        finally:
            container.stop()
        return
    server = EmbeddedPostgres(embedded_root / "postgres", free_port())
    await server.start()
    try:
        yield Server(server.dsn, owned=True)
    finally:
        await server.stop()


async def _roles(server_url: str) -> set[str]:
    conn = await connect_maintenance(server_url)
    try:
        rows = await conn.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE 'watershed\\_%'")
        return {r["rolname"] for r in rows}
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def database_url(postgres_server: Server) -> AsyncIterator[str]:
    async with scratch_database(postgres_server.url) as url:
        yield url


@pytest.fixture
async def fresh_database_url(postgres_server: Server) -> AsyncIterator[str]:
    async with scratch_database(postgres_server.url) as url:
        yield url
