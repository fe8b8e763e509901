"""Throwaway databases on a PostgreSQL server someone gives us (tests, benchmarks): created
under a random name, dropped afterwards with whatever connections are still open."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, prefix: str = "watershed_test") -> AsyncIterator[str]:
    """A new empty database on ``server_url``'s server, as a URL; dropped on exit."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    conn = await connect_maintenance(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield with_database(server_url, name)
    finally:
        conn = await connect_maintenance(server_url)
        try:
            # FORCE: a user that leaked a connection must not leave its database behind.
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def connect_maintenance(server_url: str) -> asyncpg.Connection:
    # CREATE/DROP DATABASE cannot run inside the database concerned, so use `postgres`;
    # a server without it still lets us in through the database we were given.
    try:
        return await asyncpg.connect(with_database(server_url, "postgres"))
    except asyncpg.InvalidCatalogNameError:
        return await asyncpg.connect(server_url)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
