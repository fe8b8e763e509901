"""Refreshing the materialized views of the data and augur schemas (the ``RefreshViews``
command of the scheduler's periodic work).

A refresh can take minutes on a big database, so it runs beside the batches, one at a time
(a command that arrives meanwhile runs right after it), each view in its own transaction.
``CONCURRENTLY`` keeps readers (8Knot, Grafana) served during the refresh; PostgreSQL allows it
only on a populated view with a unique index, so the others are refreshed plainly. The
refresh goes through ``ops.refresh_view`` (see migration 0008): the writer role owns no view.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress

import asyncpg

from shared.events import v1
from shared.logging import BoundLogger

_VIEWS = """
SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, c.relispopulated AS populated,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
               AND i.indpred IS NULL AND i.indexprs IS NULL) AS keyed
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'm' AND (n.nspname = 'data' OR n.nspname LIKE 'augur%')
ORDER BY 1
"""

Report = Callable[[v1.ViewsRefreshed], Awaitable[None]]


async def refresh_views(pool: asyncpg.Pool, run_id: str) -> v1.ViewsRefreshed:
    """Refresh every view once; a view that fails is reported and the others still refreshed."""
    done: list[str] = []
    failed: dict[str, str] = {}
    async with pool.acquire() as conn:
        for view in await conn.fetch(_VIEWS):
            concurrent = bool(view["populated"] and view["keyed"])
            started = time.perf_counter()
            error = None
            try:
                # By oid: the writer role may not even see into the view's schema; the function's owner does.
                await conn.execute("SELECT ops.refresh_view($1::oid::regclass, $2)", view["oid"], concurrent)
                done.append(view["name"])
            except asyncpg.PostgresError as exc:
                error = f"{type(exc).__name__}: {exc}"[:1000]
                failed[view["name"]] = error
            await conn.execute(
                "INSERT INTO ops.view_refreshes (view_name, run_id, refreshed_at, duration_s, concurrent, error)"
                " VALUES ($1, $2, now(), $3, $4, $5) ON CONFLICT (view_name) DO UPDATE SET run_id = excluded.run_id,"
                " refreshed_at = excluded.refreshed_at, duration_s = excluded.duration_s,"
                " concurrent = excluded.concurrent, error = excluded.error",
                view["name"], run_id, time.perf_counter() - started, concurrent, error,
            )
    return v1.ViewsRefreshed(run_id=run_id, views=done, failed=failed)


class ViewRefresher:
    """Runs refreshes one at a time in the background; asking while one runs queues one more."""

    def __init__(self, pool: Callable[[], asyncpg.Pool], report: Report, log: BoundLogger) -> None:
        self._pool = pool
        self._report = report
        self._log = log
        self._pending: list[str] = []
        self._task: asyncio.Task[None] | None = None

    def request(self, run_id: str) -> None:
        if run_id not in self._pending:
            self._pending.append(run_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="processor-views")

    async def _drain(self) -> None:
        while self._pending:
            run_id = self._pending[0]
            try:
                result = await refresh_views(self._pool(), run_id)
                self._log.info("views.refreshed", run=run_id, views=len(result.views),
                               failed=len(result.failed))
                await self._report(result)
            except Exception:  # noqa: BLE001 - the next period tries again
                self._log.exception("views.refresh_failed", run=run_id)
            # Later requests made while this one ran are served by one more refresh, not several.
            self._pending = self._pending[-1:] if len(self._pending) > 1 else []

    async def close(self) -> None:
        self._pending.clear()
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
