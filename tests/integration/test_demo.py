"""The README's first command ends to end: `watershed demo` collects the sample repository and
the sample git history on its own embedded servers, offline, in seconds (it once waited out
anonymous GitHub's hourly limit against the fake forge instead)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.test_bad_input import cli_env, watershed

pytestmark = pytest.mark.integration


async def test_demo_collects_everything_offline(tmp_path: Path) -> None:
    run = await watershed(cli_env(), "demo", "--json", "--data-dir", str(tmp_path / "demo"), timeout=180)
    assert run.code == 0, run.stderr
    summary = json.loads(run.stdout)
    github, local = summary["repos"]
    assert {p["phase"]: p["state"] for p in github["phases"]} == {"collector": "done", "facade": "done", "resolver": "done"}
    assert github["rows"]["issues"] > 0 and github["rows"]["reviews"] > 0 and github["rows"]["commits"] > 0
    assert local["rows"]["commits"] == github["rows"]["commits"]
    assert run.seconds < 120, run.seconds
