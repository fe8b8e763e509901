"""Pure pieces of the control-plane commands: durations and times as typed, JSON with every
field, progress bars only on a terminal."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone

import pytest
from rich.console import Console

from shared.events import v1
from watershed.progress import bar
from watershed.render_ops import plain
from watershed.timespec import format_duration, parse_duration, parse_since

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("15m", 900), ("6h", 21600), ("1d", 86400),
                                               ("2w", 1209600), (" 1.5h ", 5400), ("2D", 172800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5m", "0", "5y", "1h30m"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_since_is_a_time_or_a_duration_ago() -> None:
    assert parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T12:00:00Z", NOW) == datetime(2026, 11, 1, 12, tzinfo=timezone.utc)
    assert parse_since("2026-11-01T12:00:00+02:00", NOW) == datetime(2026, 11, 1, 10, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="neither a time"):
        parse_since("yesterday", NOW)


@pytest.mark.parametrize(("seconds", "text"), [(None, "-"), (3600, "1h"), (86400, "1d"), (604800, "1w"),
                                               (1800, "30m"), (90, "90s"), (5400, "90m")])
def test_durations_shown(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_json_output_keeps_defaults() -> None:
    reply = v1.AddOrgReply(targets=[v1.OrgTarget(input="x", created=False)])
    assert plain(reply)["targets"][0]["created"] is False
    assert plain({"a": [v1.RetriedLetter(dead_letter_id=1)]})["a"][0]["job_id"] is None


def test_progress_bars_only_on_a_terminal() -> None:
    piped = io.StringIO()
    with bar(Console(file=piped, force_terminal=False), "working") as update:
        update(1, 2)
    assert piped.getvalue() == ""
    shown = io.StringIO()
    with bar(Console(file=shown, force_terminal=True, width=80), "working") as update:
        update(1, 2)
        update(2, 2)
    assert "working" in shown.getvalue()
    quiet = io.StringIO()
    with bar(Console(file=quiet, force_terminal=True), "working", enabled=False) as update:
        update(1, 1)
    assert quiet.getvalue() == ""
