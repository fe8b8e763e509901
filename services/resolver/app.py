"""Resolver: maps commit emails to platform accounts (not yet implemented).

The service runs, consumes its work queue and reports health and metrics, so
deployments are complete; the scheduler dispatches no resolver jobs until the
phase exists. A job that arrives anyway fails loudly instead of pretending.
"""

from __future__ import annotations

from shared.errors import FatalError
from shared.events import subjects, v1
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import JobContext, JobWorker


class Resolver(JobWorker):
    name = "resolver"
    phase = subjects.PHASE_RESOLVER
    source = subjects.SOURCE_IDENTITY

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        raise FatalError(f"{job.url}: the resolver phase is not implemented in this version")


def create_app(settings: Settings, metrics: Metrics | None = None) -> Resolver:
    return Resolver(settings, metrics or Metrics())
