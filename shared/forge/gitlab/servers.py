"""The GitLab APIs a process talks to: gitlab.com's and each self-managed server's (one
connection pool and one token pool each, see :mod:`shared.forge.servers`)."""

from __future__ import annotations

from shared.forge.gitlab.client import GitLabClient
from shared.forge.servers import ApiServers
from shared.gitlabhosts import HOSTS


class GitLabServers(ApiServers[GitLabClient]):
    client_class = GitLabClient
    platform = "GitLab"
    hosts_variable = HOSTS
