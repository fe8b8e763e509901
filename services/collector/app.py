"""Collector: runs forge collection jobs. Owns one connection pool and one token pool per forge
API it collects from (github.com's and each Enterprise server's: :class:`GitHubServers`;
gitlab.com's and each self-managed server's: :class:`GitLabServers`), and a read-only database
pool (for the stream cursors the processor stored).

GitLab jobs are group listings only so far: a GitLab project's collection is the facade's."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timezone

import asyncpg

from services.collector.accounts import (
    list_account,
    list_gitlab_group,
    read_activity,
    read_activity_etags,
    read_source,
)
from services.collector.cursors import read_cursors
from services.collector.github import collect_repository
from shared.db import Role, connect_pool
from shared.errors import FatalError, InvalidInputError
from shared.events import subjects, v1
from shared.forge.github import GitHubClient
from shared.forge.github.servers import GitHubServers
from shared.forge.gitlab import GitLabClient, GitLabServers
from shared.forge.rest import RestClient
from shared.ids import identity_namespace
from shared.metrics import Metrics
from shared.settings import Settings
from shared.tokenpools import instance_name, open_bucket, pool_state, publish
from shared.worker import JobContext, JobWorker


class Collector(JobWorker):
    name = "collector"
    phase = subjects.PHASE_COLLECTOR
    source = subjects.SOURCE_FORGE

    async def on_start(self) -> None:
        self.github = GitHubServers(self.settings.github_endpoints)
        self.gitlab = GitLabServers(self.settings.gitlab_endpoints)
        # Without a database every pass is a full one: correct, only more expensive.
        self.db: asyncpg.Pool | None = None
        if self.settings.database_url:
            self.db = await connect_pool(self.settings.database_url, role=Role.READER, min_size=1, max_size=4)
        self._quota_task = asyncio.create_task(self._publish_quota(), name="collector-quota")

    async def on_stopping(self) -> None:
        self._quota_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._quota_task

    async def _publish_quota(self) -> None:
        """The pools' quota, by masked label, for the API (a key-value bucket) and the metrics."""
        instance = instance_name()
        kv = None
        while True:
            try:
                kv = kv or await open_bucket(self.js, self.settings.quota_publish_interval_s)
                now = datetime.now(timezone.utc)
                for server in [*self.github.servers.values(), *self.gitlab.servers.values()]:
                    state = pool_state(server.pool.server, instance, server.pool, now)
                    await publish(kv, state)
                    for b in state.budgets:
                        labels = {"service": self.name, "server": state.server, "token": b.token, "bucket": b.bucket}
                        if b.remaining is not None:
                            self.metrics.quota_remaining.labels(**labels).set(b.remaining)
                        if b.reset_at is not None:
                            self.metrics.quota_reset.labels(**labels).set(b.reset_at.timestamp())
            except Exception as exc:  # noqa: BLE001 - the next report replaces a missed one
                self.log.warning("quota.publish_failed", error=type(exc).__name__)
            await asyncio.sleep(self.settings.quota_publish_interval_s)

    async def on_stop(self) -> None:
        await self.github.aclose()
        await self.gitlab.aclose()
        if self.db is not None:
            await self.db.close()

    def client_for(self, job: v1.Job) -> GitHubClient:
        """A client for one pass over the job's repository, on the API of the repository's host."""
        return self.github.client_for(self.settings.github_host(job.host), job.host, job.url)

    def gitlab_client_for(self, job: v1.Job) -> GitLabClient:
        """A client for one pass over the job's group, on the API of the group's host."""
        return self.gitlab.client_for(self.settings.gitlab_host(job.host), job.host, job.url)

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        if job.platform == "gitlab" and job.kind == v1.KIND_ACCOUNT:
            gitlab = self.gitlab_client_for(job)
            try:
                await list_gitlab_group(gitlab, job, ctx)
            finally:
                self._count(job, ctx, gitlab)
            return
        if job.platform != "github":
            raise InvalidInputError(f"{job.url}: the collector has no client for platform {job.platform!r} yet")
        client = self.client_for(job)
        try:
            if job.kind == v1.KIND_ACCOUNT:
                await list_account(client, job, ctx, await read_source(self.db, job.source_id))
            elif job.kind == v1.KIND_ACTIVITY:
                namespace = identity_namespace(job.platform, job.host)
                await read_activity(client, job, ctx, await read_activity_etags(self.db, namespace, job.logins))
            elif job.kind == v1.KIND_REPO:
                # A full pass ignores the stored cursors, but its own retry resumes from its checkpoints.
                cursors = await read_cursors(self.db, job.repo_id, job.job_id if job.full else None)
                await collect_repository(client, job, ctx, cursors)
            else:
                raise FatalError(f"{job.url}: unknown job kind {job.kind!r} (a newer scheduler?)")
        finally:
            self._count(job, ctx, client)

    def _count(self, job: v1.Job, ctx: JobContext, client: RestClient) -> None:
        """Whatever the kind, the job's marker says what it cost."""
        counts = client.counts
        ctx.requests, ctx.requests_graphql = counts.requests, counts.graphql
        ctx.not_modified, ctx.charged = counts.not_modified, counts.charged
        self.metrics.forge_requests.labels(service=self.name, platform=job.platform,
                                           host=client.host).inc(client.requests)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Collector:
    return Collector(settings, metrics or Metrics())
