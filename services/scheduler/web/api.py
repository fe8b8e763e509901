"""The control plane's routes: the REST API under ``/api/v1``, its OpenAPI document, and the
dashboard pages. Handlers are thin: decode (done by the router), read or publish, answer.

Reads are open; every mutation needs a bearer token (see :mod:`.router`) and publishes what
the CLI would (see :mod:`.control`); nothing here writes to the database.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from nats.js import JetStreamContext

from services.scheduler.web import control, dashboard, leaderboards, reads
from services.scheduler.web import schemas as s
from services.scheduler.web.openapi import build_document
from services.scheduler.web.router import (
    Access,
    HttpError,
    Request,
    Response,
    Route,
    Router,
    json_response,
)
from shared.metrics import Metrics

API = "/api/v1"
DESCRIPTION = """The control plane of Watershed: repositories and groups, their collection status and
rows, the job queues, dead letters and the collectors' API quota. Reading is open; every
change needs `Authorization: Bearer <token>` with a token from `WATERSHED_API_TOKENS`, and
publishes a control event or job (the processor records it: nothing here writes rows)."""


class ControlPlane:
    """The scheduler's HTTP side. Built with the scheduler; its pool and JetStream are used
    once the scheduler has started (before that, requests get a 503)."""

    def __init__(self, backend: Any, metrics: Metrics, service: str) -> None:
        self.backend = backend  # the Scheduler: settings, pool, js, publisher(), collect()
        settings = backend.settings
        self.router = Router(self.routes(), Access(settings.api_tokens, settings.api_cors_origins), metrics, service)
        self._document: bytes | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.router(scope, receive, send)

    # ------------------------------------------------------------------ plumbing

    @property
    def pool(self) -> asyncpg.Pool:
        pool = self.backend.pool
        if pool is None:
            raise HttpError(503, "Starting", "The scheduler is not connected to its database yet.")
        return pool

    @property
    def js(self) -> JetStreamContext:
        try:
            return self.backend.js
        except Exception:  # noqa: BLE001 - not connected yet
            raise HttpError(503, "Starting", "The scheduler is not connected to NATS yet.") from None

    @asynccontextmanager
    async def conn(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            yield conn

    def document(self) -> dict[str, Any]:
        return build_document(self.router.routes, title="Watershed control plane", version="1.0.0",
                              description=DESCRIPTION)

    # ------------------------------------------------------------------ reads

    async def openapi(self, request: Request) -> Response:
        """This document."""
        if self._document is None:
            self._document = json.dumps(self.document(), indent=1).encode()
        return Response(200, self._document)

    async def overview(self, request: Request) -> Response:
        """Queues, jobs of the last hour, failures, dead letters and quota, at a glance."""
        async with self.conn() as conn:
            return json_response(await reads.overview(conn, self.js))

    async def list_repos(self, request: Request) -> Response:
        """Repositories, by id, filtered by state, platform, group or part of the URL."""
        async with self.conn() as conn:
            return json_response(await reads.list_repos(conn, request.query))

    async def get_repo(self, request: Request) -> Response:
        """A repository, its status per phase (state, attempts, last success and error, next due)
        and its rows per entity."""
        async with self.conn() as conn:
            detail = await reads.repo_detail(conn, request.path_params.repo_id)
        if detail is None:
            raise HttpError(404, "No such repository", f"There is no repository {request.path_params.repo_id}.")
        return json_response(detail)

    async def list_groups(self, request: Request) -> Response:
        """Repository groups with their number of repositories."""
        async with self.conn() as conn:
            return json_response(await reads.list_groups(conn, request.query))

    async def get_group(self, request: Request) -> Response:
        """A repository group."""
        async with self.conn() as conn:
            found = await reads.group(conn, request.path_params.group_id)
        if found is None:
            raise HttpError(404, "No such group", f"There is no group {request.path_params.group_id}.")
        return json_response(found)

    async def queue(self, request: Request) -> Response:
        """Work queue depth per phase (from JetStream) and the jobs queued, running or waiting for a retry."""
        async with self.conn() as conn:
            return json_response(await reads.queue(conn, self.js, request.query))

    async def dead_letters(self, request: Request) -> Response:
        """Messages that failed for good (ops.dead_letters), newest first; read-only."""
        async with self.conn() as conn:
            return json_response(await reads.dead_letters(conn, self.js, request.query))

    async def tokens(self, request: Request) -> Response:
        """Remaining quota and reset per API token and bucket, as the collectors last reported it.
        Tokens appear by masked label only."""
        return json_response(s.TokenPools(servers=await reads.token_pools(self.js)))

    async def leaderboard_global(self, request: Request) -> Response:
        """Contributors of every repository ranked by points over a window (default: the last two
        years): commits 10, PR opened 15, PR merged 25, PR reviewed 20, issue opened 8, issue
        closed 5, comment 3, release 30, lines 0.01 added / 0.005 deleted capped at 1,000."""
        async with self.conn() as conn:
            return json_response(await leaderboards.view(conn, request.query, None))

    async def leaderboard_repo(self, request: Request) -> Response:
        """The leaderboard of one repository."""
        async with self.conn() as conn:
            return json_response(await leaderboards.view(conn, request.query, request.path_params.repo_id))

    # ------------------------------------------------------------------ mutations

    async def add_repo(self, request: Request) -> Response:
        """Register a repository (as `watershed add-repo`); with `collect`, run every phase now
        (as `watershed collect`, without waiting). A removed repository is brought back."""
        added = await control.add_repo(self.backend, self.pool, request.body)
        status = 201 if added.created else 200
        return json_response(added, status, [(b"location", f"{API}/repos/{added.repo_id}".encode())])

    async def remove_repo(self, request: Request) -> Response:
        """Stop collecting a repository; its rows stay."""
        return json_response(await control.remove_repo(self.backend, self.pool, request.path_params.repo_id), 202)

    async def prioritize_repo(self, request: Request) -> Response:
        """Move a repository to the front of the queue now (as `watershed prioritize`); with a
        `priority`, also keep that priority (higher first among due jobs, as `watershed set-repo`)."""
        result = await control.prioritize_repo(self.backend, self.pool, request.path_params.repo_id, request.body)
        return json_response(result, 202)

    async def recollect_repo(self, request: Request) -> Response:
        """Collect a repository again now (by default a full resync, as `watershed recollect`)."""
        result = await control.recollect_repo(self.backend, self.pool, request.path_params.repo_id, request.body)
        return json_response(result, 202)

    async def add_group(self, request: Request) -> Response:
        """Create a repository group (or bring a removed one back)."""
        group, created = await control.add_group(self.backend, self.pool, request.body)
        return json_response(group, 201 if created else 200,
                             [(b"location", f"{API}/groups/{group.group_id}".encode())])

    async def remove_group(self, request: Request) -> Response:
        """Remove a group and every repository in it (their rows stay)."""
        return json_response(await control.remove_group(self.backend, self.pool, request.path_params.group_id), 202)

    async def prioritize_group(self, request: Request) -> Response:
        """Move every repository of a group to the front of the queue; with a `priority`, also the
        group's standing priority (as `watershed set-group`)."""
        result = await control.prioritize_group(self.backend, self.pool, request.path_params.group_id, request.body)
        return json_response(result, 202)

    async def recollect_group(self, request: Request) -> Response:
        """Collect every repository of a group again now."""
        result = await control.recollect_group(self.backend, self.pool, request.path_params.group_id, request.body)
        return json_response(result, 202)

    # ------------------------------------------------------------------ pages

    async def page_overview(self, request: Request) -> Response:
        async with self.conn() as conn:
            return dashboard.overview_page(await reads.overview(conn, self.js))

    async def page_repos(self, request: Request) -> Response:
        async with self.conn() as conn:
            return dashboard.repos_page(await reads.list_repos(conn, request.query), request.query)

    async def page_repo(self, request: Request) -> Response:
        repo_id = request.path_params.repo_id
        async with self.conn() as conn:
            detail = await reads.repo_detail(conn, repo_id)
            if detail is None:
                return dashboard.not_found_page(f"There is no repository {repo_id}.")
            return dashboard.repo_page(detail, await reads.recent_titles(conn, repo_id))

    async def page_dead_letters(self, request: Request) -> Response:
        async with self.conn() as conn:
            return dashboard.dead_letters_page(await reads.dead_letters(conn, self.js, request.query))

    async def page_leaderboard_global(self, request: Request) -> Response:
        async with self.conn() as conn:
            return dashboard.leaderboard_page(await leaderboards.view(conn, request.query, None))

    async def page_leaderboard_repo(self, request: Request) -> Response:
        async with self.conn() as conn:
            try:
                board = await leaderboards.view(conn, request.query, request.path_params.repo_id)
            except HttpError as exc:
                if exc.status == 404:
                    return dashboard.not_found_page(f"There is no repository {request.path_params.repo_id}.")
                raise
            return dashboard.leaderboard_page(board)

    # ------------------------------------------------------------------ the table

    def routes(self) -> list[Route]:
        R = Route  # noqa: N806 - reads as a table
        repo, group = s.RepoPath, s.GroupPath
        accepted = {202: (s.Accepted, "Published; the processor records it shortly")}
        return [
            R("GET", "/openapi.json", self.openapi, "The OpenAPI document", "meta",
              responses={200: (dict[str, Any], "OpenAPI 3.1")}),
            R("GET", f"{API}/overview", self.overview, "Overview", "status", responses={200: (s.Overview, "")}),
            R("GET", f"{API}/repos", self.list_repos, "List repositories", "repositories", query=s.RepoQuery,
              responses={200: (s.RepoPage, "")}),
            R("POST", f"{API}/repos", self.add_repo, "Add a repository", "repositories", body=s.RepoCreate,
              mutation=True, responses={201: (s.RepoAdded, "Registered"), 200: (s.RepoAdded, "Already registered"),
                                        422: (None, "")}),
            R("GET", f"{API}/repos/{{repo_id}}", self.get_repo, "A repository's status and rows", "repositories",
              path_params=repo, responses={200: (s.RepoDetail, "")}),
            R("DELETE", f"{API}/repos/{{repo_id}}", self.remove_repo, "Remove a repository", "repositories",
              path_params=repo, mutation=True, responses=accepted),
            R("POST", f"{API}/repos/{{repo_id}}/prioritize", self.prioritize_repo, "Prioritize a repository",
              "repositories", path_params=repo, body=s.PriorityChange, body_required=False, mutation=True,
              responses={**accepted, 409: (None, "")}),
            R("POST", f"{API}/repos/{{repo_id}}/recollect", self.recollect_repo, "Recollect a repository",
              "repositories", path_params=repo, body=s.RecollectRequest, body_required=False, mutation=True,
              responses={202: (s.CollectResult, "Jobs dispatched"), 409: (None, "")}),
            R("GET", f"{API}/groups", self.list_groups, "List groups", "groups", query=s.GroupQuery,
              responses={200: (s.GroupPage, "")}),
            R("POST", f"{API}/groups", self.add_group, "Add a group", "groups", body=s.GroupCreate, mutation=True,
              responses={201: (s.Group, "Created"), 200: (s.Group, "Already there")}),
            R("GET", f"{API}/groups/{{group_id}}", self.get_group, "A group", "groups", path_params=group,
              responses={200: (s.Group, "")}),
            R("DELETE", f"{API}/groups/{{group_id}}", self.remove_group, "Remove a group", "groups",
              path_params=group, mutation=True, responses={**accepted, 409: (None, "")}),
            R("POST", f"{API}/groups/{{group_id}}/prioritize", self.prioritize_group, "Prioritize a group", "groups",
              path_params=group, body=s.PriorityChange, body_required=False, mutation=True, responses=accepted),
            R("POST", f"{API}/groups/{{group_id}}/recollect", self.recollect_group, "Recollect a group", "groups",
              path_params=group, body=s.RecollectRequest, body_required=False, mutation=True,
              responses={202: (s.CollectResult, "Jobs dispatched")}),
            R("GET", f"{API}/queue", self.queue, "Queue and running jobs", "status", query=s.QueueQuery,
              responses={200: (s.QueueView, "")}),
            R("GET", f"{API}/dead-letters", self.dead_letters, "Dead letters", "status", query=s.DeadLetterQuery,
              responses={200: (s.DeadLetterPage, "")}),
            R("GET", f"{API}/tokens", self.tokens, "Token pools", "status", responses={200: (s.TokenPools, "")}),
            R("GET", f"{API}/leaderboard/global", self.leaderboard_global, "The global leaderboard", "leaderboards",
              query=s.LeaderboardQuery, responses={200: (s.LeaderboardView, "")}),
            R("GET", f"{API}/leaderboard/{{repo_id}}", self.leaderboard_repo, "A repository's leaderboard",
              "leaderboards", path_params=repo, query=s.LeaderboardQuery, responses={200: (s.LeaderboardView, "")}),
            R("GET", "/", self.page_overview, page=True),
            R("GET", "/repos", self.page_repos, query=s.RepoQuery, page=True),
            R("GET", "/repos/{repo_id}", self.page_repo, path_params=repo, page=True),
            R("GET", "/dead-letters", self.page_dead_letters, query=s.DeadLetterQuery, page=True),
            R("GET", "/leaderboard/global", self.page_leaderboard_global, query=s.LeaderboardQuery, page=True),
            R("GET", "/leaderboard/{repo_id}", self.page_leaderboard_repo, path_params=repo,
              query=s.LeaderboardQuery, page=True),
        ]
