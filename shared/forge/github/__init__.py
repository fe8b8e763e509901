"""GitHub: REST client (I/O), wire shapes, and the pure conversion to v1 structs."""

from shared.forge.github.client import GitHubClient
from shared.forge.github.convert import (
    convert_comments,
    convert_issues,
    convert_pulls,
    convert_repo,
    convert_user,
)

__all__ = ["GitHubClient", "convert_comments", "convert_issues", "convert_pulls", "convert_repo", "convert_user"]
