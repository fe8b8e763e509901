"""The Augur-compatible layer (schema ``augur_data``, migration 0012): refreshing its
materialized views.

The explorer_* views are created empty. The processor, as the only writer, fills and then
refreshes them, one view per transaction: the first refresh is a plain one, every later one
``CONCURRENTLY`` (each view has a unique index), so 8Knot keeps reading the previous rows
while a refresh runs. The work is done by ``augur_data.refresh_explorer_view(name)``, a
SECURITY DEFINER function the writer role may call without owning the views.
"""

from __future__ import annotations

import time

import asyncpg

# In the order they are refreshed; the same list as augur_data.explorer_view_names().
EXPLORER_VIEWS: tuple[str, ...] = (
    "explorer_contributor_actions",
    "explorer_issue_assignments",
    "explorer_pr_assignments",
    "explorer_pr_response",
    "explorer_repo_languages",
    "explorer_repo_files",
    "explorer_pr_files",
    "explorer_cntrb_per_file",
)


async def refresh_explorer_views(conn: asyncpg.Connection) -> dict[str, float]:
    """Refresh every explorer view, each in its own transaction; seconds taken per view.
    ``conn`` must not be inside a transaction."""
    taken = {}
    for view in EXPLORER_VIEWS:
        started = time.monotonic()
        await conn.execute("SELECT augur_data.refresh_explorer_view($1)", view)
        taken[view] = time.monotonic() - started
    return taken
