"""The GitHub GraphQL shapes we read (the selections in queries.py), as msgspec structs."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class Gql(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Base of GraphQL shapes: camelCase on the wire."""


class GqlActor(Gql):
    login: str
    typename: str | None = msgspec.field(default=None, name="__typename")
    database_id: int | None = None
    id: str | None = None
    avatar_url: str | None = None
    url: str | None = None


class GqlGitActor(Gql):
    name: str | None = None
    email: str | None = None
    date: datetime | None = None
    user: GqlActor | None = None


class GqlPageInfo(Gql):
    has_next_page: bool = False
    end_cursor: str | None = None


class GqlOid(Gql):
    oid: str


class GqlReview(Gql):
    state: str
    full_database_id: str | int | None = None  # BigInt: a string on the wire
    id: str | None = None
    author_association: str | None = None
    body: str | None = None
    url: str | None = None
    submitted_at: datetime | None = None
    author: GqlActor | None = None
    commit: GqlOid | None = None


class GqlCommit(Gql):
    oid: str
    message: str = ""
    additions: int | None = None
    deletions: int | None = None
    author: GqlGitActor | None = None
    committer: GqlGitActor | None = None


class GqlPrCommit(Gql):
    commit: GqlCommit


class GqlFile(Gql):
    path: str
    additions: int | None = None
    deletions: int | None = None
    change_type: str | None = None


class GqlReviews(Gql):
    total_count: int = 0
    page_info: GqlPageInfo = GqlPageInfo()
    nodes: list[GqlReview | None] = []


class GqlCommits(Gql):
    total_count: int = 0
    page_info: GqlPageInfo = GqlPageInfo()
    nodes: list[GqlPrCommit | None] = []


class GqlFiles(Gql):
    total_count: int = 0
    page_info: GqlPageInfo = GqlPageInfo()
    nodes: list[GqlFile | None] = []


class GqlReviewer(Gql):
    typename: str | None = msgspec.field(default=None, name="__typename")
    database_id: int | None = None
    slug: str | None = None
    name: str | None = None


class GqlReviewRequest(Gql):
    requested_reviewer: GqlReviewer | None = None


class GqlReviewRequests(Gql):
    nodes: list[GqlReviewRequest | None] = []


class GqlPull(Gql):
    """A pull request with its first 100 of each child (``nodes`` gives {} for a non-PR id)."""

    id: str | None = None
    number: int | None = None
    full_database_id: str | int | None = None  # BigInt: a string on the wire
    merge_state_status: str | None = None
    mergeable: str | None = None
    merged_by: GqlActor | None = None
    review_requests: GqlReviewRequests | None = None
    reviews: GqlReviews | None = None
    commits: GqlCommits | None = None
    files: GqlFiles | None = None


class GqlRateLimit(Gql):
    cost: int = 1
    remaining: int | None = None
    reset_at: datetime | None = None


class GqlNodes(Gql):
    nodes: list[GqlPull | None] = []
    rate_limit: GqlRateLimit | None = None


class GqlNode(Gql):
    node: GqlPull | None = None
    rate_limit: GqlRateLimit | None = None


class GqlTotal(Gql):
    total_count: int = 0


class GqlHistory(Gql):
    history: GqlTotal | None = None


class GqlRef(Gql):
    target: GqlHistory | None = None


class GqlCounts(Gql):
    open_issues: GqlTotal | None = None
    closed_issues: GqlTotal | None = None
    open_pulls: GqlTotal | None = None
    closed_pulls: GqlTotal | None = None
    merged_pulls: GqlTotal | None = None
    default_branch_ref: GqlRef | None = None


class GqlRepoCounts(Gql):
    repository: GqlCounts | None = None
    rate_limit: GqlRateLimit | None = None


class GqlError(msgspec.Struct, frozen=True, kw_only=True):
    message: str = ""
    type: str | None = None
    path: list[str | int] | None = None


class GqlResponse(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    data: T | None = None
    errors: list[GqlError] = []


nodes_decoder = msgspec.json.Decoder(GqlResponse[GqlNodes])
node_decoder = msgspec.json.Decoder(GqlResponse[GqlNode])
counts_decoder = msgspec.json.Decoder(GqlResponse[GqlRepoCounts])
