"""The GitHub APIs a process talks to: github.com's and each Enterprise server's (one connection
pool and one token pool each, see :mod:`shared.forge.servers`). Used by every service that
calls GitHub (the collector, the resolver)."""

from __future__ import annotations

from shared.forge.github.client import GitHubClient
from shared.forge.servers import ApiServer, ApiServers, ServerKey, api_host, server_key
from shared.githubhosts import HOSTS

__all__ = ["ApiServer", "GitHubServers", "ServerKey", "api_host", "server_key"]


class GitHubServers(ApiServers[GitHubClient]):
    client_class = GitHubClient
    platform = "GitHub"
    hosts_variable = HOSTS
