"""Each service alone, as deployed: ``python -m services.<name>`` on real NATS and PostgreSQL,
its probes and metrics over HTTP, a clean exit on SIGTERM, and clear refusals of bad settings."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.db import apply_migrations
from shared.embedded import free_port

pytestmark = pytest.mark.integration

SERVICES = ("scheduler", "collector", "facade", "processor", "analysis", "resolver")
READY_WITHIN_S = 30.0
STOP_WITHIN_S = 15.0


def service_env(tmp_path: Path, **watershed: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATERSHED_")}
    env.update(PYTHONWARNINGS="ignore", WATERSHED_DATA_DIR=str(tmp_path / "data"))
    env.update({f"WATERSHED_{k.upper()}": v for k, v in watershed.items()})
    return env


async def start(name: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", f"services.{name}", env=env,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def wait_ready(proc: asyncio.subprocess.Process, http: httpx.AsyncClient, base: str) -> None:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            break
        try:
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        await asyncio.sleep(0.1)
    proc.kill()
    out, err = await proc.communicate()
    raise AssertionError(f"not ready in {READY_WITHIN_S:g}s (exit {proc.returncode})\n{out.decode()}\n{err.decode()}")


@pytest.mark.parametrize("name", SERVICES)
async def test_service_alone_serves_probes_and_stops_on_sigterm(name: str, nats_url: str, fresh_database_url: str,
                                                                tmp_path: Path) -> None:
    await apply_migrations(fresh_database_url)
    port = free_port()
    proc = await start(name, service_env(tmp_path, nats_url=nats_url, database_url=fresh_database_url,
                                         http_port=str(port), log_format="json"))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            await wait_ready(proc, http, base)
            health = await http.get(f"{base}/healthz")
            assert health.status_code == 200
            assert health.json() == {"status": "ok", "services": {name: True}}
            metrics = await http.get(f"{base}/metrics")
            assert metrics.status_code == 200
            assert f'watershed_up{{service="{name}"}} 1.0' in metrics.text
            assert (await http.get(f"{base}/nothing-here")).status_code == 404
        proc.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        out, err = await asyncio.wait_for(proc.communicate(), STOP_WITHIN_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    assert time.monotonic() - stopping < STOP_WITHIN_S
    assert "Traceback" not in out.decode() + err.decode()


async def run_to_exit(name: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await start(name, env)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.mark.parametrize("name", SERVICES)
async def test_service_without_nats_url_exits_2_with_one_line(name: str, tmp_path: Path) -> None:
    code, out, err = await run_to_exit(name, service_env(tmp_path, database_url="postgresql://u@127.0.0.1:9/x"))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "WATERSHED_NATS_URL" in lines[0]
    assert out == ""


@pytest.mark.parametrize(("variable", "value"), [("JOB_MAX_DELIVER", "abc"), ("HTTP_PORT", "99999"),
                                                 ("NATS_URL", "http://not-nats")])
async def test_service_with_a_bad_setting_names_the_variable(variable: str, value: str, tmp_path: Path) -> None:
    settings = {"nats_url": "nats://127.0.0.1:9", "database_url": "postgresql://u@127.0.0.1:9/x",
                variable.lower(): value}
    code, out, err = await run_to_exit("collector", service_env(tmp_path, **settings))
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"WATERSHED_{variable}" in lines[0]
    assert "Traceback" not in out + err
