"""Collector: runs forge collection jobs. Owns one connection pool and one token pool per GitHub
API it collects from (github.com's and each Enterprise server's), and a read-only database pool
(for the stream cursors the processor stored)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

import asyncpg
import httpx

from services.collector.cursors import read_cursors
from services.collector.github import collect_repository
from shared.db import Role, connect_pool
from shared.errors import FatalError, InvalidInputError
from shared.events import subjects, v1
from shared.forge.github import GitHubClient
from shared.forge.ratelimit import TokenPool
from shared.githubhosts import HOSTS, GitHubHost
from shared.metrics import Metrics
from shared.settings import Secret, Settings
from shared.tokenpools import instance_name, open_bucket, pool_state, publish
from shared.worker import JobContext, JobWorker

ServerKey = tuple[str, tuple[Secret, ...]]


@dataclass
class ApiServer:
    """One API with one set of tokens. Quota is metered per server and token, and a slow
    Enterprise server must not hold the connections github.com's jobs need, so nothing is shared."""

    http: httpx.AsyncClient
    pool: TokenPool


def api_host(url: str) -> str:
    """The API's host[:port] for logs; never the netloc, which could carry a user and password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""


def server_key(endpoint: GitHubHost) -> ServerKey:
    # github.com and the host of a non-default WATERSHED_GITHUB_API_URL are one API: one pool.
    return endpoint.api_url, endpoint.tokens


class Collector(JobWorker):
    name = "collector"
    phase = subjects.PHASE_COLLECTOR
    source = subjects.SOURCE_FORGE

    async def on_start(self) -> None:
        self.servers: dict[ServerKey, ApiServer] = {}
        for endpoint in self.settings.github_endpoints:
            key = server_key(endpoint)
            if key not in self.servers:
                self.servers[key] = ApiServer(
                    httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0), limits=httpx.Limits(max_connections=20)),
                    TokenPool([t.reveal() for t in endpoint.tokens], server=api_host(endpoint.api_url)),
                )
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
                for server in self.servers.values():
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
        for server in self.servers.values():
            await server.http.aclose()
        if self.db is not None:
            await self.db.close()

    def client_for(self, job: v1.Job) -> GitHubClient:
        """A client for one pass over the job's repository, on the API of the repository's host."""
        endpoint = self.settings.github_host(job.host)
        if endpoint is None:
            # Registered while the host was configured, or by a scheduler with other settings.
            raise FatalError(f"{job.url}: {job.host} is not a configured GitHub host; add it to {HOSTS}")
        server = self.servers[server_key(endpoint)]
        return GitHubClient(endpoint.api_url, server.pool, client=server.http, host=endpoint.host)

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        if job.platform != "github":
            raise InvalidInputError(f"{job.url}: the collector has no client for platform {job.platform!r} yet")
        client = self.client_for(job)
        try:
            # A full pass ignores the stored cursors, but its own retry resumes from its checkpoints.
            cursors = await read_cursors(self.db, job.repo_id, job.job_id if job.full else None)
            await collect_repository(client, job, ctx, cursors)
        finally:
            self.metrics.forge_requests.labels(service=self.name, platform=job.platform,
                                               host=client.host).inc(client.requests)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Collector:
    return Collector(settings, metrics or Metrics())
