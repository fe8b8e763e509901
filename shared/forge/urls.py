"""Turn what a person pastes (a browser URL, a clone URL, an scp-style remote) into a RepoRef.

Pure: no network, no environment. Whether local paths are allowed is the caller's
decision (the facade's settings), passed in as ``allow_local``.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import SplitResult, urlsplit

import msgspec

from shared.errors import InvalidInputError

GITHUB_HOSTS: frozenset[str] = frozenset({"github.com"})
GITLAB_HOSTS: frozenset[str] = frozenset({"gitlab.com"})

# GitHub allows these in logins and repository names; anything else is a typo or an attack.
_GITHUB_PART = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SCP = re.compile(r"^(?P<user>[A-Za-z0-9._-]+)@(?P<host>[A-Za-z0-9.-]+):(?P<path>.+)$")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
# First path segments of github.com pages that are not owners; "github.com/orgs/x" is no repository.
_GITHUB_RESERVED = frozenset(
    {"orgs", "settings", "marketplace", "apps", "topics", "sponsors", "features",
     "explore", "login", "notifications", "search", "collections", "about", "pulls", "issues"}
)
# GitLab path segments: what GitLab accepts for group and project paths (no leading '-').
_GITLAB_PART = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,254}$")
# Top-level paths GitLab keeps for its own pages; no group can have them.
_GITLAB_RESERVED = frozenset(
    {"admin", "api", "dashboard", "explore", "help", "profile", "projects", "search", "snippets", "users",
     "users_sign_in", "-", "assets", "uploads"}
)
_GITLAB_MAX_DEPTH = 20
_MAX_SHOWN = 200


class RepoRef(msgspec.Struct, frozen=True, kw_only=True):
    """A repository as Watershed names it: ``url`` is the identity, ``clone_url`` what git fetches."""

    platform: str  # "github" | "gitlab" | "git"
    host: str
    owner: str
    name: str
    url: str
    clone_url: str


def parse_repo_url(
    text: str,
    *,
    github_hosts: frozenset[str] = GITHUB_HOSTS,
    allow_local: bool = False,
    gitlab_hosts: frozenset[str] = GITLAB_HOSTS,
) -> RepoRef:
    """Parse a repository URL or remote; raise InvalidInputError naming the input when it is not one."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise InvalidInputError("The repository URL is empty.")
    shown = _shown(raw)
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise InvalidInputError(f"{shown} is not a repository URL: it contains whitespace or control characters.")
    github_hosts = frozenset(h.lower() for h in github_hosts)
    gitlab_hosts = frozenset(h.lower() for h in gitlab_hosts)

    if raw.startswith("/") or raw.lower().startswith("file:"):
        return _local(raw, shown, allow_local)
    scp = _SCP.match(raw)
    if scp and "://" not in raw:
        host = scp["host"].lower()
        _check_host(host, shown)
        return _remote("ssh", scp["user"], host, scp["path"], shown, github_hosts, gitlab_hosts, scp_form=True)

    scheme_match = _SCHEME.match(raw)
    explicit = "://" in raw
    if explicit:
        scheme = raw.split("://", 1)[0].lower()
    elif scheme_match and "." not in scheme_match[1]:
        scheme = scheme_match[1].lower()  # "javascript:...", "mailto:..."
    else:
        scheme, raw = "https", f"https://{raw}"  # "github.com/o/r": people paste without a scheme
    if scheme not in ("https", "http", "ssh"):
        raise InvalidInputError(f"{shown} is not a repository URL: the scheme {scheme!r} is not supported (use https or ssh).")

    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidInputError(f"{shown} is not a repository URL: its host or port is malformed.") from None
    _refuse_credentials(parts, scheme, shown)
    host = (parts.hostname or "").lower().rstrip(".")
    if port is not None:
        host = f"{host}:{port}"
    _check_host(host, shown, single_label_ok=explicit)
    if host.startswith("www.") and host[4:] in github_hosts | gitlab_hosts:
        host = host[4:]
    if scheme == "http" and host not in github_hosts | gitlab_hosts:
        # Forges are upgraded to https; an unknown host is not, because git runs only https/ssh remotes.
        raise InvalidInputError(f"{shown} is not an allowed remote: only https and ssh remotes can be collected.")
    return _remote(scheme, parts.username or "", host, parts.path, shown, github_hosts, gitlab_hosts, scp_form=False)


class AccountRef(msgspec.Struct, frozen=True, kw_only=True):
    """An account whose repositories a group follows: a GitHub organization or user, or a
    GitLab group (with its subgroups). ``url`` is the identity; ``account`` the login, or the
    group's full path (``gnome/world``)."""

    platform: str  # "github" | "gitlab"
    host: str
    account: str
    url: str


def parse_account_url(
    text: str,
    *,
    github_hosts: frozenset[str] = GITHUB_HOSTS,
    gitlab_hosts: frozenset[str] = GITLAB_HOSTS,
) -> AccountRef:
    """Parse an organization's, user's or group's URL (``https://github.com/chaoss``,
    ``github.com/orgs/chaoss``, ``https://gitlab.com/gnome/world``); raise InvalidInputError
    naming the input when it is not one we can follow."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise InvalidInputError("The organization URL is empty.")
    shown = _shown(raw)
    if any(ch.isspace() or ord(ch) < 32 for ch in raw):
        raise InvalidInputError(f"{shown} is not an organization URL: it contains whitespace or control characters.")
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise InvalidInputError(f"{shown} is not an organization URL: its host or port is malformed.") from None
    if parts.scheme.lower() not in ("https", "http"):
        raise InvalidInputError(f"{shown} is not an organization URL: use https.")
    _refuse_credentials(parts, "https", shown)
    host = (parts.hostname or "").lower().rstrip(".")
    host = f"{host}:{port}" if port is not None else host
    if host.startswith("www."):
        host = host[4:]
    segments = _segments(parts.path)
    github_hosts = frozenset(h.lower() for h in github_hosts)
    gitlab_hosts = frozenset(h.lower() for h in gitlab_hosts)
    if host in gitlab_hosts:
        return _gitlab_group(host, segments, shown)
    if host not in github_hosts:
        raise InvalidInputError(f"{shown} is not on a GitHub or GitLab host (GitHub hosts:"
                                f" {', '.join(sorted(github_hosts))}; GitLab hosts: {', '.join(sorted(gitlab_hosts))}).")
    if segments[:1] == ["orgs"]:
        segments = segments[1:2]
    if len(segments) != 1:
        what = "names a repository" if len(segments) > 1 else "names no account"
        raise InvalidInputError(f"{shown} {what}: give an organization or user, as in https://{host}/chaoss"
                                " (repositories are added with `watershed add-repo`).")
    account = segments[0]
    if account.lower() in _GITHUB_RESERVED or not _GITHUB_PART.match(account) or len(account) > 39:
        raise InvalidInputError(f"{shown} is not an organization URL: {account!r} is not a GitHub account name.")
    return AccountRef(platform="github", host=host, account=account, url=f"https://{host}/{account}".lower())


def _gitlab_group(host: str, segments: list[str], shown: str) -> AccountRef:
    # The group's own pages hang under "/-/" (".../gnome/-/shared"); "groups/" is the older prefix.
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if segments[:1] == ["groups"]:
        segments = segments[1:]
    if not segments:
        raise InvalidInputError(f"{shown} names no group: give a GitLab group, as in https://{host}/gnome"
                                f" or https://{host}/gnome/world for a subgroup.")
    if segments[-1].lower().endswith(".git"):
        raise InvalidInputError(f"{shown} names a repository: give its group, as in https://{host}/"
                                f"{'/'.join(segments[:-1]) or 'gnome'} (repositories are added with `watershed add-repo`).")
    if segments[0].lower() in _GITLAB_RESERVED:
        raise InvalidInputError(f"{shown} is a GitLab page, not a group URL.")
    if len(segments) > _GITLAB_MAX_DEPTH:
        raise InvalidInputError(f"{shown} is not a group URL: GitLab nests groups at most {_GITLAB_MAX_DEPTH} deep.")
    for part in segments:
        if not _is_gitlab_part(part) or part.lower().endswith(".atom"):
            raise InvalidInputError(f"{shown} is not a group URL: {part!r} is not a valid GitLab path segment"
                                    " (letters, digits, '-', '_' and '.' only).")
    path = "/".join(segments)
    # GitLab paths are case-insensitive: one identity whatever the spelling; the path keeps it.
    return AccountRef(platform="gitlab", host=host, account=path, url=f"https://{host}/{path}".lower())


def is_host_name(text: str) -> bool:
    """Whether ``text`` is a host as repository URLs name it: lower case, an optional ``:port``."""
    return bool(_HOST.match(text))


def is_gitlab_path(path: str) -> bool:
    """Whether ``path`` (``group/subgroup/project``) is made of segments GitLab allows."""
    return all(_is_gitlab_part(part) for part in path.split("/"))


def _is_gitlab_part(part: str) -> bool:
    return bool(_GITLAB_PART.match(part)) and part not in (".", "..")


def redact_userinfo(text: str) -> str:
    """The URL with any ``user:password@`` part replaced by ``***@``, safe to echo."""
    return _USERINFO.sub(r"\1***@", text)


def _shown(raw: str) -> str:
    safe = redact_userinfo(raw)
    if len(safe) > _MAX_SHOWN:
        safe = safe[:_MAX_SHOWN] + "…"
    return f"'{safe}'"


def _refuse_credentials(parts: SplitResult, scheme: str, shown: str) -> None:
    if "@" not in parts.netloc:
        return
    # ssh remotes name a login user ("git@"), never a secret; https userinfo is always a token or password.
    if scheme == "ssh" and parts.password is None:
        return
    raise InvalidInputError(
        f"{shown} embeds credentials; give the URL without them and configure tokens in the settings instead."
    )


def _check_host(host: str, shown: str, *, single_label_ok: bool = True) -> None:
    if not host:
        raise InvalidInputError(f"{shown} is not a repository URL: it has no host.")
    # Without a scheme, "owner/name" would read as host "owner": demand a dotted host there.
    if "." not in host.split(":")[0] and not single_label_ok:
        raise InvalidInputError(f"{shown} is not a repository URL: it needs a host, as in github.com/owner/name.")
    if not is_host_name(host):
        raise InvalidInputError(f"{shown} is not a repository URL: {host!r} is not a valid host name.")


def _segments(path: str) -> list[str]:
    return [seg for seg in path.split("/") if seg]


def _strip_git(name: str) -> str:
    return name[:-4] if name.lower().endswith(".git") else name


def _remote(
    scheme: str,
    user: str,
    host: str,
    path: str,
    shown: str,
    github_hosts: frozenset[str],
    gitlab_hosts: frozenset[str],
    *,
    scp_form: bool,
) -> RepoRef:
    segments = _segments(path)
    if not segments:
        raise InvalidInputError(f"{shown} names a host but no repository path.")
    if host in github_hosts:
        return _github(host, segments, shown)
    if host in gitlab_hosts:
        return _gitlab(host, segments, shown)
    if any(seg in (".", "..") for seg in segments):
        raise InvalidInputError(f"{shown} is not a repository URL: its path contains '.' or '..'.")
    clean = "/".join(segments)
    if scheme == "ssh":
        login = f"{user}@" if user else ""
        # In scp form a leading "/" means an absolute path, without it one relative to the login's home.
        root = "/" if scp_form and path.startswith("/") else ""
        url = f"{login}{host}:{root}{clean}" if scp_form else f"ssh://{login}{host}/{clean}"
    else:
        url = f"https://{host}/{clean}"
    name = _strip_git(segments[-1])
    if not name:
        raise InvalidInputError(f"{shown} is not a repository URL: its last path segment is empty.")
    return RepoRef(platform="git", host=host, owner="/".join(segments[:-1]), name=name, url=url, clone_url=url)


def _github(host: str, segments: list[str], shown: str) -> RepoRef:
    if len(segments) < 2:
        raise InvalidInputError(f"{shown} is not a repository URL: a GitHub URL needs both an owner and a name.")
    owner, name = segments[0], _strip_git(segments[1])
    if owner.lower() in _GITHUB_RESERVED:
        raise InvalidInputError(f"{shown} is a GitHub page, not a repository URL.")
    for label, part, limit in (("owner", owner, 39), ("name", name, 100)):
        if not _GITHUB_PART.match(part) or len(part) > limit or part in (".", ".."):
            raise InvalidInputError(
                f"{shown} is not a repository URL: {part!r} is not a valid GitHub {label} "
                "(letters, digits, '-', '_' and '.' only)."
            )
    # GitHub names are case-insensitive: the identity is lower case, so Chaoss/Augur and
    # chaoss/augur are one repository; owner and name keep the spelling given.
    url = f"https://{host}/{owner}/{name}".lower()
    return RepoRef(platform="github", host=host, owner=owner, name=name, url=url, clone_url=f"{url}.git")


def _gitlab(host: str, segments: list[str], shown: str) -> RepoRef:
    # GitLab separates a project's own pages with "/-/" (".../group/project/-/issues/3").
    if "-" in segments:
        segments = segments[: segments.index("-")]
    if len(segments) < 2:
        raise InvalidInputError(f"{shown} is not a repository URL: a GitLab URL needs a group and a project.")
    segments = [*segments[:-1], _strip_git(segments[-1])]
    for part in segments:
        if not _is_gitlab_part(part):
            raise InvalidInputError(f"{shown} is not a repository URL: {part!r} is not a valid GitLab path segment.")
    # GitLab paths are case-insensitive too (one project answers to every spelling).
    url = f"https://{host}/{'/'.join(segments)}".lower()
    return RepoRef(
        platform="gitlab", host=host, owner="/".join(segments[:-1]), name=segments[-1], url=url, clone_url=f"{url}.git"
    )


def _local(raw: str, shown: str, allow_local: bool) -> RepoRef:
    if not allow_local:
        raise InvalidInputError(f"{shown} is a local path; local repositories need WATERSHED_FACADE_ALLOW_LOCAL=1.")
    path = raw
    if raw.lower().startswith("file:"):
        parts = urlsplit(raw)
        if parts.netloc not in ("", "localhost"):
            raise InvalidInputError(f"{shown} is not a local path: file URLs cannot name another host.")
        path = parts.path
    if not path.startswith("/"):
        raise InvalidInputError(f"{shown} is not a local path: it must be absolute.")
    path = posixpath.normpath(path)
    segments = _segments(path)
    if not segments:
        raise InvalidInputError(f"{shown} is not a repository path: it names the root directory.")
    url = f"file://{path}"
    return RepoRef(
        platform="git", host="", owner="/".join(segments[:-1]), name=_strip_git(segments[-1]), url=url, clone_url=url
    )
