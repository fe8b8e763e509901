"""Executing a validated query against the dataset: the root fields, the one field resolver
every type shares, and abstract-type resolution by `__typename`.

Values come from _graphql_shapes. A field resolves to, in order: a Connection paged with the
field's arguments, a callable's result (fields with arguments such as `pullRequest(number)`),
the stored value, or, when nothing is stored, null, or for a non-null field a harmless
default (false, 0, "", the enum's first value, an empty list or connection) so that a field
the fake does not model never fails a query that GitHub would answer.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLScalarType,
)

from shared.fakeforge import _graphql_shapes as shapes
from shared.fakeforge.dataset import Dataset, Json, RepoData


class GitHubError(Exception):
    """An error GitHub reports with a top-level `type` (NOT_FOUND, ...) next to its message."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_


@dataclass(frozen=True)
class Context:
    dataset: Dataset
    rate_limit: Json  # the RateLimit object: cost, limit, remaining, resetAt, used, nodeCount
    viewer_id: int


def resolve_field(source: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
    value = source.get(info.field_name) if isinstance(source, dict) else None
    try:
        if isinstance(value, shapes.Connection):
            return value.page(**args)
        if callable(value):
            return value(info, **args)
    except shapes.BadCursor as exc:
        raise GitHubError("INVALID_CURSOR_ARGUMENTS", str(exc)) from exc
    if value is None:
        kind = info.return_type
        if isinstance(kind, GraphQLNonNull):
            return _default(kind.of_type)
        if isinstance(kind, GraphQLObjectType) and kind.name.endswith("Connection"):
            return _default(kind)  # an unmodelled connection is empty rather than null
    return value


def _default(kind: GraphQLOutputType) -> Any:
    if isinstance(kind, GraphQLList):
        return []
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return {"Boolean": False, "Int": 0, "Float": 0.0}.get(kind.name, "")
    if isinstance(kind, GraphQLObjectType):
        if kind.name.endswith("Connection"):
            return shapes.Connection([], dict).page()
        return {}
    return None  # an interface or union: no concrete type to invent


def resolve_type(value: Any, info: GraphQLResolveInfo, abstract: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


def root_value(context: Context) -> Json:
    return {
        "repository": _repository_field,
        "node": lambda info, id: _node(context.dataset, id),
        "nodes": lambda info, ids: [_node_or_error(context.dataset, one) for one in ids],
        "rateLimit": lambda info, dryRun=False: context.rate_limit,
        "viewer": lambda info: {"__typename": "User", "login": f"user{context.viewer_id}",
                                "databaseId": context.viewer_id},
    }


def _repository_field(info: GraphQLResolveInfo, owner: str, name: str,
                      followRenames: bool = True) -> Json:
    dataset: Dataset = info.context.dataset
    full_name = f"{owner}/{name}"
    repo = None if dataset.is_missing(full_name) else dataset.find(full_name)
    if repo is None and followRenames:
        repo = dataset.rename_target(full_name)
    if repo is None or dataset.is_blocked(full_name):
        raise GitHubError("NOT_FOUND",
                          f"Could not resolve to a Repository with the name '{full_name}'.")
    return repository(repo)


def repository(repo: RepoData) -> Json:
    value = shapes.repository_stub(repo.repository)
    value.update({
        "pullRequest": lambda info, number: _pull_by_number(repo, number),
        "pullRequests": lambda info, **args: _pull_requests(repo, **args),
        "issue": lambda info, number: _issue_by_number(repo, number),
        "issueOrPullRequest": lambda info, number: _issue_or_pull(repo, number),
        "issues": lambda info, **args: _issues(repo, **args),
        "labels": shapes.Connection(list(repo.labels), shapes.label),
    })
    return value


def _children(repo: RepoData, number: int) -> shapes.PullChildren:
    # getattr: per-PR children arrive with a newer dataset; JSON round trips turn keys to str.
    def of(part: str) -> list[Json]:
        table = getattr(repo, part, None) or {}
        return list(table.get(number) or table.get(str(number)) or [])
    return shapes.PullChildren(of("reviews"), of("pr_commits"), of("pr_files"))


def pull_value(repo: RepoData, pull: Json) -> Json:
    value = shapes.pull_request(pull, _children(repo, int(pull["number"])))
    value["repository"] = shapes.repository_stub(repo.repository)
    return value


def _pull_by_number(repo: RepoData, number: int) -> Json:
    pull = next((p for p in repo.pulls if p["number"] == number), None)
    if pull is None:
        raise GitHubError("NOT_FOUND",
                          f"Could not resolve to a PullRequest with the number of {number}.")
    return pull_value(repo, pull)


def _issue_by_number(repo: RepoData, number: int) -> Json:
    found = next((i for i in repo.plain_issues if i["number"] == number), None)
    if found is None:
        raise GitHubError("NOT_FOUND",
                          f"Could not resolve to an Issue with the number of {number}.")
    return shapes.issue(found)


def _issue_or_pull(repo: RepoData, number: int) -> Json:
    pull = next((p for p in repo.pulls if p["number"] == number), None)
    if pull is not None:
        return pull_value(repo, pull)
    return _issue_by_number(repo, number)


_ORDER_KEYS = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "COMMENTS": "comments"}


def _ordered(items: list[Json], order_by: Json | None) -> list[Json]:
    if not order_by:
        return sorted(items, key=lambda item: item["number"])
    key = _ORDER_KEYS.get(order_by.get("field", ""), "created_at")
    return sorted(items, key=lambda item: (item.get(key) or "", item["number"]),
                  reverse=order_by.get("direction") == "DESC")


def _pull_requests(repo: RepoData, *, states: list[str] | None = None,
                   orderBy: Json | None = None, labels: list[str] | None = None,
                   headRefName: str | None = None, baseRefName: str | None = None,
                   **paging: Any) -> Json:
    pulls = [p for p in repo.pulls
             if (not states or shapes.pull_state(p) in states)
             and (not labels or {lab["name"] for lab in p.get("labels") or []} & set(labels))
             and (headRefName is None or (p.get("head") or {}).get("ref") == headRefName)
             and (baseRefName is None or (p.get("base") or {}).get("ref") == baseRefName)]
    return shapes.Connection(_ordered(pulls, orderBy),
                             lambda p: pull_value(repo, p)).page(**paging)


def _issues(repo: RepoData, *, states: list[str] | None = None, orderBy: Json | None = None,
            labels: list[str] | None = None, filterBy: Json | None = None,
            **paging: Any) -> Json:
    since = (filterBy or {}).get("since")
    issues = [i for i in repo.plain_issues
              if (not states or str(i.get("state", "")).upper() in states)
              and (not labels or {lab["name"] for lab in i.get("labels") or []} & set(labels))
              and (since is None or str(i.get("updated_at") or "") >= str(since))]
    return shapes.Connection(_ordered(issues, orderBy), shapes.issue).page(**paging)


def _node_or_error(dataset: Dataset, node_id: str) -> Json | None | GitHubError:
    # graphql-core turns an exception in a list into null plus an error at ["nodes", i],
    # which is how GitHub answers a batch with one unknown id.
    try:
        return _node(dataset, node_id)
    except GitHubError as exc:
        return exc


_LEGACY_ID = re.compile(r"^(\d{2}):([A-Za-z]+)(\d+)$")


def _node(dataset: Dataset, node_id: str) -> Json | None:
    """Resolves the legacy global ids the REST shapes carry (base64 "11:PullRequest42")."""
    try:
        match = _LEGACY_ID.match(base64.b64decode(node_id, validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        match = None
    if match is None or int(match.group(1)) != len(match.group(2)):
        raise GitHubError("NOT_FOUND", f"Could not resolve to a node with the global id of "
                                       f"'{node_id}'")
    kind, number = match.group(2), int(match.group(3))
    for repo in dataset.repositories.values():
        found = _node_in_repo(repo, kind, number)
        if found is not None:
            return found
    raise GitHubError("NOT_FOUND",
                      f"Could not resolve to a node with the global id of '{node_id}'")


def _node_in_repo(repo: RepoData, kind: str, database_id: int) -> Json | None:
    if kind == "PullRequest":
        pull = next((p for p in repo.pulls if p["id"] == database_id), None)
        return pull_value(repo, pull) if pull is not None else None
    if kind == "Issue":
        found = next((i for i in repo.issues if i["id"] == database_id), None)
        if found is None:
            return None
        if "pull_request" in found:
            return _issue_or_pull(repo, found["number"])
        return shapes.issue(found)
    if kind == "Repository" and repo.repository["id"] == database_id:
        return repository(repo)
    if kind in ("User", "Bot"):
        user = next((u for u in repo.users if u["id"] == database_id), None)
        return shapes.actor(user)
    if kind == "PullRequestReview":
        reviews = getattr(repo, "reviews", None) or {}
        for items in reviews.values():
            for item in items:
                if item.get("id") == database_id:
                    return shapes.review(item)
    return None


def located(error: GraphQLError) -> Json:
    """GitHub's error entry: graphql-core's formatting plus GitHub's top-level `type`."""
    body: Json = {}
    original = error.original_error
    if isinstance(original, GitHubError):
        body["type"] = original.type
    body.update(error.formatted)
    return body
