"""``watershed up``, ``status`` and ``migrate``: the long-running and the read-only commands."""

from __future__ import annotations

import asyncpg
from rich.console import Console

from shared.db import apply_migrations
from shared.runner import stop_event_on_signals
from shared.settings import Settings
from watershed.client import connect_stack
from watershed.pipeline import Pipeline, Servers
from watershed.report import RepoReport, find_repo_ids, repo_report


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


async def migrate(settings: Settings) -> list[str]:
    async with _database(settings) as dsn:
        return await apply_migrations(dsn)


class _database:
    """A database URL to read: configured, the running stack's, or embedded servers just for now."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.servers: Servers | None = None
        self.stack_cm = None

    async def __aenter__(self) -> str:
        if self.settings.database_url:
            return self.settings.database_url
        self.stack_cm = connect_stack(self.settings, start_if_missing=False)
        try:
            ends = await self.stack_cm.__aenter__()
            return ends.database_url
        except Exception:
            self.stack_cm = None
        self.servers = Servers(self.settings)
        await self.servers.start()
        await apply_migrations(self.servers.database_url)
        return self.servers.database_url

    async def __aexit__(self, *exc: object) -> None:
        if self.stack_cm is not None:
            await self.stack_cm.__aexit__(None, None, None)
        if self.servers is not None:
            await self.servers.stop()
