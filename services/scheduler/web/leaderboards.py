"""Contributor leaderboards over HTTP: ``/api/v1/leaderboard/global`` and
``/api/v1/leaderboard/{repo_id}`` (JSON), the same as pages at ``/leaderboard/...``.
The ranking itself is :mod:`shared.leaderboard`; this only reads the query and shapes it."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

import asyncpg

from services.scheduler.web import schemas as s
from services.scheduler.web.router import HttpError
from shared.leaderboard import DEFAULT_WINDOW, Weights, leaderboard


async def view(conn: asyncpg.Connection, query: s.LeaderboardQuery, repo_id: int | None) -> s.LeaderboardView:
    until = query.until or datetime.now(timezone.utc)
    since = query.since or until - DEFAULT_WINDOW
    if since.tzinfo is None or until.tzinfo is None:
        raise HttpError(400, "Invalid query parameter", "since and until need a UTC offset (RFC 3339)")
    if since >= until:
        raise HttpError(400, "Invalid query parameter", "since must be before until")
    try:
        weights = Weights.parse(query.weights or "")
    except ValueError as exc:
        raise HttpError(400, "Invalid query parameter", f"weights: {exc}") from None
    scope = "global"
    if repo_id is not None:
        url = await conn.fetchval("SELECT url FROM data.repos WHERE repo_id = $1", repo_id)
        if url is None:
            raise HttpError(404, "No such repository", f"There is no repository {repo_id}.")
        scope = url
    entries = await leaderboard(conn, repo_ids=None if repo_id is None else [repo_id], since=since, until=until,
                                weights=weights, include_bots=query.include_bots, limit=query.limit)
    return s.LeaderboardView(
        scope=scope, repo_id=repo_id, since=since, until=until, weights=dataclasses.asdict(weights),
        entries=[s.LeaderboardEntry(rank=e.rank, cntrb_id=str(e.cntrb_id) if e.cntrb_id else None, login=e.login,
                                    name=e.name, bot=e.bot, points=e.points, line_points=e.line_points,
                                    lines_added=e.lines_added, lines_deleted=e.lines_deleted, counts=e.counts)
                 for e in entries])
