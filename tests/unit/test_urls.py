"""parse_repo_url: what people paste, and what it must refuse."""

from __future__ import annotations

import pytest

from shared.errors import InvalidInputError
from shared.forge.urls import AccountRef, RepoRef, parse_account_url, parse_repo_url, redact_userinfo

GH = ("github", "github.com", "o", "r", "https://github.com/o/r", "https://github.com/o/r.git")

VALID: list[tuple[str, tuple[str, str, str, str, str, str]]] = [
    ("https://github.com/o/r", GH),
    ("http://github.com/o/r", GH),
    ("https://www.github.com/o/r", GH),
    ("https://GitHub.COM/o/r", GH),
    ("https://github.com/o/r.git", GH),
    ("https://github.com/o/r/", GH),
    ("https://github.com/o/r.git/", GH),
    ("github.com/o/r", GH),
    ("www.github.com/o/r", GH),
    ("  https://github.com/o/r  ", GH),
    ("git@github.com:o/r.git", GH),
    ("git@github.com:o/r", GH),
    ("ssh://git@github.com/o/r.git", GH),
    ("https://github.com/o/r/issues/3", GH),
    ("https://github.com/o/r/tree/main/src", GH),
    ("https://github.com/o/r?tab=readme#top", GH),
    (
        "https://github.com/chaoss/augur",
        ("github", "github.com", "chaoss", "augur", "https://github.com/chaoss/augur", "https://github.com/chaoss/augur.git"),
    ),
    (
        "https://github.com/Some-Org/my_repo.js",
        ("github", "github.com", "Some-Org", "my_repo.js", "https://github.com/some-org/my_repo.js", "https://github.com/some-org/my_repo.js.git"),
    ),
    (
        "https://gitlab.com/group/sub/project",
        ("gitlab", "gitlab.com", "group/sub", "project", "https://gitlab.com/group/sub/project", "https://gitlab.com/group/sub/project.git"),
    ),
    (
        "https://gitlab.com/group/project/-/issues/4",
        ("gitlab", "gitlab.com", "group", "project", "https://gitlab.com/group/project", "https://gitlab.com/group/project.git"),
    ),
    (
        "git@gitlab.com:group/project.git",
        ("gitlab", "gitlab.com", "group", "project", "https://gitlab.com/group/project", "https://gitlab.com/group/project.git"),
    ),
    (
        "https://git.kernel.org/pub/scm/git/git.git",
        ("git", "git.kernel.org", "pub/scm/git", "git", "https://git.kernel.org/pub/scm/git/git.git", "https://git.kernel.org/pub/scm/git/git.git"),
    ),
    (
        "https://Codeberg.org/forgejo/forgejo/",
        ("git", "codeberg.org", "forgejo", "forgejo", "https://codeberg.org/forgejo/forgejo", "https://codeberg.org/forgejo/forgejo"),
    ),
    (
        "https://git.example.org:8443/team/tool.git",
        ("git", "git.example.org:8443", "team", "tool", "https://git.example.org:8443/team/tool.git", "https://git.example.org:8443/team/tool.git"),
    ),
    (
        "ssh://git@host.example/srv/repo.git",
        ("git", "host.example", "srv", "repo", "ssh://git@host.example/srv/repo.git", "ssh://git@host.example/srv/repo.git"),
    ),
    (
        "git@Host.Example:team/repo.git",
        ("git", "host.example", "team", "repo", "git@host.example:team/repo.git", "git@host.example:team/repo.git"),
    ),
    (
        "git@host.example:/srv/git/repo.git",
        ("git", "host.example", "srv/git", "repo", "git@host.example:/srv/git/repo.git", "git@host.example:/srv/git/repo.git"),
    ),
    (
        "https://gitserver/team/repo.git",
        ("git", "gitserver", "team", "repo", "https://gitserver/team/repo.git", "https://gitserver/team/repo.git"),
    ),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_urls(text: str, expected: tuple[str, str, str, str, str, str]) -> None:
    ref = parse_repo_url(text)
    assert (ref.platform, ref.host, ref.owner, ref.name, ref.url, ref.clone_url) == expected


def test_enterprise_host_is_github_when_configured() -> None:
    hosts = frozenset({"github.com", "GHE.example.com"})
    ref = parse_repo_url("https://ghe.example.com/team/tool.git", github_hosts=hosts)
    assert ref == RepoRef(
        platform="github",
        host="ghe.example.com",
        owner="team",
        name="tool",
        url="https://ghe.example.com/team/tool",
        clone_url="https://ghe.example.com/team/tool.git",
    )
    assert parse_repo_url("https://ghe.example.com/team/tool").platform == "git"


INVALID: list[tuple[str, str]] = [
    ("", "empty"),
    ("   ", "empty"),
    ("https://github.com/o /r", "whitespace"),
    ("https://github.com/o/\tr", "whitespace"),
    ("ftp://github.com/o/r", "scheme 'ftp'"),
    ("javascript:alert(1)", "scheme 'javascript'"),
    ("mailto:someone@example.org", "scheme 'mailto'"),
    ("git://github.com/o/r", "scheme 'git'"),
    ("https://github.com", "no repository path"),
    ("https://github.com/", "no repository path"),
    ("github.com", "no repository path"),
    ("https://example.org", "no repository path"),
    ("https://github.com/o", "owner and a name"),
    ("https://github.com/o/", "owner and a name"),
    ("https://github.com/orgs/chaoss", "GitHub page"),
    ("https://github.com/o$/r", "valid GitHub owner"),
    ("https://github.com/o/r%20x", "valid GitHub name"),
    ("https://github.com/o/..", "valid GitHub name"),
    ("https://github.com/o/.", "valid GitHub name"),
    ("https://github.com/" + "a" * 40 + "/r", "valid GitHub owner"),
    ("o/r", "needs a host"),
    ("github.com:o/r", "malformed"),
    ("https://exa_mple.org/o/r", "valid host name"),
    ("https://example.org/a/../b", "'.' or '..'"),
    ("http://git.example.org/o/r", "only https and ssh"),
    ("/srv/git/repo", "WATERSHED_FACADE_ALLOW_LOCAL=1"),
    ("file:///srv/git/repo", "WATERSHED_FACADE_ALLOW_LOCAL=1"),
]


@pytest.mark.parametrize(("text", "fragment"), INVALID)
def test_invalid_urls(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_repo_url(text)
    message = str(info.value)
    assert fragment in message
    assert message.count(".") >= 1 and "\n" not in message
    if text.strip():
        assert text.strip()[:20] in message  # the message names the input


def test_surrounding_whitespace_is_trimmed() -> None:
    assert parse_repo_url("https://github.com/o/r\n").url == "https://github.com/o/r"


@pytest.mark.parametrize(
    "text",
    [
        "https://user:s3cr3t-tok@github.com/o/r",
        "https://ghp_abcdefghijklmnopqrstuvwxyz0123456789@github.com/o/r",
        "http://x-access-token:s3cr3t-tok@github.com/o/r.git",
        "https://user:s3cr3t-tok@git.example.org/o/r",
        "ssh://git:s3cr3t-tok@host.example/o/r",
        "https://user:s3cr3t-tok@github.com/o /r",  # fails on whitespace first, still redacted
    ],
)
def test_credentials_are_refused_and_never_echoed(text: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_repo_url(text)
    message = str(info.value)
    assert "s3cr3t-tok" not in message and "ghp_" not in message
    assert "***@" in message


def test_ssh_login_user_is_not_a_credential() -> None:
    assert parse_repo_url("ssh://git@github.com/o/r").url == "https://github.com/o/r"


def test_redact_userinfo() -> None:
    assert redact_userinfo("https://a:b@h.org/x") == "https://***@h.org/x"
    assert redact_userinfo("https://h.org/x@y") == "https://h.org/x@y"


def test_local_paths_when_allowed() -> None:
    ref = parse_repo_url("/srv/git/tool.git", allow_local=True)
    assert (ref.platform, ref.host, ref.owner, ref.name, ref.url) == ("git", "", "srv/git", "tool", "file:///srv/git/tool.git")
    assert ref.clone_url == ref.url
    assert parse_repo_url("file:///srv/x/../git/tool/", allow_local=True).url == "file:///srv/git/tool"
    with pytest.raises(InvalidInputError, match="another host"):
        parse_repo_url("file://otherhost/srv/git/tool", allow_local=True)
    with pytest.raises(InvalidInputError, match="root directory"):
        parse_repo_url("/", allow_local=True)


def test_overlong_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_repo_url("https://github.com/" + "x" * 5000)
    assert len(str(info.value)) < 400


def test_github_and_gitlab_identities_ignore_case() -> None:
    # One repository, however it is spelled: the URL is the repository's identity.
    spellings = ["https://github.com/Chaoss/Augur", "github.com/chaoss/augur.git", "git@github.com:CHAOSS/augur.git"]
    assert {parse_repo_url(u).url for u in spellings} == {"https://github.com/chaoss/augur"}
    assert parse_repo_url("https://github.com/Chaoss/Augur").owner == "Chaoss"
    gitlab = {parse_repo_url(u).url for u in ("https://gitlab.com/F-Droid/FdroidClient", "gitlab.com/f-droid/fdroidclient")}
    assert gitlab == {"https://gitlab.com/f-droid/fdroidclient"}
    # Plain git hosts may be case-sensitive: kept as given.
    assert parse_repo_url("https://git.example.org/Team/Repo.git").url.endswith("/Team/Repo.git")


# ------------------------------------------------------------------ organizations and users


@pytest.mark.parametrize(("text", "account"), [
    ("https://github.com/chaoss", "chaoss"),
    ("github.com/chaoss/", "chaoss"),
    ("https://www.github.com/CHAOSS", "CHAOSS"),
    ("https://github.com/orgs/chaoss", "chaoss"),
    ("https://github.com/orgs/chaoss/repositories", "chaoss"),
    ("http://github.com/octo-cat", "octo-cat"),
])
def test_account_urls(text: str, account: str) -> None:
    assert parse_account_url(text) == AccountRef(platform="github", host="github.com", account=account,
                                                 url=f"https://github.com/{account.lower()}")


def test_enterprise_accounts() -> None:
    ref = parse_account_url("https://ghe.example.com/platform-team", github_hosts=frozenset({"github.com",
                                                                                            "ghe.example.com"}))
    assert (ref.host, ref.account, ref.url) == ("ghe.example.com", "platform-team", "https://ghe.example.com/platform-team")


@pytest.mark.parametrize(("text", "account"), [
    ("https://gitlab.com/fdroid", "fdroid"),
    ("gitlab.com/gnome/", "gnome"),
    ("https://gitlab.com/GNOME/World", "GNOME/World"),
    ("https://gitlab.com/groups/gnome/world", "gnome/world"),
    ("https://www.gitlab.com/gnome/world/design", "gnome/world/design"),
    ("https://gitlab.com/gnome/world/-/shared", "gnome/world"),
    ("https://gitlab.com/groups/gnome/-/group_members", "gnome"),
    ("http://gitlab.com/my_group.name-2", "my_group.name-2"),
])
def test_gitlab_group_urls(text: str, account: str) -> None:
    assert parse_account_url(text) == AccountRef(platform="gitlab", host="gitlab.com", account=account,
                                                 url=f"https://gitlab.com/{account.lower()}")


def test_self_managed_gitlab_groups_and_their_identity_matches_their_projects() -> None:
    hosts = frozenset({"gitlab.com", "code.example.org:8443"})
    ref = parse_account_url("https://Code.Example.org:8443/Platform/Tools", gitlab_hosts=hosts)
    assert ref == AccountRef(platform="gitlab", host="code.example.org:8443", account="Platform/Tools",
                             url="https://code.example.org:8443/platform/tools")
    # A project of the group has the group's URL as its prefix, as the listing registers it.
    project = parse_repo_url("https://code.example.org:8443/Platform/Tools/Linter.git", gitlab_hosts=hosts)
    assert (project.platform, project.owner, project.url) == (
        "gitlab", "Platform/Tools", "https://code.example.org:8443/platform/tools/linter")
    with pytest.raises(InvalidInputError, match="not on a GitHub or GitLab host"):
        parse_account_url("https://code.example.org:8443/platform")  # not configured: not GitLab


@pytest.mark.parametrize(("text", "fragment"), [
    ("https://gitlab.com/", "names no group"),
    ("https://gitlab.com/groups/", "names no group"),
    ("https://gitlab.com/fdroid/fdroidclient.git", "names a repository"),
    ("https://gitlab.com/explore/groups", "gitlab page"),
    ("https://gitlab.com/dashboard/projects", "gitlab page"),
    ("https://gitlab.com/-/profile", "names no group"),
    ("https://gitlab.com/gnome/-bad", "not a valid gitlab path segment"),
    ("https://gitlab.com/gnome/wo%20rld", "not a valid gitlab path segment"),
    ("https://gitlab.com/gnome/feed.atom", "not a valid gitlab path segment"),
    ("https://gitlab.com/" + "/".join(["g"] * 21), "at most 20 deep"),
    ("https://oauth2:glpat-secret@gitlab.com/gnome", "credentials"),
    ("https://github.com/chaoss/augur", "names a repository"),
    ("https://github.com/", "names no account"),
    ("https://github.com/settings", "not a github account name"),
    ("https://codeberg.org/forgejo", "not on a github or gitlab host"),
    ("https://tok:secret@github.com/chaoss", "credentials"),
    ("ftp://github.com/chaoss", "use https"),
    ("", "empty"),
])
def test_account_urls_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_account_url(text)
    assert fragment in str(info.value).lower()
    assert "secret" not in str(info.value)
