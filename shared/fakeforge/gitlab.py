"""FakeGitLab: a real HTTP server on 127.0.0.1 serving a :class:`GitLabDataset` with GitLab's
REST v4 semantics for groups, plus the projects' git repositories over dumb HTTP:

    GET {api_prefix}/groups/:id              a group (``:id`` the id or URL-encoded full path)
    GET {api_prefix}/groups/:id/projects     its projects: include_subgroups, with_shared,
                                             archived, order_by, sort; offset pages (page,
                                             per_page ≤ 100) with Link and X-Next-Page, X-Total
    GET /git/<full path>.git/...             a project's repository (by its current path)

Tokens come as ``PRIVATE-TOKEN`` or ``Authorization: Bearer``; with ``tokens`` given any other
gets 401. Without a token private groups are 404 and private projects left out, as on GitLab.
Every answer carries ``RateLimit-*`` headers; past the limit (per token, else per client, in a
``rate_window_seconds`` window) it is 429 with ``Retry-After``. Tests steer it through the
dataset (``forge.dataset.rename_project(...)``) and ``fail_next``; ``requests`` logs them all.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from email.utils import formatdate
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from shared.fakeforge import _paging as paging
from shared.fakeforge._gitserve import GitRepos, missing, split_git_path
from shared.fakeforge._http import Handler, Reply, bearer_token
from shared.fakeforge._ratelimit import RateLimiter
from shared.fakeforge.gitlab_data import GitLabDataset, Project, group_json, project_json
from shared.fakeforge.server import RequestRecord

API_PREFIX = "/api/v4"
_GROUP = re.compile(r"^/groups/(?P<id>[^/]+)(?P<projects>/projects)?/?$")
_JSON = "application/json"
_ORDERS = ("id", "name", "path", "created_at", "updated_at", "last_activity_at")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"content-type": _JSON, **(headers or {})}, json.dumps(body).encode())


class _GitLabHandler(Handler):
    def version_string(self) -> str:
        return "nginx"

    def credential(self) -> str | None:
        return (self.headers.get("private-token") or "").strip() or bearer_token(self.headers.get("authorization"))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], forge: FakeGitLab) -> None:
        self.forge = forge
        super().__init__(address, _GitLabHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@dataclass
class _Fault:
    prefix: str
    remaining: int
    status: int
    headers: dict[str, str]
    body: Any


class FakeGitLab:
    def __init__(self, dataset: GitLabDataset | None = None, *, web_url: str = "https://gitlab.example.test",
                 tokens: Collection[str] | None = None, rate_limit: int = 2000, anonymous_rate_limit: int = 500,
                 link_headers: bool = True, clock: Callable[[], float] = time.time, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        """``web_url`` is where the projects' ``web_url``s point (the host repository URLs
        name); ``link_headers=False`` leaves out ``Link``, as a proxy that drops it would."""
        self.dataset = dataset or GitLabDataset()
        self.web_url = web_url.rstrip("/")
        self.tokens = set(tokens) if tokens is not None else None
        self.rate_limit = rate_limit
        self.anonymous_rate_limit = anonymous_rate_limit
        self.link_headers = link_headers
        self._limiter = RateLimiter(clock, window_seconds=60)  # GitLab meters per minute
        self._clock = clock
        self._address = (host, port)
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._git = GitRepos("fakegitlab-git-")
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeGitLab:
        if self._server is None:
            self._server = _Server(self._address, self)
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="fakegitlab",
                                            daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._git.close()

    def __enter__(self) -> FakeGitLab:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGitLab is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def git_url(self) -> str:
        """The base projects clone from: ``<git_url>/<full path>.git``."""
        return self.base_url + "/git"

    # -- test controls -----------------------------------------------------------------------

    def add_git_repo(self, full_path: str, source: Path) -> None:
        """Serve the git repository at ``source`` as the project's; it follows renames and transfers."""
        project = self.dataset.project(full_path)
        if project is None:
            raise KeyError(f"no project {full_path}")
        self._git.add(str(project.id), str(project.id), source)

    def fail_next(self, path_prefix: str, status: int = 502, times: int = 1, *,
                  headers: dict[str, str] | None = None, body: Any = None) -> None:
        with self._lock:
            self._faults.append(_Fault(path_prefix, times, status, dict(headers or {}), body))

    @property
    def rate_window_seconds(self) -> int:
        return self._limiter.window_seconds

    @rate_window_seconds.setter
    def rate_window_seconds(self, seconds: int) -> None:
        self._limiter.window_seconds = seconds

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- request handling (called from handler threads) -------------------------------------

    def handle(self, method: str, path: str, query: list[tuple[str, str]], token: str | None,
               client: str, if_none_match: str | None, body: bytes = b"") -> Reply:
        fault = self._take_fault(path)
        if fault is not None:
            reply = _json(fault.status, fault.body if fault.body is not None else {"message": f"{fault.status} Injected"},
                          fault.headers)
        elif (git := split_git_path(path)) is not None:
            project = self.dataset.project(git[0])
            reply = self._git.serve(method, str(project.id), git[1]) if project is not None else missing()
        elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            reply = self._api(method, path[len(API_PREFIX):], query, token, client)
        else:
            reply = Reply(404, {"content-type": "text/plain"}, b"Not Found\n")
        with self._lock:
            self._log.append(RequestRecord(method, path, dict(query), reply.status, token))
        return reply

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.prefix) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _api(self, method: str, path: str, query: list[tuple[str, str]], token: str | None, client: str) -> Reply:
        if token is not None and self.tokens is not None and token not in self.tokens:
            return _json(401, {"message": "401 Unauthorized"})
        key, limit = (f"token:{token}", self.rate_limit) if token else (f"client:{client}", self.anonymous_rate_limit)
        quota = self._limiter.quota(key, limit)
        if quota.remaining == 0:
            wait = max(quota.reset - int(self._clock()), 1)
            return Reply(429, {"content-type": "text/plain", "retry-after": str(wait), **self._rate(quota)},
                         b"Retry later\n")
        reply = self._route(method, path, query, anonymous=token is None)
        reply.headers.update(self._rate(self._limiter.spend(key, limit)))
        return reply

    def _rate(self, quota: Any) -> dict[str, str]:
        return {"ratelimit-limit": str(quota.limit), "ratelimit-observed": str(quota.used),
                "ratelimit-remaining": str(quota.remaining), "ratelimit-reset": str(quota.reset),
                "ratelimit-resettime": formatdate(quota.reset, usegmt=True)}

    def _route(self, method: str, path: str, query: list[tuple[str, str]], *, anonymous: bool) -> Reply:
        match = _GROUP.match(path)
        if method != "GET" or match is None:
            return _json(404, {"error": "404 Not Found"})
        group = self.dataset.group(unquote(match["id"]))
        if group is None or (anonymous and not self.dataset.visible_group(group)):
            return _json(404, {"message": "404 Group Not Found"})
        if not match["projects"]:
            return _json(200, group_json(group, self.web_url, self.dataset))
        try:
            projects = self._listed(group, query, anonymous)
        except paging.InvalidParam as exc:
            return _json(400, {"error": f"{exc.field} does not have a valid value"})
        per_page, page = paging.page_params(query, 100)
        if paging.param(query, "per_page") is None:
            per_page = 20  # GitLab's default page size
        items, last = paging.paginate(projects, per_page, page)
        headers = {"x-page": str(page), "x-per-page": str(per_page), "x-total": str(len(projects)),
                   "x-total-pages": str(last), "x-next-page": str(page + 1) if page < last else "",
                   "x-prev-page": str(page - 1) if page > 1 else ""}
        link = paging.link_header(f"{self.api_url}{path}", query, page, last)
        if link and self.link_headers:
            headers["link"] = link
        return _json(200, [project_json(p, self.web_url, self.dataset) for p in items], headers)

    def _listed(self, group: Any, query: list[tuple[str, str]], anonymous: bool) -> list[Project]:
        flag = {"true": True, "false": False}
        include = flag[paging.choice(query, "include_subgroups", ("true", "false"), "false")]
        shared = flag[paging.choice(query, "with_shared", ("true", "false"), "true")]
        archived_value = paging.param(query, "archived")
        archived = flag[paging.choice(query, "archived", ("true", "false"), "false")] if archived_value else None
        order = paging.choice(query, "order_by", _ORDERS, "created_at")
        descending = paging.choice(query, "sort", ("asc", "desc"), "desc") == "desc"
        found = self.dataset.group_projects(group, include_subgroups=include, with_shared=shared, archived=archived,
                                            anonymous=anonymous)
        keys: dict[str, Callable[[Project], Any]] = {
            "id": lambda p: p.id, "name": lambda p: (p.path.lower(), p.id), "path": lambda p: (p.path.lower(), p.id),
        }
        # The fake's times grow with the id, so the time orders are the id's.
        return sorted(found, key=keys.get(order, lambda p: p.id), reverse=descending)
