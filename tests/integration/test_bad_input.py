"""Acceptance: bad input through the real CLI. An invalid URL, an unknown host, a repository that
returns 404 (or 451) each give one clear line and a non-zero exit from ``watershed collect``;
nothing crashes, the stack stays up, and a good repository still collects afterwards. An unknown
host may be a passing DNS outage: it is reported at once but retried, never marked missing."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.fakeforge import SAMPLE_REPO, Dataset, FakeForge
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

GOOD_URL = f"https://github.com/{SAMPLE_REPO}"


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("error:")]


def cli_env(**watershed: str) -> dict[str, str]:
    """The caller's environment without any WATERSHED_* setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    # A wide terminal, so a line rich would wrap at 80 columns shows as what it is.
    env.update(COLUMNS="200", PYTHONWARNINGS="ignore")
    env.update({f"WATERSHED_{k.upper()}": v for k, v in watershed.items()})
    return env


async def watershed(env: dict[str, str], *args: str, timeout: float = 60.0) -> CliRun:
    # A child process, awaited without blocking: the stack it talks to runs in this event loop.
    started = time.monotonic()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "watershed", *args, env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"watershed {' '.join(args)} did not finish in {timeout:g}s") from None
    return CliRun(proc.returncode or 0, out.decode(), err.decode(), time.monotonic() - started)


def assert_one_clear_error(run: CliRun, *expected: str) -> str:
    shown = f"exit {run.code}\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.code != 0, shown
    assert "Traceback" not in run.stdout + run.stderr, shown
    assert len(run.error_lines) == 1, shown
    line = run.error_lines[0]
    assert any(word in line.lower() for word in expected), shown
    return line


@pytest.fixture
def stack_env(pipeline: Pipeline, forge: FakeForge, tmp_path: Path) -> dict[str, str]:
    """The CLI pointed at the running pipeline (and at the fake forge as GitHub)."""
    return cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                   github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
                   data_dir=str(tmp_path / "cli"))


async def assert_stack_up(pipeline: Pipeline) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        for probe in ("/healthz", "/readyz"):
            response = await http.get(pipeline.http_url + probe)
            assert response.status_code == 200, (probe, response.text)
            assert all(response.json()["services"].values()), response.text


@pytest.mark.parametrize(("url", "expected"), [
    ("not a url", ("not a repository url",)),
    ("ftp://example.com/x", ("not a repository url",)),
    ("https://github.com/onlyowner", ("owner and a name",)),
], ids=["words", "ftp", "owner-only"])
async def test_invalid_url_is_refused_before_anything_runs(url: str, expected: tuple[str, ...], pipeline: Pipeline,
                                                           stack_env: dict[str, str], collect_repos) -> None:
    run = await watershed(stack_env, "collect", url)
    line = assert_one_clear_error(run, *expected)
    assert url in line
    assert run.stdout.strip() == ""
    await assert_stack_up(pipeline)
    await collect_repos([GOOD_URL])


@dataclass
class Settled:
    repo_state: str
    kinds: dict[str, str | None]
    scheduled_again: set[str]  # phases with a next due time: collection goes on


async def settled_errors(database_url: str, url: str, timeout: float = 30.0) -> Settled:
    """The repository's phases once every job has failed for good (retries included)."""
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(database_url)
    try:
        while True:
            repo = await conn.fetchrow("SELECT repo_id, state FROM data.repos WHERE url = $1", url)
            assert repo is not None, url
            # The resolver has nothing to fail on: with no commits it resolves nothing, and is done.
            rows = await conn.fetch("SELECT phase, state, error_kind, next_due FROM ops.collection_status"
                                    " WHERE repo_id = $1 AND phase <> 'resolver'", repo["repo_id"])
            if {r["state"] for r in rows} == {"error"}:
                return Settled(repo["state"], {r["phase"]: r["error_kind"] for r in rows},
                               {r["phase"] for r in rows if r["next_due"] is not None})
            assert time.monotonic() < deadline, [dict(r) for r in rows]
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


@pytest.mark.parametrize(("url", "expected", "settled"), [
    # DNS failing says nothing about the repository: retried, and it stays active and scheduled.
    ("https://nonexistent.invalid/foo/bar.git", ("could not resolve host nonexistent.invalid",),
     Settled("active", {"facade": "transient"}, {"facade"})),
    ("https://github.com/watershed-demo/deleted", ("not found", "404"),
     Settled("missing", {"collector": "not_found", "facade": "not_found"}, set())),
    ("https://github.com/watershed-demo/dmca-takedown", ("blocked", "451"),
     Settled("blocked", {"collector": "blocked", "facade": "blocked"}, set())),
], ids=["unknown-host", "404", "451"])
async def test_unreachable_repository_fails_with_one_line(url: str, expected: tuple[str, ...], settled: Settled,
                                                          pipeline: Pipeline, stack_env: dict[str, str]) -> None:
    run = await watershed(stack_env, "collect", url)
    line = assert_one_clear_error(run, *expected)
    assert line.startswith(f"error: {url}: ")
    # A failure worth a retry is reported with the first attempt's error, not after every retry
    # and its backoff (job_max_deliver=2 here, 5 by default; a rate limit may be an hour away).
    assert ("will be retried" in line) == bool(settled.scheduled_again), line
    assert run.seconds < 20, run.seconds
    assert await settled_errors(pipeline.servers.database_url, url) == settled
    await assert_stack_up(pipeline)
    good = await watershed(stack_env, "collect", GOOD_URL)
    assert good.code == 0 and good.error_lines == [], good.stderr
    assert "Traceback" not in good.stdout + good.stderr


async def test_renamed_repository_collects_under_its_new_name(pipeline: Pipeline, stack_env: dict[str, str],
                                                              sample_dataset: Dataset) -> None:
    old_url = "https://github.com/watershed-demo/old-sample"
    run = await watershed(stack_env, "collect", old_url)
    assert run.code == 0 and run.error_lines == [], run.stdout + run.stderr
    data = sample_dataset.repositories[SAMPLE_REPO]
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        repos = await conn.fetch("SELECT * FROM data.repos")
        assert len(repos) == 1
        repo = repos[0]
        # Same row, now under its new name and URL.
        assert (repo["url"], repo["owner"], repo["name"]) == (GOOD_URL, *SAMPLE_REPO.split("/"))
        assert (repo["state"], repo["platform_repo_id"]) == ("active", data.repository["id"])
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM data.issues WHERE repo_id = $1) AS issues,"
            " (SELECT count(*) FROM data.commits WHERE repo_id = $1) AS commits", repo["repo_id"])
        assert counts["issues"] == len(data.plain_issues)
        assert counts["commits"] > 0, "git followed the redirect too"
    finally:
        await conn.close()
    await assert_stack_up(pipeline)
    # Asking for it by its new name finds the same repository, not a second one.
    again = await watershed(stack_env, "collect", GOOD_URL)
    assert again.code == 0, again.stderr
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM data.repos") == 1
    finally:
        await conn.close()


async def test_invalid_url_without_a_stack_returns_at_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run = await watershed(cli_env(), "collect", "--data-dir", str(data_dir), "not a url", timeout=30)
    assert_one_clear_error(run, "not a repository url")
    assert run.seconds < 10, run.seconds
    # Nothing was started: no embedded servers were set up in the data dir.
    assert not data_dir.exists() or not any(data_dir.iterdir()), sorted(data_dir.rglob("*"))
