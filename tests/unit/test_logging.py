"""Logging: secrets never reach the output, whatever carries them; json lines are parseable."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.logging import configure_logging, get_logger
from shared.settings import Secret

TOKEN = "registered-" + "0123456789abcdef" * 2  # matches no token shape: only registration masks it
FORMATS = ["console", "json"]


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        if getattr(handler, "_watershed", False):
            root.removeHandler(handler)
    root.setLevel(level)


def _raise_with(secret: str) -> None:
    raise RuntimeError(f"auth refused for {secret}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_registered_secret_is_masked_everywhere(output: io.StringIO, fmt: str) -> None:
    configure_logging("debug", fmt, secrets=[Secret(TOKEN)], stream=output)
    log = get_logger("test", token=TOKEN)
    log.info(f"job.started with {TOKEN}", header=f"Authorization: {TOKEN}")
    try:
        _raise_with(TOKEN)
    except RuntimeError:
        log.exception("job.failed", attempt=2)
    text = output.getvalue()
    assert "job.started" in text and "job.failed" in text
    assert "auth refused for" in text and "_raise_with" in text  # the traceback is there...
    assert TOKEN not in text  # ...without the secret
    assert "***" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_a_chained_exception_is_masked(output: io.StringIO, fmt: str) -> None:
    configure_logging("info", fmt, secrets=[TOKEN], stream=output)
    try:
        try:
            _raise_with(TOKEN)
        except RuntimeError as exc:
            raise ValueError("wrapped") from exc
    except ValueError:
        get_logger("test").exception("job.failed")
    text = output.getvalue()
    assert "wrapped" in text and "auth refused" in text
    assert TOKEN not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_secret_in_non_string_fields_is_masked(output: io.StringIO, fmt: str) -> None:
    configure_logging("info", fmt, secrets=[TOKEN], stream=output)
    get_logger("test").warning("fetch.failed", error=RuntimeError(f"bad {TOKEN}"), urls=[f"x {TOKEN}"])
    text = output.getvalue()
    assert "fetch.failed" in text
    assert TOKEN not in text


def test_secret_added_after_configuration_is_masked(output: io.StringIO) -> None:
    redactor = configure_logging("info", "console", stream=output)
    redactor.add_secrets([Secret(TOKEN)])
    get_logger("test").info("x", token=TOKEN)
    assert TOKEN not in output.getvalue()


SHAPES = [
    "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2",
    "gho_" + "A1b2C3d4E5f6G7h8I9j0K1l2",
    "github_pat_" + "11ABCDEFG0123456789_abcdefghijklmnop",
    "glpat-" + "aB3dE-fGh1jK_lMn0pQrS",
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("token", SHAPES)
def test_token_shapes_are_masked_unregistered(output: io.StringIO, fmt: str, token: str) -> None:
    configure_logging("info", fmt, stream=output)
    log = get_logger("test", bound=f"t={token}")
    log.info(f"using {token} now", field=token)
    try:
        _raise_with(token)
    except RuntimeError:
        log.exception("job.failed")
    text = output.getvalue()
    assert "using" in text and "now" in text
    assert token not in text
    assert token[8:] not in text  # no recognisable tail either


@pytest.mark.parametrize("fmt", FORMATS)
def test_url_credentials_and_bearer_are_masked(output: io.StringIO, fmt: str) -> None:
    configure_logging("info", fmt, stream=output)
    log = get_logger("test")
    log.info("clone https://oauth2:pa55w0rdvalue@gitlab.example.com/o/r.git started")
    log.info("request", headers="Authorization: Bearer abcDEF123456ghiJKL789")
    log.info("request", headers="Authorization: token abcDEF123456ghiJKL789")
    text = output.getvalue()
    assert "pa55w0rdvalue" not in text and "oauth2:" not in text
    assert "gitlab.example.com/o/r.git" in text  # the useful part stays
    assert "abcDEF123456ghiJKL789" not in text


def test_json_is_one_object_per_line_with_event_and_fields(output: io.StringIO) -> None:
    configure_logging("info", "json", stream=output)
    log = get_logger("collector", service="collector", repo="github.com/o/r").bind(job="collector-1-2")
    log.info("job.started", phase="collector", attempt=1)
    log.debug("hidden.at.info")
    try:
        raise KeyError("k")
    except KeyError:
        log.exception("job.failed")
    lines = output.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["event"] == "job.started"
    assert first["level"] == "info" and first["logger"] == "watershed.collector"
    assert {k: first[k] for k in ("service", "repo", "job", "phase", "attempt")} == {
        "service": "collector", "repo": "github.com/o/r", "job": "collector-1-2", "phase": "collector", "attempt": 1,
    }
    assert second["event"] == "job.failed" and "KeyError" in second["exc"]
    assert second["job"] == "collector-1-2"


def test_console_line_has_event_and_fields(output: io.StringIO) -> None:
    configure_logging("info", "console", stream=output)
    get_logger("scheduler", repo="r1").info("job.dispatched", phase="facade")
    [line] = output.getvalue().splitlines()
    assert "info" in line and "watershed.scheduler: job.dispatched" in line
    assert line.endswith("repo=r1 phase=facade")


def test_reconfiguring_replaces_the_handler(output: io.StringIO) -> None:
    other = io.StringIO()
    configure_logging("info", "console", stream=other)
    configure_logging("info", "console", stream=output)
    get_logger("test").info("once")
    assert other.getvalue() == ""
    assert output.getvalue().count("once") == 1
