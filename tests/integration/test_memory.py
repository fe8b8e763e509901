"""Memory stays flat: collecting a repository with 50,000 issues keeps the collector under
300 MB RSS, because items stream through page by page and nothing holds a whole repository.

The collector runs as its own process (so its peak RSS is its own), the rest of the pipeline in
this process, the fake forge in a thread of this process."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.embedded import free_port
from shared.fakeforge import FakeForge, create_sample_git_repo, generate_dataset
from shared.settings import Secret, load_settings
from tests.integration.test_services import service_env
from watershed.client import request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

OWNER, NAME = "memory", "many-issues"
TOKEN = "memory-test-token"
ISSUES = 50_000
PEAK_RSS_LIMIT_MB = 300


@pytest.fixture(scope="module")
def many_issues_forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeForge]:
    # Issues only, as far as the generator allows: the test is about one long stream.
    dataset = generate_dataset(5, OWNER, NAME, n_users=80, n_issues=ISSUES, n_pulls=5, n_comments=50,
                               n_review_comments=0, events_per_issue=(0, 0), n_releases=1)
    forge = FakeForge(dataset, tokens={TOKEN}, rate_limit=10**7)
    forge.graphql_rate_limit = 10**7
    forge.start()
    forge.add_git_repo(f"{OWNER}/{NAME}", create_sample_git_repo(tmp_path_factory.mktemp("git") / "sample"))
    yield forge
    forge.close()


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """From /proc/<pid>/status, in MB: VmHWM is the peak resident set so far, VmRSS the current one."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024  # kB
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def wait_ready(proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=5) as http:
        while time.monotonic() < deadline and proc.returncode is None:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
    raise AssertionError(f"collector not ready (exit {proc.returncode}):\n{log.read_text()[-3000:]}")


async def test_collector_memory_stays_flat_on_50k_issues(nats_url: str, fresh_database_url: str,
                                                         many_issues_forge: FakeForge, tmp_path: Path) -> None:
    forge = many_issues_forge
    settings = load_settings({}, nats_url=nats_url, database_url=fresh_database_url, data_dir=tmp_path / "data",
                             github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
                             github_tokens=(Secret(TOKEN),), facade_allow_local=True, scheduler_tick_s=0.2,
                             job_max_deliver=1, retry_interval_s=3600)
    port = free_port()
    env = service_env(tmp_path, nats_url=nats_url, database_url=fresh_database_url, github_api_url=forge.base_url,
                      github_tokens=TOKEN, http_port=str(port), log_level="warning")
    log = tmp_path / "collector.log"
    # The pipeline first: it applies the migrations the collector's readiness needs.
    async with Pipeline(settings, http_port=0, without=frozenset({"collector"})) as pipeline:
        with log.open("wb") as err:
            collector = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.collector", env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=err)
        try:
            await wait_ready(collector, port, log)
            started_mb = memory_mb(collector.pid, "VmRSS")
            started = time.monotonic()
            url = f"https://github.com/{OWNER}/{NAME}"
            reply = await request_collection(pipeline.servers.nats_url, [url], dispatch=True)
            await wait_for_jobs(fresh_database_url, reply, timeout=240)
            assert collector.returncode is None, log.read_text()[-3000:]
            peak = memory_mb(collector.pid)
            seconds = time.monotonic() - started
        finally:
            if collector.returncode is None:
                collector.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(collector.wait(), 30)
                except TimeoutError:
                    collector.kill()
                    await collector.wait()

    conn = await asyncpg.connect(fresh_database_url)
    try:
        issues = await conn.fetchval("SELECT count(*) FROM data.issues")
        state = await conn.fetchrow("SELECT state, last_error FROM ops.collection_status WHERE phase = 'collector'")
    finally:
        await conn.close()
    assert state is not None and state["state"] == "done", state
    assert issues == ISSUES
    print(f"collector: {started_mb:.0f} MB RSS when ready, peak {peak:.0f} MB collecting {ISSUES} issues"
          f" (collection {seconds:.0f} s)")
    assert peak < PEAK_RSS_LIMIT_MB, f"collector peaked at {peak:.0f} MB RSS"
