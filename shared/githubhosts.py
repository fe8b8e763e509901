"""GitHub hosts: github.com and the GitHub Enterprise Server hosts configured by host name.

Pure: takes the text of the Enterprise variables (:mod:`shared.settings` reads the
environment and the tokens file) and answers which API, git base and tokens serve a
repository host::

    WATERSHED_GITHUB_ENTERPRISE_HOSTS        ghe.example.com, ghe2.example.com=https://ghe2.example.com:8443/api/v3
    WATERSHED_GITHUB_ENTERPRISE_GIT_URLS     ghe2.example.com=https://mirror.example.com/ghe2
    WATERSHED_GITHUB_ENTERPRISE_TOKENS       ghe.example.com=TOKEN,ghe.example.com=TOKEN2
    WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE  one "host token" or "host=token" a line, "#" comments

A host alone means the API at ``https://host/api/v3`` and clones from ``https://host``.
Errors are one line naming the variable. A malformed entry is named by its position,
never echoed: in the token variables it may be a bare token, and a token pasted into the
wrong variable must not be printed either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.forge.urls import is_host_name
from shared.secret import Secret

HOSTS = "WATERSHED_GITHUB_ENTERPRISE_HOSTS"
GIT_URLS = "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS"
TOKENS = "WATERSHED_GITHUB_ENTERPRISE_TOKENS"
TOKENS_FILE = "WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE"
API_URL = "WATERSHED_GITHUB_API_URL"
GITHUB_COM = "github.com"
_GITHUB_ITSELF = frozenset({GITHUB_COM, "www.github.com", "api.github.com"})
# "host=token", "host = token" or "host token"; tokens hold no whitespace or commas.
_TOKEN_ENTRY = re.compile(r"(?P<host>[^\s=,#]+)(?:\s*=\s*|\s+)(?P<token>[^\s=,]\S*)")


class HostsError(ValueError):
    """A malformed Enterprise host setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class GitHubHost:
    """Where the repositories of one GitHub host are collected and cloned from."""

    host: str  # as repository URLs name it: github.com, ghe.example.com[:port]
    api_url: str  # the REST base; GraphQL is derived from it
    git_url: str  # the facade clones <git_url>/<owner>/<name>.git
    tokens: tuple[Secret, ...] = ()


def parse_enterprise(
    hosts: str | None,
    git_urls: str | None = None,
    tokens: str | None = None,
    tokens_file: str | None = None,
    *,
    github_api_url: str = "https://api.github.com",
) -> tuple[GitHubHost, ...]:
    """The Enterprise hosts of the four variables' values (``tokens_file`` is the file's text)."""
    apis = _parse_hosts(hosts or "")
    _check_apis(apis, github_api_url)
    gits = _parse_git_urls(git_urls or "", apis)
    pools = _parse_tokens(tokens or "", tokens_file or "", apis)
    return tuple(GitHubHost(host, api, gits.get(host, f"https://{host}"), pools.get(host, ()))
                 for host, api in apis.items())


def github_endpoints(
    api_url: str, git_url: str, tokens: tuple[Secret, ...], enterprise: tuple[GitHubHost, ...]
) -> tuple[GitHubHost, ...]:
    """Every GitHub host collected: the Enterprise hosts, github.com (through ``api_url``), and the
    host of a non-default ``api_url`` itself, as before Enterprise hosts could be named."""
    found = [*enterprise, GitHubHost(GITHUB_COM, api_url, git_url, tokens)]
    legacy = (urlsplit(api_url).hostname or "").lower()
    if legacy and legacy not in _GITHUB_ITSELF and legacy not in {e.host for e in enterprise}:
        # One Enterprise server set up through WATERSHED_GITHUB_API_URL: its repositories live on
        # the API's host and are cloned from there; an explicit Enterprise entry takes precedence.
        found.append(GitHubHost(legacy, api_url, f"https://{legacy}", tokens))
    return tuple(found)


def find_github_host(host: str, endpoints: tuple[GitHubHost, ...]) -> GitHubHost | None:
    """The endpoint serving repositories of ``host``; None when it is not a configured GitHub host."""
    wanted = host.lower() or GITHUB_COM  # jobs queued before hosts were recorded carry none
    return next((e for e in endpoints if e.host == wanted), None)


# ---------------------------------------------------------------------- parsing


def _entries(text: str) -> Iterator[tuple[int, str]]:
    for position, entry in enumerate(text.split(","), start=1):
        if entry.strip():
            yield position, entry.strip()


def _host(text: str) -> str | None:
    host = text.strip().lower().rstrip(".")
    return host if is_host_name(host) else None


def _configured(apis: dict[str, str]) -> str:
    return f"configured: {', '.join(apis)}" if apis else f"{HOSTS} is empty"


def _parse_hosts(text: str) -> dict[str, str]:
    apis: dict[str, str] = {}
    for position, entry in _entries(text):
        name, has_url, url = entry.partition("=")
        host = _host(name)
        if host is None:
            raise HostsError(f"{HOSTS}: entry {position} is not a host name; give ghe.example.com"
                             " or ghe.example.com=https://ghe.example.com/api/v3")
        if host in _GITHUB_ITSELF:
            raise HostsError(f"{HOSTS}: {host} is GitHub itself, not an Enterprise host;"
                             f" github.com is collected through {API_URL}")
        if host in apis:
            raise HostsError(f"{HOSTS}: {host} is listed twice")
        apis[host] = _url(url, HOSTS, f"the API URL of {host}") if has_url else f"https://{host}/api/v3"
    return apis


def _api_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _check_apis(apis: dict[str, str], github_api_url: str) -> None:
    # Quota and token pools are kept per API: two names for one server would split both.
    seen = {_api_key(github_api_url): API_URL}
    for host, api in apis.items():
        other = seen.setdefault(_api_key(api), host)
        if other != host:
            raise HostsError(f"{HOSTS}: {host} has the same API URL as {other}; name each server once")


def _parse_git_urls(text: str, apis: dict[str, str]) -> dict[str, str]:
    gits: dict[str, str] = {}
    for position, entry in _entries(text):
        name, has_url, url = entry.partition("=")
        host = _host(name)
        if not has_url or host not in apis:
            raise HostsError(f"{GIT_URLS}: entry {position} is not host=URL for a host of {HOSTS}"
                             f" ({_configured(apis)})")
        if host in gits:
            raise HostsError(f"{GIT_URLS}: {host} is listed twice")
        gits[host] = _url(url, GIT_URLS, f"the git URL of {host}")
    return gits


def _token_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("#"):
            continue
        for _, entry in _entries(line):
            yield number, entry


def _parse_tokens(inline: str, file_text: str, apis: dict[str, str]) -> dict[str, tuple[Secret, ...]]:
    located = [*((f"{TOKENS}: entry {n}", e) for n, e in _entries(inline)),
               *((f"{TOKENS_FILE}: line {n}", e) for n, e in _token_lines(file_text))]
    pools: dict[str, list[Secret]] = {}
    for where, entry in located:
        match = _TOKEN_ENTRY.fullmatch(entry)
        if match is None:
            raise HostsError(f"{where} is not 'host=token' or 'host token' (the value is not shown)")
        host = _host(match["host"])
        if host is None or host not in apis:
            raise HostsError(f"{where} is for a host that is not an Enterprise host ({_configured(apis)})")
        pools.setdefault(host, []).append(Secret(match["token"]))
    return {host: tuple(dict.fromkeys(tokens)) for host, tokens in pools.items()}


def _url(value: str, variable: str, what: str) -> str:
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise HostsError(f"{variable}: {what} has a malformed host or port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostsError(f"{variable}: {what} must be a URL starting with http:// or https://"
                         f" (got a value of {len(value)} characters)")
    if parts.username is not None or parts.password is not None:
        raise HostsError(f"{variable}: {what} must not carry credentials; give tokens in {TOKENS}")
    return value.rstrip("/")
