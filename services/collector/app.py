"""Collector: runs forge collection jobs. Owns one connection pool and one token pool per GitHub
API it collects from (github.com's and each Enterprise server's), and a read-only database pool
(for the stream cursors the processor stored)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import httpx

from services.collector.accounts import list_account, read_activity, read_activity_etags, read_source
from services.collector.cursors import read_cursors
from services.collector.github import collect_repository
from shared.db import Role, connect_pool
from shared.errors import FatalError, InvalidInputError
from shared.events import subjects, v1
from shared.forge.github import GitHubClient
from shared.forge.ratelimit import TokenPool
from shared.githubhosts import HOSTS, GitHubHost
from shared.ids import identity_namespace
from shared.metrics import Metrics
from shared.settings import Secret, Settings
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
            # Whatever the kind, the job's marker says what it cost.
            counts = client.counts
            ctx.requests, ctx.requests_graphql = counts.requests, counts.graphql
            ctx.not_modified, ctx.charged = counts.not_modified, counts.charged
            self.metrics.forge_requests.labels(service=self.name, platform=job.platform,
                                               host=client.host).inc(client.requests)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Collector:
    return Collector(settings, metrics or Metrics())
