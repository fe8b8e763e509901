"""The periodic work of the control plane (run by the lease holder, see periodic.py):

- ``orgs``: every followed organization, user or GitLab group is listed again (new, renamed,
  transferred and deleted repositories), least recently listed first
  (``WATERSHED_ORG_REFRESH_INTERVAL``);
- ``breadth``: the public activity of the collected repositories' contributors, the least
  recently read accounts first, ``WATERSHED_BREADTH_LOGINS`` per run in jobs of
  :data:`LOGINS_PER_JOB` (``WATERSHED_BREADTH_INTERVAL``); an account is read again after
  :data:`BREADTH_STALE`, conditionally;
- ``views``: the processor refreshes the materialized views (``WATERSHED_VIEWS_REFRESH_INTERVAL``).

Every job is named by the task's period (its slot), and none is dispatched while the last one
of the same task is queued or running.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import asyncpg

from services.scheduler.control import Control
from services.scheduler.dispatch import Dispatcher
from services.scheduler.periodic import PeriodicTask
from services.scheduler.policy import IN_FLIGHT, is_stuck
from shared.events import subjects, v1
from shared.events.jetstream import Publisher
from shared.settings import Settings

LOGINS_PER_JOB = 100
BREADTH_STALE = timedelta(days=7)

_SOURCES = "SELECT source_id FROM ops.group_sources ORDER BY listed_at NULLS FIRST, source_id"

# Contributors GitHub lists for a collected repository, as people (no bots, no organizations).
_LOGINS = """
SELECT c.platform, c.login
FROM data.contributors c
LEFT JOIN ops.activity_cursors a ON a.platform = c.platform AND a.login = lower(c.login)
WHERE c.kind = 'User' AND (c.platform = 'github' OR c.platform LIKE 'github@%')
  AND EXISTS (SELECT 1 FROM data.repo_contributors rc WHERE rc.cntrb_id = c.cntrb_id)
  AND (a.fetched_at IS NULL OR a.fetched_at < $2)
ORDER BY a.fetched_at NULLS FIRST, c.login
LIMIT $1
"""


class PeriodicWork:
    def __init__(self, settings: Settings, pool: Callable[[], asyncpg.Pool], dispatcher: Callable[[], Dispatcher],
                 publisher: Callable[[], Publisher], control: Control) -> None:
        self.settings = settings
        self._pool = pool
        self._dispatcher = dispatcher
        self._publisher = publisher
        self.control = control

    def tasks(self) -> list[PeriodicTask]:
        s = self.settings
        return [PeriodicTask("orgs", s.org_refresh_interval_s, self.refresh_orgs),
                PeriodicTask("breadth", s.breadth_interval_s, self.contributor_breadth),
                PeriodicTask("views", s.views_refresh_interval_s, self.refresh_views)]

    async def refresh_orgs(self, slot: int) -> None:
        for row in await self._pool().fetch(_SOURCES):
            await self.control.list_account(row["source_id"], suffix=f"p{slot}")

    async def contributor_breadth(self, slot: int) -> None:
        now = datetime.now(timezone.utc)
        pool = self._pool()
        rows = await pool.fetch(_LOGINS, self.settings.breadth_logins, now - BREADTH_STALE)
        by_namespace: dict[str, list[str]] = {}
        for r in rows:
            by_namespace.setdefault(r["platform"], []).append(r["login"])
        batches = [(namespace, logins[i:i + LOGINS_PER_JOB])
                   for namespace, logins in sorted(by_namespace.items())
                   for i in range(0, len(logins), LOGINS_PER_JOB)]
        tasks = [subjects.task_key(v1.KIND_ACTIVITY, i) for i in range(len(batches))]
        busy = {r["task"] for r in await pool.fetch(
            "SELECT task, state, updated_at FROM ops.task_status WHERE task = ANY($1::text[])", tasks)
            if r["state"] in IN_FLIGHT and not is_stuck(r["state"], r["updated_at"], now,
                                                         self.settings.job_stuck_timeout_s)}
        jobs = []
        for task, (namespace, logins) in zip(tasks, batches, strict=True):
            if task in busy:
                continue  # its accounts come first next time
            platform, _, host = namespace.partition("@")
            host = host or "github.com"
            jobs.append(v1.Job(job_id=f"{task}-p{slot}", repo_id=0, phase=subjects.PHASE_COLLECTOR,
                               url=f"https://{host}", platform=platform, host=host, kind=v1.KIND_ACTIVITY,
                               task=task, logins=logins))
        await self._dispatcher().send(jobs)

    async def refresh_views(self, slot: int) -> None:
        publisher = self._publisher()
        await publisher.send(subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_OPS_KEY, "views"),
                             v1.RefreshViews(run_id=f"views-p{slot}", requested_at=datetime.now(timezone.utc)))
        await publisher.flush()
