"""Forge hosts configured by host name: GitHub Enterprise Server hosts, self-managed GitLab hosts.

Pure: takes the text of one platform's host variables (:mod:`shared.settings` reads the
environment and the tokens file) and answers which API, git base and tokens serve a
repository host. Each platform names its variables in a :class:`HostVariables`
(:data:`shared.githubhosts.GITHUB`, :data:`shared.gitlabhosts.GITLAB`); the syntax is one::

    <HOSTS>        ghe.example.com, ghe2.example.com=https://ghe2.example.com:8443/api/v3
    <GIT_URLS>     ghe2.example.com=https://mirror.example.com/ghe2
    <TOKENS>       ghe.example.com=TOKEN,ghe.example.com=TOKEN2
    <TOKENS_FILE>  one "host token" or "host=token" a line, "#" comments

A host alone means the API at ``https://host`` + the platform's API path and clones from
``https://host``. Errors are one line naming the variable. A malformed entry is named by its
position, never echoed: in the token variables it may be a bare token, and a token pasted
into the wrong variable must not be printed either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from shared.forge.urls import is_host_name
from shared.secret import Secret

# "host=token", "host = token" or "host token"; tokens hold no whitespace or commas.
_TOKEN_ENTRY = re.compile(r"(?P<host>[^\s=,#]+)(?:\s*=\s*|\s+)(?P<token>[^\s=,]\S*)")


class HostsError(ValueError):
    """A malformed host setting; the message is one line naming the variable."""


@dataclass(frozen=True)
class ForgeHost:
    """Where the repositories of one forge host are collected and cloned from."""

    host: str  # as repository URLs name it: github.com, ghe.example.com[:port], gitlab.com
    api_url: str  # the REST base (GitHub's GraphQL is derived from it)
    git_url: str  # the facade clones <git_url>/<owner>/<name>.git
    tokens: tuple[Secret, ...] = ()


@dataclass(frozen=True)
class HostVariables:
    """One platform's host variables and the words its messages use."""

    hosts: str  # WATERSHED_..._HOSTS
    git_urls: str
    tokens: str
    tokens_file: str
    api_url: str  # the variable naming the public service's API
    public: str  # the public service's host: github.com, gitlab.com
    itself: frozenset[str]  # names of the public service, which is configured apart
    service: str  # "GitHub", "GitLab.com"
    api_path: str  # where a host's API lives: /api/v3, /api/v4
    kind: str  # "an Enterprise host": what an entry of ``hosts`` is
    example: str  # a host for the messages
    # Whether a non-default API URL makes its own host one of the platform's (GitHub's
    # behaviour from before Enterprise hosts could be named).
    api_url_host: bool = False


def parse_hosts(
    spec: HostVariables,
    hosts: str | None,
    git_urls: str | None = None,
    tokens: str | None = None,
    tokens_file: str | None = None,
    *,
    api_url: str,
) -> tuple[ForgeHost, ...]:
    """The hosts of the four variables' values (``tokens_file`` is the file's text)."""
    apis = _parse_hosts(spec, hosts or "")
    _check_apis(spec, apis, api_url)
    gits = _parse_git_urls(spec, git_urls or "", apis)
    pools = _parse_tokens(spec, tokens or "", tokens_file or "", apis)
    return tuple(ForgeHost(host, api, gits.get(host, f"https://{host}"), pools.get(host, ()))
                 for host, api in apis.items())


def endpoints(
    spec: HostVariables, api_url: str, git_url: str, tokens: tuple[Secret, ...], configured: tuple[ForgeHost, ...]
) -> tuple[ForgeHost, ...]:
    """Every host of the platform collected: the configured ones, the public service (through
    ``api_url``) and, where the platform keeps that rule, the host of a non-default ``api_url``."""
    found = [*configured, ForgeHost(spec.public, api_url, git_url, tokens)]
    legacy = (urlsplit(api_url).hostname or "").lower()
    if spec.api_url_host and legacy and legacy not in spec.itself and legacy not in {e.host for e in configured}:
        # One server set up through the API URL variable: its repositories live on the API's
        # host and are cloned from there; an explicit entry takes precedence.
        found.append(ForgeHost(legacy, api_url, f"https://{legacy}", tokens))
    return tuple(found)


def find_host(host: str, found: tuple[ForgeHost, ...], *, default: str) -> ForgeHost | None:
    """The endpoint serving repositories of ``host`` (``default`` when empty); None when unknown."""
    wanted = host.lower() or default  # jobs queued before hosts were recorded carry none
    return next((e for e in found if e.host == wanted), None)


# ---------------------------------------------------------------------- parsing


def _entries(text: str) -> Iterator[tuple[int, str]]:
    for position, entry in enumerate(text.split(","), start=1):
        if entry.strip():
            yield position, entry.strip()


def _host(text: str) -> str | None:
    host = text.strip().lower().rstrip(".")
    return host if is_host_name(host) else None


def _configured(spec: HostVariables, apis: dict[str, str]) -> str:
    return f"configured: {', '.join(apis)}" if apis else f"{spec.hosts} is empty"


def _parse_hosts(spec: HostVariables, text: str) -> dict[str, str]:
    apis: dict[str, str] = {}
    for position, entry in _entries(text):
        name, has_url, url = entry.partition("=")
        host = _host(name)
        if host is None:
            raise HostsError(f"{spec.hosts}: entry {position} is not a host name; give {spec.example}"
                             f" or {spec.example}=https://{spec.example}{spec.api_path}")
        if host in spec.itself:
            raise HostsError(f"{spec.hosts}: {host} is {spec.service} itself, not {spec.kind};"
                             f" {spec.public} is collected through {spec.api_url}")
        if host in apis:
            raise HostsError(f"{spec.hosts}: {host} is listed twice")
        apis[host] = _url(spec, url, spec.hosts, f"the API URL of {host}") if has_url else f"https://{host}{spec.api_path}"
    return apis


def _api_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _check_apis(spec: HostVariables, apis: dict[str, str], api_url: str) -> None:
    # Quota and token pools are kept per API: two names for one server would split both.
    seen = {_api_key(api_url): spec.api_url}
    for host, api in apis.items():
        other = seen.setdefault(_api_key(api), host)
        if other != host:
            raise HostsError(f"{spec.hosts}: {host} has the same API URL as {other}; name each server once")


def _parse_git_urls(spec: HostVariables, text: str, apis: dict[str, str]) -> dict[str, str]:
    gits: dict[str, str] = {}
    for position, entry in _entries(text):
        name, has_url, url = entry.partition("=")
        host = _host(name)
        if not has_url or host not in apis:
            raise HostsError(f"{spec.git_urls}: entry {position} is not host=URL for a host of {spec.hosts}"
                             f" ({_configured(spec, apis)})")
        if host in gits:
            raise HostsError(f"{spec.git_urls}: {host} is listed twice")
        gits[host] = _url(spec, url, spec.git_urls, f"the git URL of {host}")
    return gits


def _token_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("#"):
            continue
        for _, entry in _entries(line):
            yield number, entry


def _parse_tokens(spec: HostVariables, inline: str, file_text: str,
                  apis: dict[str, str]) -> dict[str, tuple[Secret, ...]]:
    located = [*((f"{spec.tokens}: entry {n}", e) for n, e in _entries(inline)),
               *((f"{spec.tokens_file}: line {n}", e) for n, e in _token_lines(file_text))]
    pools: dict[str, list[Secret]] = {}
    for where, entry in located:
        match = _TOKEN_ENTRY.fullmatch(entry)
        if match is None:
            raise HostsError(f"{where} is not 'host=token' or 'host token' (the value is not shown)")
        host = _host(match["host"])
        if host is None or host not in apis:
            raise HostsError(f"{where} is for a host that is not {spec.kind} ({_configured(spec, apis)})")
        pools.setdefault(host, []).append(Secret(match["token"]))
    return {host: tuple(dict.fromkeys(tokens)) for host, tokens in pools.items()}


def _url(spec: HostVariables, value: str, variable: str, what: str) -> str:
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
        raise HostsError(f"{variable}: {what} must not carry credentials; give tokens in {spec.tokens}")
    return value.rstrip("/")
