"""Resolver: maps a repository's commit emails to platform accounts (``AliasesObserved``).

First from what is known for free (noreply addresses, pull request commits GitHub attributed,
public emails; see identities.py), then, for a GitHub repository and with a token, by asking
GitHub whom it attributes one commit of each remaining address to: at most
``WATERSHED_RESOLVER_MAX_LOOKUPS`` requests a job, the rest next time. An address GitHub
knows no account for is asked again after ``WATERSHED_RESOLVER_RETRY_DAYS``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from services.resolver import store
from services.resolver.identities import looked_up, noreply, plan
from shared.db import Role, connect_pool
from shared.events import subjects, v1
from shared.forge.github.servers import GitHubServers
from shared.ids import alias_namespace
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import JobContext, JobWorker

_KIND = "aliases"
_CHUNK = 200


class Resolver(JobWorker):
    name = "resolver"
    phase = subjects.PHASE_RESOLVER
    source = subjects.SOURCE_IDENTITY

    async def on_start(self) -> None:
        self.github = GitHubServers(self.settings.github_endpoints, max_connections=4)
        self.db: asyncpg.Pool | None = None
        if self.settings.database_url:
            self.db = await connect_pool(self.settings.database_url, role=Role.READER, min_size=1, max_size=2)

    async def on_stop(self) -> None:
        await self.github.aclose()
        if self.db is not None:
            await self.db.close()

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        if self.db is None:
            return  # nothing to resolve without the commits
        namespace = alias_namespace(job.platform, job.host)
        noreply_host = job.host.lower() if namespace != "github" else "github.com"
        now = datetime.now(UTC)
        emails = await store.unresolved(self.db, job.repo_id, namespace,
                                        now - timedelta(days=self.settings.resolver_retry_days))
        older = [named[1].lower() for e in emails if (named := noreply(e.address, noreply_host)) and named[0] is None]
        found, left = plan(emails, await store.known(self.db, namespace, [e.address for e in emails]),
                           await store.by_login(self.db, namespace, older),
                           namespace=namespace, host=noreply_host, now=now)
        for start in range(0, len(found), _CHUNK):
            await ctx.emit(v1.AliasesObserved, _KIND, items=found[start:start + _CHUNK])
        if job.platform != "github" or not left:
            return
        client = self.github.client_for(self.settings.github_host(job.host), job.host, job.url)
        if client.pool.anonymous:
            return  # 60 requests an hour are better spent by the collector
        try:
            batch: list[v1.Alias] = []
            for email in left[: self.settings.resolver_max_lookups]:
                accounts = await client.get_commit_accounts(job.owner, job.name, email.sha)
                batch.append(looked_up(email, accounts, namespace=namespace, now=now))
                if len(batch) >= _CHUNK:
                    await ctx.emit(v1.AliasesObserved, _KIND, items=batch)
                    batch = []
            if batch:
                await ctx.emit(v1.AliasesObserved, _KIND, items=batch)
        finally:
            counts = client.counts
            ctx.requests, ctx.requests_graphql = counts.requests, counts.graphql
            ctx.not_modified, ctx.charged = counts.not_modified, counts.charged
            self.metrics.forge_requests.labels(service=self.name, platform=job.platform,
                                               host=client.host).inc(client.requests)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Resolver:
    return Resolver(settings, metrics or Metrics())
