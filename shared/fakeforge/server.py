"""FakeForge: a real HTTP server on 127.0.0.1 that serves a Dataset with GitHub's REST
semantics (paging, Link, rate limits, ETags, redirects) plus dumb-HTTP git repositories.

Runs in a daemon thread so tests and `watershed demo` can start it in-process:

    with FakeForge(load_sample_dataset()) as forge:
        httpx.get(f"{forge.base_url}/repos/watershed-demo/sample/issues")
"""

from __future__ import annotations

import hashlib
import sys
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from shared.fakeforge._api import DOCS, Api, ApiResponse, not_found
from shared.fakeforge._commits import commit_json, read_commit
from shared.fakeforge._gitserve import GIT_PREFIX, GitRepos, missing, split_git_path
from shared.fakeforge._graphql import graphql_reply, is_graphql_path
from shared.fakeforge._http import Handler, Reply
from shared.fakeforge._ratelimit import Quota, RateLimiter
from shared.fakeforge.dataset import Dataset, Json, encode_json

_JSON = "application/json; charset=utf-8"


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: dict[str, str]
    status: int
    token: str | None


@dataclass
class _Fault:
    prefix: str
    remaining: int
    status: int | None  # None: truncate the real response instead of replacing it
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # matching requests still answered normally before the fault starts
    exact: bool = False  # the path itself only, not everything under it

    def matches(self, path: str) -> bool:
        return path == self.prefix if self.exact else path.startswith(self.prefix)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], forge: FakeForge) -> None:
        self.forge = forge
        super().__init__(address, Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients closing idle keep-alive connections is normal, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class FakeForge:
    def __init__(self, dataset: Dataset, *, rate_limit: int = 5000,
                 anonymous_rate_limit: int = 60, page_size_max: int = 100,
                 host: str = "127.0.0.1", port: int = 0, tokens: Collection[str] | None = None,
                 repository_id_links: bool = False,
                 clock: Callable[[], float] = time.time,
                 push_tokens: Collection[str] = (), api_prefix: str = "") -> None:
        """`tokens`, when given, is the set of valid tokens; any other gets 401.
        `repository_id_links` makes Link headers use /repositories/{id}/... as GitHub does.
        `push_tokens` may push to every repository: only they see /traffic/* (others: 403).
        `api_prefix` serves the REST API under a path only, as GitHub Enterprise Server does
        under /api/v3 (GraphQL then answers at /api/graphql alone); see `api_url`."""
        self.dataset = dataset
        self.api_prefix = api_prefix.rstrip("/")
        if self.api_prefix and not self.api_prefix.startswith("/"):
            raise ValueError(f"api_prefix must start with '/', got {api_prefix!r}")
        self.rate_limit = rate_limit
        self.latency = 0.0  # seconds added to every API request
        self.anonymous_rate_limit = anonymous_rate_limit
        self.tokens = set(tokens) if tokens is not None else None
        self.push_tokens = set(push_tokens)
        self.graphql_rate_limit = 5000  # points per hour in the token's `graphql` bucket
        # GraphQL queries requesting more nodes than this answer 502, as big ones do on GitHub.
        self.graphql_max_nodes_before_502: int | None = None
        # Verified emails -> account, for commit lookups (see _commits.account_for).
        self.accounts: dict[str, Json] = {}
        self._api = Api(dataset, page_size_max=page_size_max,
                        repository_id_links=repository_id_links, commits=self._commit)
        self._address = (host, port)
        self._limiter = RateLimiter(clock)
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._git = GitRepos()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeForge:
        if self._server is not None:
            return self
        self._server = _Server(self._address, self)
        # A short poll interval keeps stop() (and so every test teardown) fast.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fakeforge", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def close(self) -> None:
        """Stop and delete the bare git copies."""
        self.stop()
        self._git.close()

    def __enter__(self) -> FakeForge:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeForge is not running; call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """Where the REST API answers: `base_url`, or `base_url` + `api_prefix`."""
        return self.base_url + self.api_prefix

    @property
    def graphql_path(self) -> str | None:
        """The one GraphQL path behind an `api_prefix`; None: both of GitHub's are served."""
        if not self.api_prefix:
            return None
        # GitHub Enterprise Server: REST under /api/v3, GraphQL at /api/graphql.
        return self.api_prefix.removesuffix("/v3") + "/graphql"

    # -- git ---------------------------------------------------------------------------------

    def add_git_repo(self, full_name: str, path: Path) -> str:
        """Serve a bare copy of the git repo at `path`; returns its clone URL path suffix
        (`/git/{owner}/{name}.git`), to be joined to base_url."""
        self._git.add(full_name.lower(), full_name, Path(path))
        return f"/git/{full_name}.git"

    def _commit(self, full_name: str, sha: str) -> Json | None:
        bare = self._git.get(full_name.lower())
        raw = read_commit(bare, sha) if bare is not None else None
        accounts = {email.lower(): user for email, user in self.accounts.items()}
        return commit_json(full_name, raw, self.dataset, accounts) if raw is not None else None

    def git_url(self, full_name: str) -> str:
        return f"{self.base_url}/git/{full_name}.git"

    # -- test controls -----------------------------------------------------------------------

    def fail_next(self, path_prefix: str, status: int = 502, times: int = 1, *,
                  body: Any = None, headers: dict[str, str] | None = None, after: int = 0,
                  exact: bool = False) -> None:
        """The next `times` requests whose path starts with `path_prefix` (is it, with
        `exact`) get `status` (with `body`, default a GitHub-style message) instead of the
        real answer; with `after`, only once that many matching requests were answered normally."""
        with self._lock:
            self._faults.append(_Fault(path_prefix, times, status, body, dict(headers or {}), after, exact))

    def truncate_next(self, path_prefix: str, times: int = 1) -> None:
        """The next matching responses announce their full Content-Length, send half the
        body and close the connection, as a dropped connection mid-download looks."""
        with self._lock:
            self._faults.append(_Fault(path_prefix, times, None))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def rate_window_seconds(self) -> int:
        """Length of a rate-limit window (GitHub: an hour); tests that must see a reset shorten it."""
        return self._limiter.window_seconds

    @rate_window_seconds.setter
    def rate_window_seconds(self, seconds: int) -> None:
        self._limiter.window_seconds = seconds

    def reset_rate_limits(self) -> None:
        self._limiter.reset()

    def rate_limit_quota(self, token: str | None = None, client: str = "127.0.0.1") -> Quota:
        key, limit = self._rate_key(token, client)
        return self._limiter.quota(key, limit)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._log)

    def requests_count(self, path_prefix: str = "", *, method: str | None = None,
                       status: int | None = None) -> int:
        return sum(1 for r in self.requests if r.path.startswith(path_prefix)
                   and (method is None or r.method == method)
                   and (status is None or r.status == status))

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    # -- request handling (called from handler threads) -------------------------------------

    def _rate_key(self, token: str | None, client: str) -> tuple[str, int]:
        if token is not None:
            return f"token:{token}", self.rate_limit
        return f"client:{client}", self.anonymous_rate_limit

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(path) and fault.after > 0:
                    fault.after -= 1
                    return None
                if fault.matches(path) and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def handle(self, method: str, path: str, query: list[tuple[str, str]], token: str | None,
               client: str, if_none_match: str | None, body: bytes = b"") -> Reply:
        if self.latency:
            time.sleep(self.latency)  # a slow forge, for tests that stop services mid-job
        fault = self._take_fault(path)
        if fault is not None and fault.status is not None:
            reply = self._fault_reply(fault, token, client)
        elif path.startswith(GIT_PREFIX):
            reply = self._git_reply(method, path, query)
        elif self._is_graphql(path):
            reply = graphql_reply(self, method, token, body, _user_id)
        elif (inner := self._api_path(path)) is not None:
            reply = self._api_reply(method, inner, query, token, client, if_none_match)
        else:
            reply = Reply(404, {"content-type": "text/plain"}, b"Not Found\n")
        if fault is not None and fault.status is None:
            reply.truncate = True
        with self._lock:
            self._log.append(RequestRecord(method, path, dict(query), reply.status, token))
        return reply

    def _is_graphql(self, path: str) -> bool:
        wanted = self.graphql_path
        return is_graphql_path(path) if wanted is None else path.rstrip("/") == wanted

    def _api_path(self, path: str) -> str | None:
        """The REST path behind `api_prefix`; None when the request is outside it."""
        if not self.api_prefix:
            return path
        if path == self.api_prefix or path.startswith(self.api_prefix + "/"):
            return path[len(self.api_prefix):] or "/"
        return None

    def _fault_reply(self, fault: _Fault, token: str | None, client: str) -> Reply:
        # Injected failures stand for a proxy or GitHub's front end: they cost no quota.
        body = fault.body if fault.body is not None else {
            "message": f"Injected failure ({fault.status})", "documentation_url": DOCS}
        key, limit = self._rate_key(token, client)
        headers = {"content-type": _JSON, **self._limiter.quota(key, limit).headers(),
                   **fault.headers}
        return Reply(fault.status or 500, headers, encode_json(body))

    def _api_reply(self, method: str, path: str, query: list[tuple[str, str]],
                   token: str | None, client: str, if_none_match: str | None) -> Reply:
        key, limit = self._rate_key(token, client)
        if token is not None and self.tokens is not None and token not in self.tokens:
            key, limit = self._rate_key(None, client)
            return self._json(ApiResponse(401, {"message": "Bad credentials",
                                                "documentation_url": DOCS}),
                              self._limiter.spend(key, limit))
        quota = self._limiter.quota(key, limit)
        if path.rstrip("/") == "/rate_limit":
            core = {"limit": quota.limit, "used": quota.used, "remaining": quota.remaining,
                    "reset": quota.reset}
            return self._json(ApiResponse(200, {"resources": {"core": core}, "rate": core}), quota)
        if quota.remaining == 0:
            who = f"user ID {_user_id(token)}" if token is not None else client
            return self._json(ApiResponse(403, {
                "message": f"API rate limit exceeded for {who}.",
                "documentation_url": "https://docs.github.com/rest/overview/"
                                     "resources-in-the-rest-api#rate-limiting"}), quota)
        response = not_found() if method != "GET" else self._api.handle(
            path, query, self.api_url, push_access=token in self.push_tokens)
        body = encode_json(response.body)
        etag = f'"{hashlib.sha256(body).hexdigest()[:40]}"' if response.status == 200 else None
        if etag is not None and _etag_matches(if_none_match, etag):
            # GitHub: a 304 to an authenticated conditional request costs no quota.
            if token is None:
                quota = self._limiter.spend(key, limit)
            return Reply(304, {"etag": etag, **quota.headers()}, b"")
        reply = self._json(response, self._limiter.spend(key, limit), body)
        if etag is not None:
            reply.headers["etag"] = etag
            reply.headers["cache-control"] = "private, max-age=60, s-maxage=60"
        return reply

    @staticmethod
    def _json(response: ApiResponse, quota: Quota, body: bytes | None = None) -> Reply:
        headers = {"content-type": _JSON, "x-github-media-type": "github.v3; format=json",
                   "x-github-api-version-selected": "2022-11-28", **quota.headers(),
                   **response.headers}
        return Reply(response.status, headers,
                     body if body is not None else encode_json(response.body))

    def _git_reply(self, method: str, path: str, query: list[tuple[str, str]]) -> Reply:
        parts = split_git_path(path)
        if parts is None:
            return missing()
        name, inner = parts
        if method == "GET" and self._git.get(name.lower()) is None:
            # As github.com: a renamed repository's git URL redirects, a blocked one says so.
            if self.dataset.is_blocked(name):
                return Reply(451, {"content-type": "text/plain"},
                             b"Repository unavailable due to DMCA takedown.\n")
            renamed = self.dataset.rename_target(name)
            if renamed is not None:
                # git accepts the new base only if the query it sent comes back too.
                location = f"{GIT_PREFIX}{renamed.full_name}.git/{inner}"
                if query:
                    location += "?" + urlencode(query)
                return Reply(301, {"location": location}, b"")
        return self._git.serve(method, name.lower(), inner)


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    # Weak comparison, as for GET: W/"x" matches "x".
    wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in wanted or etag.removeprefix("W/") in wanted


def _user_id(token: str) -> int:
    return int(hashlib.sha256(token.encode()).hexdigest()[:7], 16)
