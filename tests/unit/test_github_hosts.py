"""GitHub Enterprise hosts configured by host name: parsing, validation, the host -> API mapping,
and tokens that never show in a message or a repr."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.githubhosts import GitHubHost
from shared.logging import configure_logging, get_logger
from shared.settings import Secret, Settings, SettingsError, load_settings

TOKEN = "ghp_" + "EnterpriseT0kenValue" * 2
HEX_TOKEN = "0123456789abcdef0123456789abcdef01234567"  # a classic token: also shaped like a host name
HOSTS = "WATERSHED_GITHUB_ENTERPRISE_HOSTS"
GIT_URLS = "WATERSHED_GITHUB_ENTERPRISE_GIT_URLS"
TOKENS = "WATERSHED_GITHUB_ENTERPRISE_TOKENS"
TOKENS_FILE = "WATERSHED_GITHUB_ENTERPRISE_TOKENS_FILE"


def enterprise(env: dict[str, str]) -> dict[str, GitHubHost]:
    return {e.host: e for e in load_settings(env).github_enterprise}


def revealed(host: GitHubHost) -> list[str]:
    return [t.reveal() for t in host.tokens]


def test_none_configured() -> None:
    s = load_settings({})
    assert s.github_enterprise == ()
    assert s.github_hosts == {"github.com"}


def test_a_host_alone_gets_the_standard_api_and_git_base() -> None:
    [ghe] = load_settings({HOSTS: " GHE.Example.com. "}).github_enterprise
    assert ghe == GitHubHost("ghe.example.com", "https://ghe.example.com/api/v3", "https://ghe.example.com")


def test_explicit_api_urls_ports_and_blank_entries() -> None:
    hosts = enterprise({HOSTS: "a.example.com,, b.example.com:8443 ,c.example.test = http://127.0.0.1:9/api/v3/ "})
    assert {h: (e.api_url, e.git_url) for h, e in hosts.items()} == {
        "a.example.com": ("https://a.example.com/api/v3", "https://a.example.com"),
        "b.example.com:8443": ("https://b.example.com:8443/api/v3", "https://b.example.com:8443"),
        "c.example.test": ("http://127.0.0.1:9/api/v3", "https://c.example.test"),
    }


def test_git_urls_per_host() -> None:
    hosts = enterprise({HOSTS: "a.example.com,b.example.com", GIT_URLS: "B.example.com=http://127.0.0.1:9/git/"})
    assert hosts["a.example.com"].git_url == "https://a.example.com"
    assert hosts["b.example.com"].git_url == "http://127.0.0.1:9/git"


def test_tokens_inline_and_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# one per line\n\nb.example.com {TOKEN}\n  a.example.com=file-a  \n"
                    f"A.example.com = file-a2,b.example.com=file-b2\n")
    hosts = enterprise({HOSTS: "a.example.com,b.example.com,c.example.com",
                        TOKENS: f"a.example.com=inline-a, b.example.com={HEX_TOKEN},a.example.com=inline-a",
                        TOKENS_FILE: str(path)})
    assert revealed(hosts["a.example.com"]) == ["inline-a", "file-a", "file-a2"]
    assert revealed(hosts["b.example.com"]) == [HEX_TOKEN, TOKEN, "file-b2"]
    assert hosts["c.example.com"].tokens == ()
    assert all(isinstance(t, Secret) for e in hosts.values() for t in e.tokens)


def test_host_to_api_mapping() -> None:
    s = load_settings({"WATERSHED_GITHUB_TOKENS": "dotcom-token", HOSTS: "ghe.example.com",
                       TOKENS: f"ghe.example.com={TOKEN}"})
    assert s.github_hosts == {"github.com", "ghe.example.com"}
    for host in ("github.com", "GitHub.com", ""):
        dotcom = s.github_host(host)
        assert dotcom is not None and dotcom.host == "github.com"
        assert (dotcom.api_url, dotcom.git_url, revealed(dotcom)) == (
            "https://api.github.com", "https://github.com", ["dotcom-token"])
    ghe = s.github_host("GHE.example.com")
    assert ghe is not None and (ghe.api_url, revealed(ghe)) == ("https://ghe.example.com/api/v3", [TOKEN])
    assert s.github_host("gitlab.com") is None
    assert s.github_host("other.example.com") is None
    assert sorted(t.reveal() for t in s.secrets) == sorted(["dotcom-token", TOKEN])


def test_a_non_default_api_url_still_makes_its_host_a_github_host() -> None:
    # Deployments (and the demo's fake forge) that set WATERSHED_GITHUB_API_URL alone keep working.
    s = load_settings({"WATERSHED_GITHUB_API_URL": "https://old.example.com/api/v3", "WATERSHED_GITHUB_TOKENS": "t",
                       HOSTS: "ghe.example.com"})
    assert s.github_hosts == {"github.com", "old.example.com", "ghe.example.com"}
    old = s.github_host("old.example.com")
    assert old is not None and (old.api_url, old.git_url, revealed(old)) == (
        "https://old.example.com/api/v3", "https://old.example.com", ["t"])


def test_an_explicit_entry_wins_over_the_api_urls_host() -> None:
    s = load_settings({"WATERSHED_GITHUB_API_URL": "https://ghe.example.com/api/v3",
                       HOSTS: "ghe.example.com=https://ghe-api.example.com/api/v3"})
    [ghe] = [e for e in s.github_endpoints if e.host == "ghe.example.com"]
    assert ghe.api_url == "https://ghe-api.example.com/api/v3"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({HOSTS: "https://ghe.example.com"}, f"{HOSTS}: entry 1 is not a host name"),
        ({HOSTS: "ghe.example.com,ghe example.com"}, f"{HOSTS}: entry 2 is not a host name"),
        ({HOSTS: "ghe_example.com"}, f"{HOSTS}: entry 1 is not a host name"),
        ({HOSTS: "=https://ghe.example.com/api/v3"}, f"{HOSTS}: entry 1 is not a host name"),
        ({HOSTS: "ghe.example.com,GHE.example.com"}, f"{HOSTS}: ghe.example.com is listed twice"),
        ({HOSTS: "GitHub.com"}, f"{HOSTS}: github.com is GitHub itself"),
        ({HOSTS: "api.github.com"}, f"{HOSTS}: api.github.com is GitHub itself"),
        ({HOSTS: "ghe.example.com="}, f"{HOSTS}: the API URL of ghe.example.com must be a URL starting with http"),
        ({HOSTS: "ghe.example.com=ftp://ghe.example.com"}, f"{HOSTS}: the API URL of ghe.example.com must be a URL"),
        ({HOSTS: "ghe.example.com=ghe.example.com/api/v3"}, f"{HOSTS}: the API URL of ghe.example.com must be a URL"),
        ({HOSTS: "ghe.example.com=https://ghe.example.com:99999/api/v3"},
         f"{HOSTS}: the API URL of ghe.example.com has a malformed host or port"),
        ({HOSTS: "a.example.com,b.example.com=https://a.example.com/api/v3/"},
         f"{HOSTS}: b.example.com has the same API URL as a.example.com"),
        ({HOSTS: "ghe.example.com", "WATERSHED_GITHUB_API_URL": "https://ghe.example.com/api/v3"},
         f"{HOSTS}: ghe.example.com has the same API URL as WATERSHED_GITHUB_API_URL"),
        ({HOSTS: "ghe.example.com", GIT_URLS: "ghe.example.com"}, f"{GIT_URLS}: entry 1 is not host=URL"),
        ({HOSTS: "ghe.example.com", GIT_URLS: "other.example.com=https://x"}, f"{GIT_URLS}: entry 1 is not host=URL"),
        ({GIT_URLS: "ghe.example.com=https://x"}, f"{GIT_URLS}: entry 1 is not host=URL for a host of {HOSTS}"
                                                   f" ({HOSTS} is empty)"),
        ({HOSTS: "ghe.example.com", GIT_URLS: "ghe.example.com=https://a,ghe.example.com=https://b"},
         f"{GIT_URLS}: ghe.example.com is listed twice"),
        ({HOSTS: "ghe.example.com", GIT_URLS: "ghe.example.com=git@ghe.example.com:x"},
         f"{GIT_URLS}: the git URL of ghe.example.com must be a URL"),
    ],
)
def test_bad_hosts_and_git_urls(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_urls_with_credentials_are_refused_without_echoing_them() -> None:
    for variable, value in ((HOSTS, "ghe.example.com=https://user:hunter2pass@ghe.example.com/api/v3"),
                            (GIT_URLS, "ghe.example.com=https://x-token:hunter2pass@ghe.example.com")):
        env = {HOSTS: "ghe.example.com", variable: value}
        with pytest.raises(SettingsError, match=f"^{variable}: .* must not carry credentials") as info:
            load_settings(env)
        assert "hunter2pass" not in str(info.value)


@pytest.mark.parametrize(
    ("inline", "file_text", "message"),
    [
        (TOKEN, None, f"{TOKENS}: entry 1 is not 'host=token'"),
        (HEX_TOKEN, None, f"{TOKENS}: entry 1 is not 'host=token'"),
        (f"ghe.example.com={TOKEN},ghe.example.com=", None, f"{TOKENS}: entry 2 is not 'host=token'"),
        (f"other.example.com={TOKEN}", None, f"{TOKENS}: entry 1 is for a host that is not an Enterprise host"
                                             " (configured: ghe.example.com)"),
        (f"github.com={TOKEN}", None, f"{TOKENS}: entry 1 is for a host that is not an Enterprise host"),
        (f"{TOKEN}=ghe.example.com", None, f"{TOKENS}: entry 1 is for a host that is not an Enterprise host"),
        (f"{HEX_TOKEN}={TOKEN}", None, f"{TOKENS}: entry 1 is for a host that is not an Enterprise host"),
        (None, f"# tokens\nghe.example.com {TOKEN}\n{TOKEN}\n", f"{TOKENS_FILE}: line 3 is not 'host=token'"),
        (None, f"ghe.example.com {TOKEN} {HEX_TOKEN}\n", f"{TOKENS_FILE}: line 1 is not 'host=token'"),
        (None, f"\n\nnope.example.com={TOKEN}\n", f"{TOKENS_FILE}: line 3 is for a host that is not an Enterprise"),
    ],
)
def test_bad_tokens_never_echo_a_token(tmp_path: Path, inline: str | None, file_text: str | None, message: str) -> None:
    env = {HOSTS: "ghe.example.com"}
    if inline is not None:
        env[TOKENS] = inline
    if file_text is not None:
        path = tmp_path / "tokens"
        path.write_text(file_text)
        env[TOKENS_FILE] = str(path)
    with pytest.raises(SettingsError) as info:
        load_settings(env)
    text = str(info.value)
    assert text.startswith(message), text
    assert TOKEN not in text and HEX_TOKEN not in text and "\n" not in text


def test_tokens_without_any_enterprise_host_are_an_error() -> None:
    with pytest.raises(SettingsError, match=f"^{TOKENS}: entry 1 is for a host .*{HOSTS} is empty") as info:
        load_settings({TOKENS: f"ghe.example.com={TOKEN}"})
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_tokens_file_names_the_variable(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope" if kind == "missing" else tmp_path
    with pytest.raises(SettingsError, match=f"^{TOKENS_FILE}: cannot read {path}"):
        load_settings({HOSTS: "ghe.example.com", TOKENS_FILE: str(path)})


def test_tokens_never_show_in_a_repr() -> None:
    s = load_settings({HOSTS: "ghe.example.com", TOKENS: f"ghe.example.com={HEX_TOKEN}"})
    for shown in (repr(s), repr(s.github_enterprise), repr(s.github_endpoints), str(s.github_host("ghe.example.com"))):
        assert HEX_TOKEN not in shown


def test_enterprise_tokens_are_redacted_in_logs() -> None:
    # A 40-hex token has no credential shape: only registering it redacts it.
    s = load_settings({HOSTS: "ghe.example.com", TOKENS: f"ghe.example.com={HEX_TOKEN}"})
    output = io.StringIO()
    try:
        configure_logging("info", "json", s.secrets, stream=output)
        get_logger("test").info("forge.request", url=f"https://ghe.example.com/?access_token={HEX_TOKEN}")
        logging.getLogger("watershed.test").warning("token %s refused", HEX_TOKEN)
    finally:
        configure_logging("warning", "console")
    assert HEX_TOKEN not in output.getvalue() and output.getvalue().count("***") == 2


def test_settings_built_in_code_need_no_enterprise_hosts(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, nats_url=None, database_url=None)
    assert s.github_hosts == {"github.com"} and s.secrets == ()


def test_a_service_refuses_to_start_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    env.update({HOSTS: "ghe.example.com", TOKENS: f"elsewhere.example.com={HEX_TOKEN}",
                "WATERSHED_DATA_DIR": str(tmp_path)})
    done = subprocess.run([sys.executable, "-m", "services.collector"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2
    assert done.stderr == (f"error: {TOKENS}: entry 1 is for a host that is not an Enterprise host"
                           " (configured: ghe.example.com)\n")
    assert HEX_TOKEN not in done.stdout + done.stderr
