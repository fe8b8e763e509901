"""REST-shaped dataset dicts -> the values the GraphQL executor walks.

Pure functions. A value is a dict keyed by GraphQL field name; `__typename` names the
concrete type where the schema has an interface or union (Actor, RequestedReviewer, Node).
A connection field holds a `Connection`, which pages itself with the field's arguments.
Fields a mapper does not set resolve to null (see _graphql.resolve_field).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]

_CURSOR_PREFIX = "cursor:v2:"


def encode_cursor(index: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{index}".encode()).decode()


def decode_cursor(cursor: str) -> int | None:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX):].isdigit():
        return None
    return int(text[len(_CURSOR_PREFIX):])


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Connection:
    """A list behind a connection field; `convert` maps one REST item to its GraphQL value
    (applied only to the page served, so a 250-commit PR converts 100 commits per page)."""
    items: list[Any]
    convert: Callable[[Any], Json | None]

    def page(self, first: int | None = None, last: int | None = None,
             after: str | None = None, before: str | None = None, **_: Any) -> Json:
        start, end = 0, len(self.items)
        if after is not None:
            index = decode_cursor(after)
            if index is None:
                raise BadCursor(f"`{after}` does not appear to be a valid cursor.")
            start = index + 1
        if before is not None:
            index = decode_cursor(before)
            if index is None:
                raise BadCursor(f"`{before}` does not appear to be a valid cursor.")
            end = min(end, index)
        window = list(range(start, max(start, end)))
        if first is not None:
            window = window[:first]
        if last is not None:
            window = window[-last:] if last else []
        nodes = [self.convert(self.items[i]) for i in window]
        return {
            "totalCount": len(self.items),
            "nodes": nodes,
            "edges": [{"cursor": encode_cursor(i), "node": n} for i, n in zip(window, nodes, strict=True)],
            "pageInfo": {
                "hasNextPage": bool(window) and window[-1] + 1 < end,
                "hasPreviousPage": bool(window) and window[0] > start,
                "startCursor": encode_cursor(window[0]) if window else None,
                "endCursor": encode_cursor(window[-1]) if window else None,
            },
        }


def _upper(value: str | None, default: str) -> str:
    return value.upper() if value else default


def actor(user: Json | None) -> Json | None:
    """REST simple-user -> Actor. GraphQL names a bot without REST's `[bot]` suffix."""
    if user is None:
        return None
    kind = user.get("type") or "User"
    typename = kind if kind in ("User", "Bot", "Organization", "Mannequin") else "User"
    login = str(user.get("login", ""))
    return {
        "__typename": typename,
        "id": user.get("node_id"),
        "databaseId": user.get("id"),
        "login": login.removesuffix("[bot]") if typename == "Bot" else login,
        "url": user.get("html_url"),
        "avatarUrl": user.get("avatar_url"),
        "resourcePath": "/" + login,
    }


def team(body: Json) -> Json:
    return {"__typename": "Team", "id": body.get("node_id"), "databaseId": body.get("id"),
            "slug": body.get("slug"), "name": body.get("name"), "url": body.get("html_url"),
            "description": body.get("description")}


def label(body: Json) -> Json:
    return {"__typename": "Label", "id": body.get("node_id"), "name": body.get("name"),
            "color": body.get("color"), "description": body.get("description"),
            "isDefault": bool(body.get("default")), "url": body.get("url")}


def review(body: Json) -> Json:
    return {
        "__typename": "PullRequestReview",
        "id": body.get("node_id"),
        "databaseId": body.get("id"),
        "fullDatabaseId": str(body["id"]) if body.get("id") is not None else None,
        "author": actor(body.get("user")),
        "body": body.get("body") or "",
        "state": body.get("state") or "COMMENTED",
        "submittedAt": body.get("submitted_at"),
        "createdAt": body.get("submitted_at"),
        "publishedAt": body.get("submitted_at"),
        "commit": {"__typename": "Commit", "oid": body["commit_id"]}
        if body.get("commit_id") else None,
        "url": body.get("html_url"),
        "authorAssociation": _upper(body.get("author_association"), "NONE"),
    }


def _git_actor(person: Json | None, user: Json | None) -> Json | None:
    if person is None:
        return None
    return {"name": person.get("name"), "email": person.get("email"),
            "date": person.get("date"), "user": actor(user)}


def pr_commit(body: Json, pr_url: str) -> Json:
    """REST /pulls/{n}/commits item -> PullRequestCommit."""
    sha = str(body.get("sha", ""))
    commit = body.get("commit") or {}
    message = str(commit.get("message") or "")
    headline, _, rest = message.partition("\n")
    stats = body.get("stats") or {}
    parents = [{"__typename": "Commit", "oid": p.get("sha")} for p in body.get("parents") or []]
    return {
        "__typename": "PullRequestCommit",
        "id": body.get("node_id"),
        "url": f"{pr_url}/commits/{sha}",
        "commit": {
            "__typename": "Commit",
            "id": commit.get("node_id") or body.get("node_id"),
            "oid": sha,
            "abbreviatedOid": sha[:7],
            "message": message,
            "messageHeadline": headline,
            "messageBody": rest.strip("\n"),
            "additions": int(stats.get("additions", 0)),
            "deletions": int(stats.get("deletions", 0)),
            "changedFilesIfAvailable": len(body["files"]) if "files" in body else None,
            "authoredDate": (commit.get("author") or {}).get("date"),
            "committedDate": (commit.get("committer") or {}).get("date"),
            "author": _git_actor(commit.get("author"), body.get("author")),
            "committer": _git_actor(commit.get("committer"), body.get("committer")),
            "url": body.get("html_url"),
            "parents": Connection(parents, lambda p: p),
        },
    }


_CHANGE_TYPES = {"added": "ADDED", "removed": "DELETED", "modified": "MODIFIED",
                 "renamed": "RENAMED", "copied": "COPIED", "changed": "CHANGED",
                 "unchanged": "MODIFIED"}


def changed_file(body: Json) -> Json:
    return {"path": body.get("filename"), "additions": int(body.get("additions", 0)),
            "deletions": int(body.get("deletions", 0)),
            "changeType": _CHANGE_TYPES.get(str(body.get("status")), "MODIFIED"),
            "viewerViewedState": "UNVIEWED"}


def review_request(body: Json, pr_node_id: str, index: int) -> Json:
    reviewer = team(body) if "slug" in body else actor(body)
    return {"__typename": "ReviewRequest", "id": f"{pr_node_id}:rr{index}",
            "asCodeOwner": False, "requestedReviewer": reviewer}


_MERGE_STATES = {"behind", "blocked", "clean", "dirty", "draft", "has_hooks", "unknown",
                 "unstable"}


def _mergeable(pull: Json) -> str:
    if pull.get("merged_at") or pull.get("state") == "closed":
        return "UNKNOWN" if "mergeable" not in pull else _mergeable_flag(pull["mergeable"])
    if "mergeable" in pull:
        return _mergeable_flag(pull["mergeable"])
    state = pull.get("mergeable_state")
    if state == "dirty":
        return "CONFLICTING"
    return "MERGEABLE" if state in _MERGE_STATES - {"unknown"} else "UNKNOWN"


def _mergeable_flag(flag: bool | None) -> str:
    return {True: "MERGEABLE", False: "CONFLICTING"}.get(flag, "UNKNOWN")  # type: ignore[arg-type]


def pull_state(pull: Json) -> str:
    if pull.get("merged_at"):
        return "MERGED"
    return "CLOSED" if pull.get("state") == "closed" else "OPEN"


def _branch_repo(branch: Json | None) -> Json | None:
    repo = (branch or {}).get("repo")
    return repository_stub(repo) if repo else None


def repository_stub(repo: Json) -> Json:
    owner = repo.get("owner") or {}
    return {"__typename": "Repository", "id": repo.get("node_id"), "databaseId": repo.get("id"),
            "name": repo.get("name"), "nameWithOwner": repo.get("full_name"),
            "url": repo.get("html_url"), "isFork": bool(repo.get("fork")),
            "isPrivate": bool(repo.get("private")), "createdAt": repo.get("created_at"),
            "updatedAt": repo.get("updated_at"), "pushedAt": repo.get("pushed_at"),
            "owner": actor(owner)}


@dataclass(frozen=True)
class PullChildren:
    reviews: list[Json]
    commits: list[Json]
    files: list[Json]


def pull_request(pull: Json, children: PullChildren) -> Json:
    head, base = pull.get("head") or {}, pull.get("base") or {}
    requests = [*(pull.get("requested_reviewers") or []), *(pull.get("requested_teams") or [])]
    node_id = str(pull.get("node_id"))
    url = str(pull.get("html_url"))
    merged = bool(pull.get("merged_at"))
    draft = bool(pull.get("draft"))
    state = pull.get("mergeable_state")
    return {
        "__typename": "PullRequest",
        "id": node_id,
        "databaseId": pull.get("id"),
        "fullDatabaseId": str(pull["id"]) if pull.get("id") is not None else None,
        "number": pull.get("number"),
        "title": pull.get("title"),
        "body": pull.get("body") or "",
        "url": url,
        "state": pull_state(pull),
        "closed": pull.get("state") == "closed",
        "locked": bool(pull.get("locked")),
        "merged": merged,
        "mergedAt": pull.get("merged_at"),
        "closedAt": pull.get("closed_at"),
        "createdAt": pull.get("created_at"),
        "updatedAt": pull.get("updated_at"),
        "mergedBy": actor(pull.get("merged_by")),
        "mergeCommit": {"__typename": "Commit", "oid": pull["merge_commit_sha"]}
        if merged and pull.get("merge_commit_sha") else None,
        "mergeStateStatus": (state.upper() if state in _MERGE_STATES
                             else "DRAFT" if draft and not merged else "UNKNOWN"),
        "mergeable": _mergeable(pull),
        "isDraft": draft,
        "author": actor(pull.get("user")),
        "authorAssociation": _upper(pull.get("author_association"), "NONE"),
        "headRefName": head.get("ref") or "",
        "headRefOid": head.get("sha") or "",
        "baseRefName": base.get("ref") or "",
        "baseRefOid": base.get("sha") or "",
        "headRepository": _branch_repo(head),
        "baseRepository": _branch_repo(base),
        "isCrossRepository": ((head.get("repo") or {}).get("id")
                              != (base.get("repo") or {}).get("id")),
        "changedFiles": len(children.files),
        "additions": sum(int(f.get("additions", 0)) for f in children.files),
        "deletions": sum(int(f.get("deletions", 0)) for f in children.files),
        "labels": Connection(list(pull.get("labels") or []), label),
        "assignees": Connection(list(pull.get("assignees") or []), actor),
        "reviewRequests": Connection(
            list(enumerate(requests)), lambda pair: review_request(pair[1], node_id, pair[0])),
        "reviews": Connection(children.reviews, review),
        "commits": Connection(children.commits, lambda c: pr_commit(c, url)),
        "files": Connection(children.files, changed_file),
    }


def issue(body: Json) -> Json:
    return {
        "__typename": "Issue",
        "id": body.get("node_id"),
        "databaseId": body.get("id"),
        "number": body.get("number"),
        "title": body.get("title"),
        "body": body.get("body") or "",
        "url": body.get("html_url"),
        "state": _upper(body.get("state"), "OPEN"),
        "stateReason": body["state_reason"].upper() if body.get("state_reason") else None,
        "closed": body.get("state") == "closed",
        "locked": bool(body.get("locked")),
        "createdAt": body.get("created_at"),
        "updatedAt": body.get("updated_at"),
        "closedAt": body.get("closed_at"),
        "author": actor(body.get("user")),
        "authorAssociation": _upper(body.get("author_association"), "NONE"),
        "labels": Connection(list(body.get("labels") or []), label),
        "assignees": Connection(list(body.get("assignees") or []), actor),
    }
