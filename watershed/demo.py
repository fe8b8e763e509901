"""``watershed demo``: the whole pipeline offline, on the fake forge and a local git repository."""

from __future__ import annotations

import time

from rich.console import Console

from shared.fakeforge import SAMPLE_REPO, demo_forge
from shared.runner import stop_event_on_signals
from shared.secret import Secret
from shared.settings import Settings
from watershed import render
from watershed.client import reports_for, request_collection, wait_for_jobs
from watershed.pipeline import Pipeline

DEMO_TOKEN = "watershed-demo-token"  # the fake forge's only: never a real GitHub token


async def run_demo(base: Settings, console: Console, *, as_json: bool, serve: bool) -> bool:
    workdir = base.data_dir / "forge"
    workdir.mkdir(parents=True, exist_ok=True)
    # The fake forge takes any token; with one the demo runs the authenticated path a real
    # deployment runs (GraphQL children, clone traffic), and anonymous GitHub's 60 requests an
    # hour would stall it for the hour.
    forge = demo_forge(workdir, push_tokens=(DEMO_TOKEN,)).start()
    try:
        settings = base.replace(
            github_api_url=forge.base_url, github_git_url=f"{forge.base_url}/git",
            facade_allow_local=True, nats_url=None, database_url=None,
            # Never the user's own tokens: the demo talks to nothing real.
            github_tokens=(Secret(DEMO_TOKEN),),
        )
        urls = [f"https://github.com/{SAMPLE_REPO}", str(workdir / "sample")]
        stop = stop_event_on_signals() if serve else None
        started = time.monotonic()
        async with Pipeline(settings, http_port=0 if not serve else None) as pipeline:
            if not as_json:
                console.print(f"fake forge: {forge.base_url}   data dir: {settings.data_dir}")
            reply = await request_collection(pipeline.servers.nats_url, urls, dispatch=True)
            await wait_for_jobs(pipeline.servers.database_url, reply, timeout=600)
            reports = await reports_for(pipeline.servers.database_url, reply)
            render.summary(console, reports, time.monotonic() - started, as_json=as_json)
            ok = not any(r.failed for r in reports)
            if serve and stop is not None:
                console.print(f"PostgreSQL: {pipeline.servers.database_url}")
                console.print(f"NATS:       {pipeline.servers.nats_url}")
                console.print(f"HTTP:       {pipeline.http_url}")
                console.print("serving; Ctrl-C stops")
                await stop.wait()
            return ok
    finally:
        forge.close()
