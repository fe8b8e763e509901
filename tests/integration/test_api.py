"""The REST API on a running pipeline: reads are open, mutations need the token and publish what
the CLI would (the processor records them), the numbers match the database and the CLI's
report, tokens never show, and the metrics count by route template."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
import pytest

from tests.integration.apistack import (
    API_TOKEN,
    Collected,
)
from tests.integration.conftest import PIPELINE_TOKEN
from watershed.report import repo_report

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not recorded in time"
        await asyncio.sleep(0.1)


async def test_reads_are_open_mutations_need_the_token_and_no_cors_by_default(api_repo: Collected) -> None:
    async with httpx.AsyncClient(base_url=api_repo.base_url, timeout=30) as http:
        listed = await http.get("/api/v1/repos", headers={"Origin": "https://evil.example"})
        assert listed.status_code == 200
        assert not [h for h in listed.headers if h.lower().startswith("access-control-")]
        assert listed.json()["total"] == 1

        body = {"url": "https://github.com/watershed-demo/other"}
        missing = await http.post("/api/v1/repos", json=body)
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await http.post("/api/v1/repos", json=body, headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401
        assert (await http.delete(f"/api/v1/repos/{api_repo.repo_id}", headers={"Authorization": "Basic eDp5"})
                ).status_code == 401
        preflight = await http.options("/api/v1/repos", headers={"Origin": "https://evil.example",
                                                                  "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 405
        assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
        assert (await http.get("/api/v1/repos")).json()["total"] == 1, "refused requests changed nothing"

        added = await http.post("/api/v1/repos", json=body, headers=AUTH)
        assert added.status_code == 201, added.text
        assert added.headers["location"] == f"/api/v1/repos/{added.json()['repo_id']}"
        again = await http.post("/api/v1/repos", json=body, headers=AUTH)
        assert again.status_code == 200 and again.json()["created"] is False


async def test_repository_detail_is_the_cli_report(api_repo: Collected) -> None:
    async with httpx.AsyncClient(base_url=api_repo.base_url, timeout=30) as http:
        detail = (await http.get(f"/api/v1/repos/{api_repo.repo_id}")).json()
        assert (await http.get("/api/v1/repos/999999")).status_code == 404
        assert (await http.get("/api/v1/repos/99999999999")).status_code == 404
        assert (await http.get("/api/v1/repos/abc")).status_code == 404
    conn = await asyncpg.connect(api_repo.database_url)
    try:
        report = await repo_report(conn, api_repo.repo_id)
    finally:
        await conn.close()
    assert detail["rows"] == report.rows and report.rows["issues"] > 0
    assert detail["requests"] == report.requests
    assert {p["phase"]: p["state"] for p in detail["phases"]} == {"collector": "done", "facade": "done", "resolver": "done"}
    assert all(p["attempt"] == 1 and p["last_collected"] for p in detail["phases"])
    assert detail["repo"]["url"] == api_repo.url and detail["repo"]["group"] == "default"


async def test_mutations_are_recorded_by_the_processor(api_repo: Collected) -> None:
    conn = await asyncpg.connect(api_repo.database_url)
    rid = api_repo.repo_id

    async def repo(column: str) -> object:
        return await conn.fetchval(f"SELECT {column} FROM data.repos WHERE repo_id = $1", rid)

    try:
        async with httpx.AsyncClient(base_url=api_repo.base_url, timeout=60, headers=AUTH) as http:
            response = await http.post(f"/api/v1/repos/{rid}/prioritize", json={"priority": 7})
            assert response.status_code == 202, response.text
            # A standing priority (the queue's settings) and, at once, the front of the queue.
            await eventually(lambda: _eq(conn.fetchval("SELECT ops.effective_priority($1)", rid), 7))
            assert (await http.get(f"/api/v1/repos/{rid}")).json()["repo"]["priority"] == 7
            assert (await http.post(f"/api/v1/repos/{rid}/prioritize", json={"priority": 10**6})).status_code == 422

            # The front of the queue means due now: let those jobs end, or a recollect names them as
            # running (no second job of a phase at once) rather than a full resync.
            await eventually(lambda: _eq(conn.fetchval(
                "SELECT count(*) FILTER (WHERE state NOT IN ('done', 'error') OR next_due <= now())"
                " FROM ops.collection_status WHERE repo_id = $1 AND phase IN ('collector', 'facade')", rid), 0),
                timeout=60)
            recollected = await http.post(f"/api/v1/repos/{rid}/recollect")
            assert recollected.status_code == 202, recollected.text
            jobs = recollected.json()["targets"][0]["jobs"]
            # The resolver may still be running its pass after the first collection (that job is named).
            assert set(jobs) == {"collector", "facade", "resolver"}
            assert jobs["collector"].endswith("-full") and jobs["facade"].endswith("-full")

            assert (await http.delete(f"/api/v1/repos/{rid}")).status_code == 202
            await eventually(lambda: _eq(repo("state"), "removed"))

            async def recollected_jobs_ended() -> bool:
                # The resolver is made due again when they commit (a new job id): the two jobs that fetch.
                fetching = [jobs["collector"], jobs["facade"]]
                rows = await conn.fetch("SELECT state FROM ops.collection_status WHERE job_id = ANY($1::text[])",
                                        fetching)
                return len(rows) == 2 and all(r["state"] in ("done", "error") for r in rows)

            # The jobs dispatched before the removal finish after it: the repository stays removed.
            await eventually(recollected_jobs_ended, timeout=60)
            assert await repo("state") == "removed"
            listed = (await http.get("/api/v1/repos", params={"state": "removed"})).json()
            assert [r["repo_id"] for r in listed["items"]] == [rid]
            assert (await http.post(f"/api/v1/repos/{rid}/recollect")).status_code == 409

            restored = await http.post("/api/v1/repos", json={"url": api_repo.url, "group": "core"})
            assert restored.status_code == 200, restored.text
            assert restored.json()["restored"] is True and restored.json()["repo_id"] == rid
            assert await repo("state") == "active"

            groups = (await http.get("/api/v1/groups")).json()["items"]
            core = next(g for g in groups if g["name"] == "core")
            assert core["repos"] == 1
            made = await http.post("/api/v1/groups", json={"name": "empty one"})
            assert made.status_code == 201 and made.json()["repos"] == 0
            assert (await http.post("/api/v1/groups", json={"name": "empty one"})).status_code == 200
            assert (await http.post(f"/api/v1/groups/{core['group_id']}/prioritize",
                                    json={"priority": -3})).status_code == 202

            async def core_priority() -> object:
                listed = (await http.get("/api/v1/groups")).json()["items"]
                return next(g["priority"] for g in listed if g["name"] == "core")

            await eventually(lambda: _eq(core_priority(), -3))
            # The repository's own standing priority wins over its group's.
            assert await conn.fetchval("SELECT ops.effective_priority($1)", rid) == 7
            default = next(g for g in groups if g["name"] == "default")
            assert (await http.delete(f"/api/v1/groups/{default['group_id']}")).status_code == 409
            assert (await http.delete(f"/api/v1/groups/{core['group_id']}")).status_code == 202
            await eventually(lambda: _eq(repo("state"), "removed"))
            gone = (await http.get("/api/v1/groups")).json()["items"]
            assert "core" not in {g["name"] for g in gone}
            assert (await http.get("/api/v1/groups", params={"include_removed": "true"})).json()["total"] == 3
    finally:
        await conn.close()


async def _eq(value: Awaitable[object], expected: object) -> bool:
    return await value == expected


async def test_queue_tokens_and_overview(api_repo: Collected) -> None:
    async with httpx.AsyncClient(base_url=api_repo.base_url, timeout=30) as http:
        queue = (await http.get("/api/v1/queue")).json()
        assert {q["phase"] for q in queue["queues"]} == {"collector", "facade", "analysis", "resolver"}
        assert queue["jobs_total"] == 0 and all(q["waiting"] == 0 for q in queue["queues"])

        async def reported() -> bool:
            # The collector reports every second; the pass may have ended before its next report.
            servers = (await http.get("/api/v1/tokens")).json()["servers"]
            return any(b.get("remaining") is not None for s in servers for b in s["budgets"])

        await eventually(reported)
        tokens = await http.get("/api/v1/tokens")
        # The GitHub pool (the test's token) beside gitlab.com's, anonymous: no GitLab token is set.
        servers = tokens.json()["servers"]
        (pool,) = [s for s in servers if not s["anonymous"]]
        assert {s["server"] for s in servers if s["anonymous"]} <= {"gitlab.com"}, servers
        core = next(b for b in pool["budgets"] if b["bucket"] == "core")
        assert core["token"].startswith("tok#") and core.get("remaining") is not None and core["reset_at"], tokens.text

        overview = (await http.get("/api/v1/overview")).json()
        assert overview["repos"] == {"active": 1}
        done = {t["phase"]: t["ok"] for t in overview["last_hour"]}
        assert (done["collector"], done["facade"]) == (1, 1) and done["resolver"] >= 1, done
        assert overview["quota"] == tokens.json()["servers"]
        assert (await http.get("/api/v1/dead-letters")).json()["total"] == 0
        # The sample's history (2019-2025), whatever today's date: the default window is the last two years.
        window = {"since": "2019-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
        board = (await http.get("/api/v1/leaderboard/global", params=window)).json()
        mine = (await http.get(f"/api/v1/leaderboard/{api_repo.repo_id}", params={"limit": 5, **window})).json()
        assert board["scope"] == "global" and board["entries"] and board["entries"][0]["rank"] == 1
        assert mine["repo_id"] == api_repo.repo_id and len(mine["entries"]) <= 5
        assert [e["points"] for e in board["entries"]] == sorted((e["points"] for e in board["entries"]), reverse=True)
        assert not any(e["bot"] for e in board["entries"])
        assert any(e["bot"] for e in (await http.get("/api/v1/leaderboard/global",
                                                     params={"include_bots": "true", **window})).json()["entries"])
        heavy = (await http.get("/api/v1/leaderboard/global", params={"weights": "comments=100", **window})).json()
        assert heavy["weights"]["comments"] == 100.0
        for bad in ({"weights": "nope=1"}, {"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
                    {"since": "yesterday"}):
            assert (await http.get("/api/v1/leaderboard/global", params=bad)).status_code == 400, bad
        assert (await http.get("/api/v1/leaderboard/999999")).status_code == 404
        page = (await http.get(f"/leaderboard/{api_repo.repo_id}", params=window)).text
        assert "Leaderboard" in page and board["entries"][0]["login"] in (await http.get("/leaderboard/global",
                                                                                         params=window)).text
        assert "<table" in page

        await asyncio.sleep(1.5)  # a metrics poll
        metrics = (await http.get("/metrics")).text
        everything = [tokens.text, metrics, (await http.get("/")).text, (await http.get("/openapi.json")).text,
                      (await http.get(f"/repos/{api_repo.repo_id}")).text]
    for text in everything:
        assert PIPELINE_TOKEN not in text and API_TOKEN not in text
    assert f'watershed_quota_remaining{{bucket="core",server="{pool["server"]}",service="collector",token="{core["token"]}"}}' in metrics
    assert 'watershed_http_requests_total{method="GET",route="/api/v1/queue",service="scheduler",status="200"} 1.0' in metrics
    assert 'watershed_queue_depth{phase="collector",service="scheduler"} 0.0' in metrics
    assert 'watershed_consumer_pending_messages{consumer="processor",service="processor"} 0.0' in metrics
    assert 'watershed_consumer_pending_messages{consumer="jobs-collector",service="collector"} 0.0' in metrics
    assert 'watershed_dead_letters{service="scheduler"} 0.0' in metrics
    assert 'watershed_rows_written_total{entity="issues",service="processor"}' in metrics
