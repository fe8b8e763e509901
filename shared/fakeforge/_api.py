"""GitHub REST routes over a Dataset: path + query in, status + JSON + headers out.

No sockets, no clock, no shared state: the server (server.py) adds rate limits, ETags, faults
and the request log around this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from shared.fakeforge import _paging as paging
from shared.fakeforge._paging import InvalidParam, QueryPairs
from shared.fakeforge.dataset import Dataset, Json, RepoData

DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$")
_REPO_ID_PATH = re.compile(r"^/repositories/(?P<id>\d+)(?P<rest>/.*)?$")
_USER_PATH = re.compile(r"^/users/(?P<login>[^/]+)$")
_BLOCK = {
    "reason": "tos",
    "created_at": "2021-06-01T12:00:00Z",
    "html_url": "https://github.com/tos",
}


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def not_found() -> ApiResponse:
    return ApiResponse(404, {"message": "Not Found", "documentation_url": DOCS})


def _invalid(resource: str, error: InvalidParam) -> ApiResponse:
    return ApiResponse(422, {
        "message": "Validation Failed",
        "errors": [{"value": error.value, "resource": resource, "field": error.field,
                    "code": "invalid"}],
        "documentation_url": DOCS,
    })


class Api:
    def __init__(self, dataset: Dataset, *, page_size_max: int = 100,
                 repository_id_links: bool = False) -> None:
        self.dataset = dataset
        self.page_size_max = page_size_max
        self.repository_id_links = repository_id_links

    def handle(self, path: str, query: QueryPairs, base_url: str) -> ApiResponse:
        path = path.rstrip("/") or "/"
        if match := _REPO_PATH.match(path):
            full_name = f"{match['owner']}/{match['name']}"
            return self._repo_by_name(full_name, match["rest"] or "", query, base_url)
        if match := _REPO_ID_PATH.match(path):
            repo = self.dataset.find_by_id(int(match["id"]))
            if repo is None:
                return not_found()
            if self.dataset.is_blocked(repo.full_name):
                return ApiResponse(451, {"message": "Repository access blocked", "block": _BLOCK})
            return self._repo_resource(repo, match["rest"] or "", query, base_url + path)
        if match := _USER_PATH.match(path):
            wanted = match["login"].lower()
            users = self.dataset.distinct_users().values()
            user = next((u for u in users if u["login"].lower() == wanted), None)
            return ApiResponse(200, user) if user is not None else not_found()
        return not_found()

    def _repo_by_name(self, full_name: str, rest: str, query: QueryPairs,
                      base_url: str) -> ApiResponse:
        if self.dataset.is_blocked(full_name):
            return ApiResponse(451, {"message": "Repository access blocked", "block": _BLOCK})
        if self.dataset.is_missing(full_name):
            return not_found()
        repo = self.dataset.find(full_name)
        if repo is not None:
            # Real GitHub points Link at /repositories/{id}/...; by default the fake keeps the
            # requested path so request logs read naturally.
            url_base = f"{base_url}/repositories/{repo.repository['id']}{rest}" \
                if self.repository_id_links else f"{base_url}/repos/{full_name}{rest}"
            return self._repo_resource(repo, rest, query, url_base)
        target = self.dataset.rename_target(full_name)
        if target is None:
            return not_found()
        location = f"{base_url}/repositories/{target.repository['id']}{rest}"
        if query:
            location += "?" + urlencode(query)
        return ApiResponse(301, {
            "message": "Moved Permanently",
            "url": location,
            "documentation_url": "https://docs.github.com/v3/#http-redirects",
        }, {"location": location})

    def _repo_resource(self, repo: RepoData, rest: str, query: QueryPairs,
                       url_base: str) -> ApiResponse:
        routes: dict[str, Callable[[RepoData, QueryPairs], list[Json]]] = {
            "/issues": self._issues,
            "/pulls": self._pulls,
            "/issues/comments": self._comments,
        }
        if rest == "":
            return ApiResponse(200, repo.repository)
        if rest not in routes:
            return not_found()
        resource = {"/issues": "Issue", "/pulls": "PullRequest"}.get(rest, "IssueComment")
        try:
            items = routes[rest](repo, query)
            per_page, page = paging.page_params(query, self.page_size_max)
        except InvalidParam as error:
            return _invalid(resource, error)
        chunk, last = paging.paginate(items, per_page, page)
        link = paging.link_header(url_base, query, page, last)
        return ApiResponse(200, chunk, {"link": link} if link else {})

    def _issues(self, repo: RepoData, query: QueryPairs) -> list[Json]:
        state = paging.choice(query, "state", ("open", "closed", "all"), "open")
        sort = paging.choice(query, "sort", ("created", "updated", "comments"), "created")
        direction = paging.choice(query, "direction", ("asc", "desc"), "desc")
        since = paging.parse_since(query)
        items = [i for i in repo.issues if state == "all" or i["state"] == state]
        items = _since(items, since)
        keys: dict[str, Callable[[Json], Any]] = {
            "created": lambda i: (i["created_at"], i["number"]),
            "updated": lambda i: (i["updated_at"], i["number"]),
            "comments": lambda i: (i["comments"], i["created_at"], i["number"]),
        }
        return sorted(items, key=keys[sort], reverse=direction == "desc")

    def _pulls(self, repo: RepoData, query: QueryPairs) -> list[Json]:
        state = paging.choice(query, "state", ("open", "closed", "all"), "open")
        sort = paging.choice(query, "sort", ("created", "updated", "popularity", "long-running"),
                             "created")
        # GitHub: "Default: desc when sort is created or sort is not specified, otherwise asc."
        direction = paging.choice(query, "direction", ("asc", "desc"),
                                  "desc" if sort == "created" else "asc")
        comments = {i["number"]: i["comments"] for i in repo.issues if "pull_request" in i}

        def age(pull: Json) -> float:
            ended = pull["closed_at"] or pull["updated_at"]
            delta = paging.parse_timestamp(ended) - paging.parse_timestamp(pull["created_at"])
            return delta.total_seconds()

        keys: dict[str, Callable[[Json], Any]] = {
            "created": lambda p: (p["created_at"], p["number"]),
            "updated": lambda p: (p["updated_at"], p["number"]),
            "popularity": lambda p: (comments.get(p["number"], 0), p["number"]),
            "long-running": lambda p: (age(p), p["number"]),
        }
        items = [p for p in repo.pulls if state == "all" or p["state"] == state]
        return sorted(items, key=keys[sort], reverse=direction == "desc")

    def _comments(self, repo: RepoData, query: QueryPairs) -> list[Json]:
        sort = paging.choice(query, "sort", ("created", "updated"), "created")
        # GitHub ignores `direction` without `sort`; comments then come oldest first.
        explicit = paging.param(query, "sort") is not None
        direction = paging.choice(query, "direction", ("asc", "desc"), "asc") if explicit \
            else "asc"
        items = _since(repo.comments, paging.parse_since(query))
        field_name = "created_at" if sort == "created" else "updated_at"
        return sorted(items, key=lambda c: (c[field_name], c["id"]),
                      reverse=direction == "desc")


def _since(items: list[Json], since: datetime | None) -> list[Json]:
    if since is None:
        return items
    return [i for i in items if paging.parse_timestamp(i["updated_at"]) >= since]
