"""load_settings: defaults, one clear error per bad variable, secrets that never show."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.settings import Secret, SettingsError, load_settings

TOKEN = "ghp_" + "S3cr3tT0kenValue" * 2


def test_defaults(tmp_path: Path) -> None:
    s = load_settings({"WATERSHED_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path
    assert s.clones_dir == tmp_path / "clones"
    assert s.nats_url is None and s.database_url is None
    assert (s.log_level, s.log_format) == ("info", "console")
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert s.github_api_url == "https://api.github.com"
    assert s.github_git_url == "https://github.com"
    assert s.github_tokens == ()
    assert s.facade_allow_local is False
    assert (s.recollect_interval_s, s.retry_interval_s, s.scheduler_tick_s) == (86400.0, 3600.0, 5.0)
    assert (s.job_ack_wait_s, s.job_max_deliver) == (300.0, 5)
    assert (s.processor_batch, s.processor_ack_wait_s) == (500, 60.0)
    assert (s.scheduler_batch, s.scheduler_max_in_flight, s.job_stuck_timeout_s, s.leader_ttl_s) == (
        200, 2000, 21600.0, 15.0)
    assert (s.org_refresh_interval_s, s.breadth_interval_s, s.breadth_logins, s.views_refresh_interval_s) == (
        86400.0, 3600.0, 200, 3600.0)


def test_periodic_work_can_be_turned_off() -> None:
    s = load_settings({"WATERSHED_ORG_REFRESH_INTERVAL": "0", "WATERSHED_BREADTH_INTERVAL": "0",
                       "WATERSHED_VIEWS_REFRESH_INTERVAL": "0", "WATERSHED_SCHEDULER_BATCH": "50"})
    assert (s.org_refresh_interval_s, s.breadth_interval_s, s.views_refresh_interval_s) == (0, 0, 0)
    assert s.scheduler_batch == 50


def test_blank_values_mean_default() -> None:
    s = load_settings({"WATERSHED_HTTP_PORT": "  ", "WATERSHED_LOG_LEVEL": "", "WATERSHED_NATS_URL": " "})
    assert s.http_port == 8080 and s.log_level == "info" and s.nats_url is None


def test_good_values_are_parsed() -> None:
    s = load_settings({
        "WATERSHED_HTTP_PORT": " 9000 ",
        "WATERSHED_LOG_LEVEL": "DEBUG",
        "WATERSHED_LOG_FORMAT": "json",
        "WATERSHED_FACADE_ALLOW_LOCAL": "Yes",
        "WATERSHED_RECOLLECT_INTERVAL": "60.5",
        "WATERSHED_NATS_URL": "nats://127.0.0.1:4222/",
        "WATERSHED_DATABASE_URL": "postgresql://u:p@db/watershed",
    })
    assert s.http_port == 9000
    assert (s.log_level, s.log_format) == ("debug", "json")
    assert s.facade_allow_local is True
    assert s.recollect_interval_s == 60.5
    assert s.nats_url == "nats://127.0.0.1:4222"
    assert s.database_url == "postgresql://u:p@db/watershed"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HTTP_PORT", "eighty"),
        ("HTTP_PORT", "70000"),
        ("HTTP_PORT", "-1"),
        ("HTTP_PORT", "80.5"),
        ("JOB_MAX_DELIVER", "0"),
        ("PROCESSOR_BATCH", "10001"),
        ("RECOLLECT_INTERVAL", "daily"),
        ("RECOLLECT_INTERVAL", "0.5"),
        ("RETRY_INTERVAL", "-3600"),
        ("SCHEDULER_TICK", "0.01"),
        ("JOB_ACK_WAIT", "0"),
        ("PROCESSOR_ACK_WAIT", "nan"),
        ("RECOLLECT_INTERVAL", "inf"),
        ("FACADE_ALLOW_LOCAL", "maybe"),
        ("FACADE_ALLOW_LOCAL", "2"),
        ("LOG_LEVEL", "verbose"),
        ("LOG_FORMAT", "xml"),
        ("NATS_URL", "http://127.0.0.1:4222"),
        ("NATS_URL", "127.0.0.1:4222"),
        ("NATS_URL", "nats:"),
        ("DATABASE_URL", "mysql://db/watershed"),
        ("DATABASE_URL", "postgresql:///"),
        ("GITHUB_API_URL", "ftp://api.github.com"),
        ("GITHUB_GIT_URL", "github.com"),
        ("SCHEDULER_BATCH", "0"),
        ("SCHEDULER_MAX_IN_FLIGHT", "many"),
        ("JOB_STUCK_TIMEOUT", "30"),
        ("LEADER_TTL", "0.5"),
        ("ORG_REFRESH_INTERVAL", "-1"),
        ("BREADTH_LOGINS", "0"),
        ("VIEWS_REFRESH_INTERVAL", "hourly"),
    ],
)
def test_bad_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"WATERSHED_{name}\\b"):
        load_settings({f"WATERSHED_{name}": value})


def test_bad_url_error_does_not_echo_the_password() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"WATERSHED_DATABASE_URL": "mysql://user:hunter2pass@db/x"})
    assert "hunter2pass" not in str(info.value)


def test_tokens_from_comma_list() -> None:
    s = load_settings({"WATERSHED_GITHUB_TOKENS": f" {TOKEN} ,, second-token ,"})
    assert [t.reveal() for t in s.github_tokens] == [TOKEN, "second-token"]
    assert all(isinstance(t, Secret) for t in s.github_tokens)


def test_tokens_from_file_add_to_the_list(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text("file-one\n\n  file-two  \nfile-three,file-four\n")
    s = load_settings({"WATERSHED_GITHUB_TOKENS": "inline", "WATERSHED_GITHUB_TOKENS_FILE": str(path)})
    assert [t.reveal() for t in s.github_tokens] == ["inline", "file-one", "file-two", "file-three", "file-four"]


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_tokens_file_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope" if kind == "missing" else tmp_path
    with pytest.raises(SettingsError, match="WATERSHED_GITHUB_TOKENS_FILE") as info:
        load_settings({"WATERSHED_GITHUB_TOKENS_FILE": str(path)})
    assert str(path) in str(info.value)


def test_secret_repr_hides_the_value() -> None:
    secret = Secret(TOKEN)
    assert TOKEN not in repr(secret)
    assert secret.reveal() == TOKEN
    s = load_settings({"WATERSHED_GITHUB_TOKENS": TOKEN})
    assert TOKEN not in repr(s)
    assert TOKEN not in repr(s.github_tokens)
    assert TOKEN not in repr(s.replace(http_port=1))


@pytest.mark.parametrize(
    ("api_url", "hosts"),
    [
        (None, {"github.com"}),
        ("https://api.github.com", {"github.com"}),
        ("https://API.GitHub.com/", {"github.com"}),
        ("https://ghe.example.com/api/v3", {"github.com", "ghe.example.com"}),
        ("https://GHE.Example.com:8443/api/v3", {"github.com", "ghe.example.com"}),
    ],
)
def test_github_hosts(api_url: str | None, hosts: set[str]) -> None:
    env = {"WATERSHED_GITHUB_API_URL": api_url} if api_url else {}
    assert load_settings(env).github_hosts == hosts


def test_data_dir_override_moves_clones(tmp_path: Path) -> None:
    s = load_settings({"WATERSHED_DATA_DIR": "/elsewhere"}, data_dir=tmp_path)
    assert s.data_dir == tmp_path
    assert s.clones_dir == tmp_path / "clones"


def test_data_dir_override_keeps_explicit_clones_dir(tmp_path: Path) -> None:
    clones = tmp_path / "my-clones"
    s = load_settings({"WATERSHED_CLONES_DIR": str(clones)}, data_dir=tmp_path / "data")
    assert s.data_dir == tmp_path / "data"
    assert s.clones_dir == clones


def test_explicit_clones_override_wins(tmp_path: Path) -> None:
    s = load_settings({}, data_dir=tmp_path, clones_dir=tmp_path / "c")
    assert s.clones_dir == tmp_path / "c"


def test_affiliations_file_is_read_and_checked_at_start(tmp_path: Path) -> None:
    from datetime import date

    from shared.affiliations import USER, Mapping

    assert load_settings({}).affiliations == ()
    path = tmp_path / "affiliations.csv"
    path.write_text("domain,organization,since\n# ours\nexample.com,Example Labs,2021-04-01\ngmail.com,\n")
    s = load_settings({"WATERSHED_AFFILIATIONS_FILE": str(path)})
    assert s.affiliations == (Mapping("example.com", date(2021, 4, 1), "Example Labs", USER),
                              Mapping("gmail.com", None, None, USER))
    path.write_text("example.com,Example Labs\n\nann@example.org,Ann's\n")
    with pytest.raises(SettingsError) as info:
        load_settings({"WATERSHED_AFFILIATIONS_FILE": str(path)})
    assert str(info.value) == (f"WATERSHED_AFFILIATIONS_FILE ({path}) line 3: 'ann@example.org' is an email"
                               " address; give its domain")
    with pytest.raises(SettingsError, match="WATERSHED_AFFILIATIONS_FILE: cannot read"):
        load_settings({"WATERSHED_AFFILIATIONS_FILE": str(tmp_path / "missing.csv")})
