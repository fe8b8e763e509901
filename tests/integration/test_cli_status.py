"""`watershed collect/recollect/status --json` against a running stack: the JSON contract."""

from __future__ import annotations

import json

import asyncpg
import pytest

from shared.settings import Settings
from tests.integration.test_bad_input import GOOD_URL, cli_env, watershed
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

ROW_KEYS = {"issues", "pull_requests", "issue_comments", "review_comments", "reviews", "issue_events", "pr_commits",
            "pr_files", "labels", "releases", "contributors", "commits"}


async def test_collect_recollect_and_status_json(pipeline: Pipeline, pipeline_settings: Settings) -> None:
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  github_api_url=pipeline_settings.github_api_url, facade_allow_local="1")
    collected = await watershed(env, "collect", "--json", GOOD_URL)
    assert collected.code == 0, collected.stderr
    summary = json.loads(collected.stdout)
    assert summary["repos"][0]["rows"]["issues"] > 0

    again = await watershed(env, "recollect", GOOD_URL)
    assert again.code == 0, again.stderr
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        jobs = await conn.fetch("SELECT phase, job_id, state FROM ops.collection_status ORDER BY phase")
    finally:
        await conn.close()
    # A recollection is a full resync: its jobs say so (and ignore cursors). The resolver may have
    # run again after them (the new commits call for it), as a regular job.
    assert [(r["phase"], r["job_id"].endswith("-full"), r["state"]) for r in jobs][:2] == [
        ("collector", True, "done"), ("facade", True, "done")]
    assert (jobs[2]["phase"], jobs[2]["state"]) == ("resolver", "done")

    status = await watershed(env, "status", "--json", GOOD_URL)
    assert status.code == 0, status.stderr
    (repo,) = json.loads(status.stdout)["repos"]
    assert ROW_KEYS <= set(repo["rows"])
    assert repo["rows"]["issues"] == summary["repos"][0]["rows"]["issues"]
    assert set(repo["requests"]) == {"rest", "graphql", "not_modified", "charged"}
    assert repo["requests"]["rest"] > 0
    assert {p["phase"]: p["state"] for p in repo["phases"]} == {"collector": "done", "facade": "done", "resolver": "done"}
    # The facade's clone: its state, default branch and size, also in the human table.
    clone = repo["clone"]
    assert (clone["state"], clone["default_branch"], clone["all_branches"]) == ("ok", "main", False)
    assert clone["disk_bytes"] > 0 and len(clone["head_sha"]) == 40
    assert repo["rows"]["commits"] == summary["repos"][0]["rows"]["commits"] > 0  # a full resync lost none
    table = await watershed(env, "status", GOOD_URL)
    assert table.code == 0, table.stderr
    assert "clone" in table.stdout and "ok, main" in table.stdout

    # The leaderboard of the sample's history (2019-2025, whatever today's date), as JSON and as a table.
    window = ("--since", "2019-01-01", "--until", "2026-01-01")
    board = await watershed(env, "leaderboard", GOOD_URL, *window, "--json", "--limit", "5")
    assert board.code == 0, board.stderr
    ranked = json.loads(board.stdout)
    assert ranked["scope"] == GOOD_URL and 0 < len(ranked["entries"]) <= 5
    assert ranked["entries"][0]["rank"] == 1 and not any(e["bot"] for e in ranked["entries"])
    text = await watershed(env, "leaderboard", *window)
    assert text.code == 0 and ranked["entries"][0]["login"] in text.stdout, text.stderr
    bad = await watershed(env, "leaderboard", "--weights", "nope=1")
    assert bad.code == 1 and "--weights: unknown weight 'nope'" in bad.stderr
    unknown = await watershed(env, "leaderboard", "https://github.com/nobody/nothing")
    assert unknown.code == 1 and "is not a registered repository" in unknown.stderr
