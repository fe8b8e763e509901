"""Platform abstraction: repository URLs, the shared HTTP layer, rate limits; one package per forge."""

from shared.forge.http import backoff_delay, error_for_status, parse_link_header
from shared.forge.ratelimit import TokenPool, token_label
from shared.forge.urls import RepoRef, parse_repo_url, redact_userinfo

__all__ = [
    "RepoRef",
    "TokenPool",
    "backoff_delay",
    "error_for_status",
    "parse_link_header",
    "parse_repo_url",
    "redact_userinfo",
    "token_label",
]
