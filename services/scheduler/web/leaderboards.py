"""Leaderboards: the extension point (none ships yet).

A leaderboard is a named, read-only ranking computed from the collected rows (top
contributors of a group, fastest-reviewed repositories, ...). To add one, write a class with
the :class:`Board` shape and list an instance in :data:`BOARDS`; it then appears in
``GET /api/v1/leaderboards`` and answers ``GET /api/v1/leaderboards/{name}`` with no other
change (the OpenAPI document already describes both). Keep the query read-only and bounded
(``limit``): it runs on the scheduler's read-only pool, on every request.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from services.scheduler.web.schemas import Leaderboard, LeaderboardRow


class Board(Protocol):
    name: str  # lowercase letters, digits and dashes: the path segment
    title: str
    description: str

    async def rows(self, conn: asyncpg.Connection, limit: int) -> list[LeaderboardRow]: ...


BOARDS: tuple[Board, ...] = ()


def describe(board: Board) -> Leaderboard:
    return Leaderboard(name=board.name, title=board.title, description=board.description)


def find(name: str, boards: tuple[Board, ...] = BOARDS) -> Board | None:
    return next((b for b in boards if b.name == name), None)
