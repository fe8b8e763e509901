"""GitLab hosts: gitlab.com through WATERSHED_GITLAB_API_URL, self-managed hosts configured by host
name (the syntax and rules GitHub Enterprise hosts have), and tokens that never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.gitlabhosts import GitLabHost
from shared.settings import Settings, SettingsError, load_settings

TOKEN = "glpat-" + "SelfManagedT0ken" * 2
HOSTS = "WATERSHED_GITLAB_HOSTS"
GIT_URLS = "WATERSHED_GITLAB_GIT_URLS"
TOKENS = "WATERSHED_GITLAB_HOST_TOKENS"
TOKENS_FILE = "WATERSHED_GITLAB_HOST_TOKENS_FILE"


def revealed(host: GitLabHost | None) -> list[str]:
    assert host is not None
    return [t.reveal() for t in host.tokens]


def test_gitlab_com_alone_by_default() -> None:
    s = load_settings({})
    assert s.gitlab_hosts == {"gitlab.com"}
    dotcom = s.gitlab_host("GitLab.com")
    assert dotcom == GitLabHost("gitlab.com", "https://gitlab.com/api/v4", "https://gitlab.com")
    assert s.gitlab_host("github.com") is None and s.github_host("gitlab.com") is None


def test_gitlab_com_api_git_base_and_tokens_are_configurable(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("from-file\n")
    s = load_settings({"WATERSHED_GITLAB_API_URL": "http://127.0.0.1:9/api/v4/",
                       "WATERSHED_GITLAB_GIT_URL": "http://127.0.0.1:9/git",
                       "WATERSHED_GITLAB_TOKENS": "a,b", "WATERSHED_GITLAB_TOKENS_FILE": str(tokens)})
    dotcom = s.gitlab_host("gitlab.com")
    assert dotcom is not None and (dotcom.api_url, dotcom.git_url) == ("http://127.0.0.1:9/api/v4", "http://127.0.0.1:9/git")
    assert revealed(dotcom) == ["a", "b", "from-file"]
    # Unlike GitHub's, a non-default API URL adds no host: self-managed hosts are named.
    assert s.gitlab_hosts == {"gitlab.com"}
    assert sorted(t.reveal() for t in s.secrets) == ["a", "b", "from-file"]


def test_self_managed_hosts_with_api_urls_git_bases_and_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# mounted Secret\ncode.example.org {TOKEN}\n")
    s = load_settings({HOSTS: "GitLab.Example.com, code.example.org=http://127.0.0.1:9/api/v4",
                       GIT_URLS: "code.example.org=http://127.0.0.1:9/git/", TOKENS: "gitlab.example.com=t1",
                       TOKENS_FILE: str(path)})
    assert s.gitlab_hosts == {"gitlab.com", "gitlab.example.com", "code.example.org"}
    assert s.gitlab_host("gitlab.example.com") == GitLabHost(
        "gitlab.example.com", "https://gitlab.example.com/api/v4", "https://gitlab.example.com", s.gitlab_self_managed[0].tokens)
    code = s.gitlab_host("code.example.org")
    assert code is not None and (code.api_url, code.git_url) == ("http://127.0.0.1:9/api/v4", "http://127.0.0.1:9/git")
    assert revealed(s.gitlab_host("gitlab.example.com")) == ["t1"] and revealed(code) == [TOKEN]
    assert TOKEN in [t.reveal() for t in s.secrets]
    for shown in (repr(s), repr(s.gitlab_endpoints), str(code)):
        assert TOKEN not in shown
    # Group and project URLs on a configured host are GitLab's.
    assert s.account_ref("https://code.example.org/platform/tools").platform == "gitlab"
    assert s.repo_ref("https://code.example.org/platform/tools/linter").platform == "gitlab"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({HOSTS: "https://gitlab.example.com"}, f"{HOSTS}: entry 1 is not a host name; give gitlab.example.com"
                                                " or gitlab.example.com=https://gitlab.example.com/api/v4"),
        ({HOSTS: "GitLab.com"}, f"{HOSTS}: gitlab.com is GitLab.com itself, not a self-managed GitLab host;"
                                " gitlab.com is collected through WATERSHED_GITLAB_API_URL"),
        ({HOSTS: "a.example.com,A.example.com"}, f"{HOSTS}: a.example.com is listed twice"),
        ({HOSTS: "a.example.com", "WATERSHED_GITLAB_API_URL": "https://a.example.com/api/v4"},
         f"{HOSTS}: a.example.com has the same API URL as WATERSHED_GITLAB_API_URL"),
        ({GIT_URLS: "a.example.com=https://x"}, f"{GIT_URLS}: entry 1 is not host=URL for a host of {HOSTS}"
                                                f" ({HOSTS} is empty)"),
        ({HOSTS: "a.example.com", TOKENS: TOKEN}, f"{TOKENS}: entry 1 is not 'host=token'"),
        ({HOSTS: "a.example.com", TOKENS: f"gitlab.com={TOKEN}"},
         f"{TOKENS}: entry 1 is for a host that is not a self-managed GitLab host (configured: a.example.com)"),
        ({HOSTS: "a.example.com=https://user:hunter2@a.example.com/api/v4"},
         f"{HOSTS}: the API URL of a.example.com must not carry credentials; give tokens in {TOKENS}"),
        ({"WATERSHED_GITHUB_ENTERPRISE_HOSTS": "code.example.org", HOSTS: "code.example.org"},
         f"{HOSTS}: code.example.org is configured as a GitHub host too"),
    ],
)
def test_bad_settings_are_one_line_naming_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text and TOKEN not in text and "hunter2" not in text


def test_settings_built_in_code_know_gitlab_com(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, nats_url=None, database_url=None)
    assert s.gitlab_hosts == {"gitlab.com"} and s.secrets == ()
