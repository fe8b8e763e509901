"""GitLab hosts: gitlab.com and the self-managed GitLab hosts configured by host name::

    WATERSHED_GITLAB_API_URL            gitlab.com's API (default https://gitlab.com/api/v4)
    WATERSHED_GITLAB_GIT_URL            where gitlab.com projects are cloned from (https://gitlab.com)
    WATERSHED_GITLAB_TOKENS / _FILE     gitlab.com tokens (optional: public groups list anonymously)
    WATERSHED_GITLAB_HOSTS              gitlab.example.org, code.example.com=https://code.example.com:8443/api/v4
    WATERSHED_GITLAB_GIT_URLS           code.example.com=https://mirror.example.com/code
    WATERSHED_GITLAB_HOST_TOKENS        gitlab.example.org=TOKEN,gitlab.example.org=TOKEN2
    WATERSHED_GITLAB_HOST_TOKENS_FILE   one "host token" or "host=token" a line, "#" comments

A host alone means the API at ``https://host/api/v4`` and clones from ``https://host``. Unlike
GitHub's, a non-default ``WATERSHED_GITLAB_API_URL`` adds no host: self-managed servers are
named in ``WATERSHED_GITLAB_HOSTS``. The parsing is :mod:`shared.forgehosts`'.
"""

from __future__ import annotations

from shared.forgehosts import ForgeHost, HostsError, HostVariables, endpoints, find_host, parse_hosts
from shared.secret import Secret

HOSTS = "WATERSHED_GITLAB_HOSTS"
GIT_URLS = "WATERSHED_GITLAB_GIT_URLS"
TOKENS = "WATERSHED_GITLAB_HOST_TOKENS"
TOKENS_FILE = "WATERSHED_GITLAB_HOST_TOKENS_FILE"
API_URL = "WATERSHED_GITLAB_API_URL"
GITLAB_COM = "gitlab.com"
DEFAULT_API_URL = "https://gitlab.com/api/v4"
DEFAULT_GIT_URL = "https://gitlab.com"

GITLAB = HostVariables(
    hosts=HOSTS, git_urls=GIT_URLS, tokens=TOKENS, tokens_file=TOKENS_FILE, api_url=API_URL, public=GITLAB_COM,
    itself=frozenset({GITLAB_COM, "www.gitlab.com"}), service="GitLab.com", api_path="/api/v4",
    kind="a self-managed GitLab host", example="gitlab.example.com",
)

GitLabHost = ForgeHost

__all__ = ["API_URL", "DEFAULT_API_URL", "DEFAULT_GIT_URL", "GITLAB", "GITLAB_COM", "HOSTS", "GitLabHost",
           "HostsError", "find_gitlab_host", "gitlab_endpoints", "parse_self_managed"]


def parse_self_managed(
    hosts: str | None,
    git_urls: str | None = None,
    tokens: str | None = None,
    tokens_file: str | None = None,
    *,
    gitlab_api_url: str = DEFAULT_API_URL,
) -> tuple[GitLabHost, ...]:
    """The self-managed hosts of the four variables' values (``tokens_file`` is the file's text)."""
    return parse_hosts(GITLAB, hosts, git_urls, tokens, tokens_file, api_url=gitlab_api_url)


def gitlab_endpoints(
    api_url: str, git_url: str, tokens: tuple[Secret, ...], self_managed: tuple[GitLabHost, ...]
) -> tuple[GitLabHost, ...]:
    """Every GitLab host collected: the self-managed hosts and gitlab.com (through ``api_url``)."""
    return endpoints(GITLAB, api_url, git_url, tokens, self_managed)


def find_gitlab_host(host: str, found: tuple[GitLabHost, ...]) -> GitLabHost | None:
    """The endpoint serving projects of ``host``; None when it is not a configured GitLab host."""
    return find_host(host, found, default=GITLAB_COM)
