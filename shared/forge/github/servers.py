"""The GitHub APIs a process talks to: github.com's and each Enterprise server's.

One connection pool and one token pool per API and token set. Quota is metered per server
and token, and a slow Enterprise server must not hold the connections github.com's jobs
need, so nothing is shared between them. Used by every service that calls GitHub (the
collector, the resolver).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from shared.errors import FatalError
from shared.forge.github.client import GitHubClient
from shared.forge.ratelimit import TokenPool
from shared.githubhosts import HOSTS, GitHubHost
from shared.secret import Secret

ServerKey = tuple[str, tuple[Secret, ...]]


@dataclass
class ApiServer:
    http: httpx.AsyncClient
    pool: TokenPool


def api_host(url: str) -> str:
    """The API's host[:port] for logs; never the netloc, which could carry a user and password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""


def server_key(endpoint: GitHubHost) -> ServerKey:
    # github.com and the host of a non-default WATERSHED_GITHUB_API_URL are one API: one pool.
    return endpoint.api_url, endpoint.tokens


class GitHubServers:
    """Opened in a service's start, closed in its stop; hands out one client per pass."""

    def __init__(self, endpoints: tuple[GitHubHost, ...], *, max_connections: int = 20) -> None:
        self.servers: dict[ServerKey, ApiServer] = {}
        for endpoint in endpoints:
            key = server_key(endpoint)
            if key not in self.servers:
                self.servers[key] = ApiServer(
                    httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0),
                                      limits=httpx.Limits(max_connections=max_connections)),
                    TokenPool([t.reveal() for t in endpoint.tokens], server=api_host(endpoint.api_url)),
                )

    async def aclose(self) -> None:
        for server in self.servers.values():
            await server.http.aclose()

    def client_for(self, endpoint: GitHubHost | None, host: str, what: str) -> GitHubClient:
        """A client for one pass on the API serving ``host`` (``endpoint``, from the settings)."""
        if endpoint is None:
            # Registered while the host was configured, or by a scheduler with other settings.
            raise FatalError(f"{what}: {host} is not a configured GitHub host; add it to {HOSTS}")
        server = self.servers[server_key(endpoint)]
        return GitHubClient(endpoint.api_url, server.pool, client=server.http, host=endpoint.host)
