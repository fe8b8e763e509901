"""``watershed up``, ``status`` and ``migrate``: the long-running and the read-only commands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import TypeVar

import asyncpg
from rich.console import Console

from shared.db import apply_migrations
from shared.embedded.stack import discover_running
from shared.leaderboard import Entry
from shared.runner import stop_event_on_signals
from shared.settings import Settings
from watershed.client import CliError
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
        console.print(f"HTTP:       {pipeline.http_url}  (dashboard /, REST API /api/v1, /openapi.json,"
                      " /metrics, /healthz, /readyz)")
        console.print(f"data dir:   {settings.data_dir}")
        console.print("running; Ctrl-C or SIGTERM stops gracefully")
        await stop.wait()
        console.print("stopping...")
    finally:
        await pipeline.stop()


async def status_reports(settings: Settings, urls: list[str]) -> list[RepoReport]:
    canonical = [settings.repo_ref(u, allow_local=True).url for u in urls]
    async with _database(settings) as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            return [await repo_report(conn, rid) for rid in await find_repo_ids(conn, canonical)]
        finally:
            await conn.close()


async def leaderboard_entries(settings: Settings, url: str | None, since: datetime | None, until: datetime | None,
                              weights: str, include_bots: bool, limit: int) -> tuple[str, list[Entry]]:
    """(the scope, its ranking): one repository's, or every repository's without ``url``."""
    from shared.leaderboard import DEFAULT_WINDOW, Weights, leaderboard

    try:
        parsed = Weights.parse(weights)
    except ValueError as exc:
        raise CliError(f"--weights: {exc}") from None
    until = until or datetime.now(timezone.utc)
    since = since or until - DEFAULT_WINDOW
    if since >= until:
        raise CliError("--since must be before --until")

    async def read(conn: asyncpg.Connection) -> tuple[str, list[Entry]]:
        repo_ids = None
        if url is not None:
            canonical = settings.repo_ref(url, allow_local=True).url
            repo_ids = await find_repo_ids(conn, [canonical])
            if not repo_ids:
                raise CliError(f"{url} is not a registered repository")
        entries = await leaderboard(conn, repo_ids=repo_ids, since=since, until=until, weights=parsed,
                                    include_bots=include_bots, limit=limit)
        return (url or "all repositories"), entries

    return await read_database(settings, read)


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
