"""GitHub: REST and GraphQL clients (I/O), wire shapes, and the pure conversion to v1 structs."""

from shared.forge.github.client import STREAMS, CloneTraffic, GitHubClient, Listing, RequestCounts
from shared.forge.github.convert import (
    convert_comments,
    convert_issues,
    convert_pulls,
    convert_repo,
    convert_repo_info,
    convert_user,
)
from shared.forge.github.graphql import BATCH_SIZES, GraphQLClient, PullChildren, graphql_url

__all__ = [
    "BATCH_SIZES",
    "STREAMS",
    "CloneTraffic",
    "GitHubClient",
    "GraphQLClient",
    "Listing",
    "PullChildren",
    "RequestCounts",
    "convert_comments",
    "convert_issues",
    "convert_pulls",
    "convert_repo",
    "convert_repo_info",
    "convert_user",
    "graphql_url",
]
