"""The forge APIs a process talks to: one connection pool and one token pool per API and token set.

Quota is metered per server and token, and a slow self-hosted server must not hold the
connections another server's jobs need, so nothing is shared between them. Each platform
has its subclass (:class:`shared.forge.github.servers.GitHubServers`,
:class:`shared.forge.gitlab.servers.GitLabServers`) naming its client and its hosts variable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Generic, TypeVar
from urllib.parse import urlsplit

import httpx

from shared.errors import FatalError
from shared.forge.ratelimit import TokenPool
from shared.forge.rest import RestClient
from shared.forgehosts import ForgeHost
from shared.secret import Secret

ServerKey = tuple[str, tuple[Secret, ...]]
C = TypeVar("C", bound=RestClient)


@dataclass
class ApiServer:
    http: httpx.AsyncClient
    pool: TokenPool


def api_host(url: str) -> str:
    """The API's host[:port] for logs; never the netloc, which could carry a user and password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname or ""


def server_key(endpoint: ForgeHost) -> ServerKey:
    # Two hosts on one API (github.com and a non-default API URL's host) are one server: one pool.
    return endpoint.api_url, endpoint.tokens


class ApiServers(Generic[C]):
    """Opened in a service's start, closed in its stop; hands out one client per pass."""

    client_class: ClassVar[type[RestClient]]
    platform: ClassVar[str]  # for messages: "GitHub"
    hosts_variable: ClassVar[str]  # where a missing host is configured

    def __init__(self, endpoints: tuple[ForgeHost, ...], *, max_connections: int = 20) -> None:
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

    def client_for(self, endpoint: ForgeHost | None, host: str, what: str) -> C:
        """A client for one pass on the API serving ``host`` (``endpoint``, from the settings)."""
        if endpoint is None:
            # Registered while the host was configured, or by a scheduler with other settings.
            raise FatalError(f"{what}: {host} is not a configured {self.platform} host; add it to {self.hosts_variable}")
        server = self.servers[server_key(endpoint)]
        client = self.client_class(endpoint.api_url, server.pool, client=server.http, host=endpoint.host)
        return client  # type: ignore[return-value]
