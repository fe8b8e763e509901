"""GitHub hosts: github.com and the GitHub Enterprise Server hosts configured by host name::

    WATERSHED_GITHUB_ENTERPRISE_HOSTS        ghe.example.com, ghe2.example.com=https://ghe2.example.com:8443/api/v3
    WATERSHED_GITHUB_ENTERPRISE_GIT_URLS     ghe2.example.com=https://mirror.example.com/ghe2
    WATERSHED_GITHUB_ENTERPRISE_TOKENS       ghe.example.com=TOKEN,ghe.example.com=TOKEN2
    WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE  one "host token" or "host=token" a line, "#" comments

A host alone means the API at ``https://host/api/v3`` and clones from ``https://host``. The
parsing (and its rules about messages and tokens) is :mod:`shared.forgehosts`'.
"""

from __future__ import annotations

from shared.forgehosts import ForgeHost, HostsError, HostVariables, endpoints, find_host, parse_hosts
from shared.secret import Secret

HOSTS = "WATERSHED_GITHUB_ENTERPRISE_HOSTS"
GIT_URLS = "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS"
TOKENS = "WATERSHED_GITHUB_ENTERPRISE_TOKENS"
TOKENS_FILE = "WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE"
API_URL = "WATERSHED_GITHUB_API_URL"
GITHUB_COM = "github.com"

GITHUB = HostVariables(
    hosts=HOSTS, git_urls=GIT_URLS, tokens=TOKENS, tokens_file=TOKENS_FILE, api_url=API_URL, public=GITHUB_COM,
    itself=frozenset({GITHUB_COM, "www.github.com", "api.github.com"}), service="GitHub", api_path="/api/v3",
    kind="an Enterprise host", example="ghe.example.com", api_url_host=True,
)

GitHubHost = ForgeHost

__all__ = ["API_URL", "GITHUB", "GITHUB_COM", "HOSTS", "GitHubHost", "HostsError", "find_github_host",
           "github_endpoints", "parse_enterprise"]


def parse_enterprise(
    hosts: str | None,
    git_urls: str | None = None,
    tokens: str | None = None,
    tokens_file: str | None = None,
    *,
    github_api_url: str = "https://api.github.com",
) -> tuple[GitHubHost, ...]:
    """The Enterprise hosts of the four variables' values (``tokens_file`` is the file's text)."""
    return parse_hosts(GITHUB, hosts, git_urls, tokens, tokens_file, api_url=github_api_url)


def github_endpoints(
    api_url: str, git_url: str, tokens: tuple[Secret, ...], enterprise: tuple[GitHubHost, ...]
) -> tuple[GitHubHost, ...]:
    """Every GitHub host collected: the Enterprise hosts, github.com (through ``api_url``), and the
    host of a non-default ``api_url`` itself, as before Enterprise hosts could be named."""
    return endpoints(GITHUB, api_url, git_url, tokens, enterprise)


def find_github_host(host: str, found: tuple[GitHubHost, ...]) -> GitHubHost | None:
    """The endpoint serving repositories of ``host``; None when it is not a configured GitHub host."""
    return find_host(host, found, default=GITHUB_COM)
