"""``watershed up``, ``status`` and ``migrate``: the long-running and the read-only commands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import asyncpg
from rich.console import Console

from shared.db import apply_migrations
from shared.embedded.stack import discover_running
from shared.runner import stop_event_on_signals
from shared.settings import Settings
from watershed.pipeline import Pipeline, Servers
from watershed.report import RepoReport, find_repo_ids, repo_report

T = TypeVar("T")


async def serve(settings: Settings, http_port: int | None, console: Console) -> None:
    stop = stop_event_on_signals()
    pipeline = Pipeline(settings, http_port=http_port)
    await pipeline.start()
    try:
        console.print(f"PostgreSQL: {pipeline.servers.database_url}")
        console.print(f"NATS:       {pipeline.servers.nats_url}")
        console.print(f"HTTP:       {pipeline.http_url}  (/metrics, /healthz, /readyz)")
        console.print(f"data dir:   {settings.data_dir}")
        console.print("running; Ctrl-C or SIGTERM stops gracefully")
        await stop.wait()
        console.print("stopping...")
    finally:
        await pipeline.stop()


async def status_reports(settings: Settings, urls: list[str]) -> list[RepoReport]:
    from shared.forge.urls import parse_repo_url

    canonical = [parse_repo_url(u, github_hosts=settings.github_hosts, allow_local=True).url for u in urls]
    async with _database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            return [await repo_report(conn, rid) for rid in await find_repo_ids(conn, canonical)]
        finally:
            await conn.close()


async def read_database(settings: Settings, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """``read`` on a connection to the configured, running or (for now) embedded database."""
    async with _database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            return await read(conn)
        finally:
            await conn.close()


async def migrate(settings: Settings) -> list[str]:
    async with _database(settings) as dsn:
        return await apply_migrations(dsn)


@asynccontextmanager
async def _database(settings: Settings) -> AsyncIterator[str]:
    """A database URL to read: the configured one, the running stack's, or embedded servers for now."""
    if settings.database_url:
        yield settings.database_url
        return
    running = discover_running(settings.data_dir)
    if running is not None:
        yield running.database_url
        return
    servers = Servers(settings)
    await servers.start()
    try:
        await apply_migrations(servers.database_url)
        yield servers.database_url
    finally:
        await servers.stop()
