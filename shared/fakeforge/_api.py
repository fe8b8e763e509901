"""GitHub REST routes over a Dataset: path + query in, status + JSON + headers out.

No sockets, no clock, no shared state: the server (server.py) adds rate limits, ETags, faults
and the request log around this.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlencode

from shared.fakeforge import _accounts as accounts
from shared.fakeforge import _paging as paging
from shared.fakeforge._paging import InvalidParam, QueryPairs
from shared.fakeforge._shapes import API, WEB
from shared.fakeforge.dataset import COMMUNITY_FILES, PULL_DETAIL_KEYS, Dataset, Json, RepoData

DOCS = "https://docs.github.com/rest"
_REPO_PATH = re.compile(r"^/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)(?P<rest>/.*)?$")
_REPO_ID_PATH = re.compile(r"^/repositories/(?P<id>\d+)(?P<rest>/.*)?$")
_USER_PATH = re.compile(r"^/users/(?P<login>[^/]+)$")
_ORG_MEMBERS_PATH = re.compile(r"^/orgs/(?P<org>[^/]+)/members$")
_COMMIT_PATH = re.compile(r"^/commits/(?P<sha>[^/]+)$")
_DOCS_COMMIT = "https://docs.github.com/rest/commits/commits#get-a-commit"
# GitHub stops listing a PR's commits after 250 and its files after 3000.
PULL_COMMITS_CAP = 250
PULL_FILES_CAP = 3000
_PUSH_REQUIRED = {"message": "Must have push access to repository",
                  "documentation_url": f"{DOCS}/metrics/traffic#get-repository-clones"}
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
                 repository_id_links: bool = False,
                 commits: Callable[[str, str], Json | None] | None = None) -> None:
        self.dataset = dataset
        self.page_size_max = page_size_max
        self.repository_id_links = repository_id_links
        self.commits = commits  # (full name, sha) -> the commit object, from the served git history

    def handle(self, path: str, query: QueryPairs, base_url: str, *,
               push_access: bool = False) -> ApiResponse:
        """`push_access`: the caller's token may push to every repository (traffic routes)."""
        path = path.rstrip("/") or "/"
        if match := _REPO_PATH.match(path):
            full_name = f"{match['owner']}/{match['name']}"
            return self._repo_by_name(full_name, match["rest"] or "", query, base_url,
                                      push_access)
        if match := _REPO_ID_PATH.match(path):
            repo = self.dataset.find_by_id(int(match["id"]))
            if repo is None:
                return not_found()
            if self.dataset.is_blocked(repo.full_name):
                return ApiResponse(451, {"message": "Repository access blocked", "block": _BLOCK})
            return self._repo_resource(repo, match["rest"] or "", query, base_url + path,
                                       push_access)
        if match := _ORG_MEMBERS_PATH.match(path):
            members = self.dataset.find_org_members(match["org"])
            if members is None:
                return not_found()
            return self._page("User", lambda: members, query, base_url + path)
        if match := _USER_PATH.match(path):
            return _found(accounts.find_account(self.dataset, match["login"]))
        if match := accounts.ORG_REPOS_PATH.match(path):
            return self._page("Repository", partial(accounts.owned_repos, self.dataset, match["login"], query,
                                                    organization=True), query, base_url + path)
        if match := accounts.USER_REPOS_PATH.match(path):
            return self._page("Repository", partial(accounts.owned_repos, self.dataset, match["login"], query,
                                                    organization=False), query, base_url + path)
        if match := accounts.USER_EVENTS_PATH.match(path):
            return self._page("Event", partial(accounts.public_events, self.dataset, match["login"]), query,
                              base_url + path)
        return not_found()

    def _repo_by_name(self, full_name: str, rest: str, query: QueryPairs,
                      base_url: str, push_access: bool) -> ApiResponse:
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
            return self._repo_resource(repo, rest, query, url_base, push_access)
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
                       url_base: str, push_access: bool) -> ApiResponse:
        if rest == "":
            return ApiResponse(200, repo.repository)
        if (commit := _COMMIT_PATH.match(rest)) and self.commits is not None:
            found = self.commits(repo.full_name, commit["sha"])
            return ApiResponse(200, found) if found is not None else ApiResponse(
                422, {"message": f"No commit found for SHA: {commit['sha']}", "documentation_url": _DOCS_COMMIT})
        if rest == "/traffic/clones":
            if not push_access:
                return ApiResponse(403, _PUSH_REQUIRED)
            return _found(repo.clone_traffic)
        for route in _ROUTES:
            if match := route.pattern.match(rest):
                if route.one is not None:
                    return _found(route.one(repo, match))
                assert route.items is not None
                return self._page(route.resource, partial(route.items, self, repo, match, query),
                                  query, url_base)
        return not_found()

    def _page(self, resource: str, listed: Callable[[], list[Json] | None], query: QueryPairs,
              url_base: str) -> ApiResponse:
        try:
            items = listed()
            per_page, page = paging.page_params(query, self.page_size_max)
        except InvalidParam as error:
            return _invalid(resource, error)
        if items is None:
            return not_found()
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
        items = [_listed_pull(p) for p in repo.pulls if state == "all" or p["state"] == state]
        return sorted(items, key=keys[sort], reverse=direction == "desc")

    def _comments(self, repo: RepoData, query: QueryPairs) -> list[Json]:
        return _sorted_comments(repo.comments, query)

    def _review_comments(self, repo: RepoData, match: re.Match[str],
                         query: QueryPairs) -> list[Json] | None:
        if match["number"] is None:
            return _sorted_comments(repo.review_comments, query)
        pull = repo.pull(int(match["number"]))
        if pull is None:
            return None
        return _sorted_comments(
            [c for c in repo.review_comments if c["pull_request_url"] == pull["url"]], query)

    def _issue_events(self, repo: RepoData, match: re.Match[str],
                      query: QueryPairs) -> list[Json] | None:
        if match["number"] is None:
            # The repository's events come newest first; there is no `since`.
            return sorted(repo.issue_events, key=lambda e: e["id"], reverse=True)
        issue = repo.issue(int(match["number"]))
        if issue is None:
            return None
        # An issue's own events come oldest first and do not embed the issue.
        return [{key: value for key, value in event.items() if key != "issue"}
                for event in repo.issue_events if event["issue"]["number"] == issue["number"]]


def _by_pull(part: str, cap: int | None = None) -> _Lister:
    """A lister for a RepoData dict keyed by PR number; 404 when the PR does not exist."""
    def items(api: Api, repo: RepoData, match: re.Match[str],
              query: QueryPairs) -> list[Json] | None:
        number = int(match["number"])
        if repo.pull(number) is None:
            return None
        found: list[Json] = getattr(repo, part).get(number, [])
        return found[:cap] if cap is not None else found
    return items


def _listed_pull(pull: Json) -> Json:
    return {key: value for key, value in pull.items() if key not in PULL_DETAIL_KEYS}


def _sorted_comments(comments: list[Json], query: QueryPairs) -> list[Json]:
    sort = paging.choice(query, "sort", ("created", "updated"), "created")
    # GitHub ignores `direction` without `sort`; comments then come oldest first.
    explicit = paging.param(query, "sort") is not None
    direction = paging.choice(query, "direction", ("asc", "desc"), "asc") if explicit \
        else "asc"
    items = _since(comments, paging.parse_since(query))
    field_name = "created_at" if sort == "created" else "updated_at"
    return sorted(items, key=lambda c: (c[field_name], c["id"]), reverse=direction == "desc")


def _found(body: Json | None) -> ApiResponse:
    return ApiResponse(200, body) if body is not None else not_found()


def _single_pull(repo: RepoData, match: re.Match[str]) -> Json | None:
    return repo.pull(int(match["number"]))


def _community_profile(repo: RepoData, match: re.Match[str]) -> Json | None:
    return repo.community_profile


def _contents(repo: RepoData, match: re.Match[str]) -> Json | None:
    path = match["path"]
    key = next((k for k, p in COMMUNITY_FILES.items() if p == path), None)
    text = repo.community_file_text(key) if key is not None else None
    if text is None:
        return None
    raw = text.encode()
    sha = hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
    encoded = base64.b64encode(raw).decode()
    # GitHub wraps the base64 content at 60 characters.
    content = "".join(encoded[i:i + 60] + "\n" for i in range(0, len(encoded), 60))
    api = f"{API}/repos/{repo.full_name}"
    urls = {"url": f"{api}/contents/{path}?ref=main", "git_url": f"{api}/git/blobs/{sha}",
            "html_url": f"{WEB}/{repo.full_name}/blob/main/{path}"}
    return {"name": path.rsplit("/", 1)[-1], "path": path, "sha": sha, "size": len(raw), **urls,
            "download_url": f"https://raw.githubusercontent.com/{repo.full_name}/main/{path}",
            "type": "file", "content": content, "encoding": "base64",
            "_links": {"self": urls["url"], "git": urls["git_url"], "html": urls["html_url"]}}


_Lister = Callable[["Api", RepoData, re.Match[str], QueryPairs], "list[Json] | None"]


@dataclass(frozen=True)
class _Route:
    pattern: re.Pattern[str]
    resource: str  # names the resource in 422 Validation Failed
    items: _Lister | None = None  # a paged list (None: 404)
    one: Callable[[RepoData, re.Match[str]], Json | None] | None = None  # a single object


def _plain(method: Callable[[Api, RepoData, QueryPairs], list[Json]]) -> _Lister:
    return lambda api, repo, match, query: method(api, repo, query)


def _route(pattern: str, resource: str, *, items: _Lister | None = None,
           one: Callable[[RepoData, re.Match[str]], Json | None] | None = None) -> _Route:
    return _Route(re.compile(f"^{pattern}$"), resource, items, one)


_NUMBER = r"/(?P<number>\d+)"
_ROUTES = [
    _route("/issues", "Issue", items=_plain(Api._issues)),
    _route("/issues/comments", "IssueComment", items=_plain(Api._comments)),
    _route(f"/issues(?:{_NUMBER})?/events", "IssueEvent", items=Api._issue_events),
    _route("/pulls", "PullRequest", items=_plain(Api._pulls)),
    _route(f"/pulls(?:{_NUMBER})?/comments", "PullRequestReviewComment",
           items=Api._review_comments),
    _route(f"/pulls{_NUMBER}", "PullRequest", one=_single_pull),
    _route(f"/pulls{_NUMBER}/reviews", "PullRequestReview",
           items=_by_pull("reviews")),
    _route(f"/pulls{_NUMBER}/commits", "Commit",
           items=_by_pull("pr_commits", PULL_COMMITS_CAP)),
    _route(f"/pulls{_NUMBER}/files", "File",
           items=_by_pull("pr_files", PULL_FILES_CAP)),
    _route("/releases", "Release", items=lambda api, repo, match, query: repo.releases),
    # `anon` (list anonymous contributors too) is accepted and ignored.
    _route("/contributors", "Contributor",
           items=lambda api, repo, match, query: repo.contributors),
    _route("/community/profile", "CommunityProfile", one=_community_profile),
    _route("/contents/(?P<path>.+)", "Content", one=_contents),
]


def _since(items: list[Json], since: datetime | None) -> list[Json]:
    if since is None:
        return items
    return [i for i in items if paging.parse_timestamp(i["updated_at"]) >= since]
