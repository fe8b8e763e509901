"""The queue commands through the real CLI, against a running pipeline: add-repo into a group,
set-repo and set-group (priority, recollect interval), prioritize, queue and groups, as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from tests.integration.test_bad_input import cli_env, watershed
from tests.integration.test_loss import make_history
from tests.integration.test_processor_children import wait_for
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration


async def test_settings_priorities_and_the_queue_view(pipeline: Pipeline, tmp_path: Path) -> None:
    repos = [str(make_history(tmp_path / f"g{i}.git", 3)) for i in range(3)]
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  facade_allow_local="1", data_dir=str(tmp_path / "cli"))
    added = await watershed(env, "add-repo", *repos[:2], "--group", "team", "--json")
    assert added.code == 0, added.stderr
    assert [t["created"] for t in json.loads(added.stdout)["targets"]] == [True, True]
    plain = await watershed(env, "add-repo", repos[2])
    assert plain.code == 0 and plain.stdout.startswith("added: ")
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE state = 'done'", 6, timeout=60)

        group = await watershed(env, "set-group", "team", "--priority", "7", "--interval", "2h", "--json")
        assert group.code == 0, group.stderr
        (target,) = json.loads(group.stdout)["targets"]
        assert (target["group"], target["priority"], target["recollect_interval_s"]) == ("team", 7, 7200.0)
        await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE phase = 'facade' AND priority = 7", 2)
        # The new interval moves the next collection of what is done: last success + 2 hours.
        await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE phase = 'facade' AND priority = 7"
                             " AND next_due = last_success_at + interval '2 hours'", 2)

        one = await watershed(env, "set-repo", repos[0], "--priority", "1", "--interval", "30m")
        assert one.code == 0, one.stderr
        assert "priority 1, recollect every 30m" in one.stdout
        await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE phase = 'facade' AND priority = 1"
                             " AND next_due = last_success_at + interval '30 minutes'", 1)
        back = await watershed(env, "set-repo", repos[0], "--inherit-priority", "--json")
        (target,) = json.loads(back.stdout)["targets"]
        assert (target["priority"], target["recollect_interval_s"]) == (None, 1800.0)
        await wait_for(conn, "SELECT count(*) FROM ops.collection_status WHERE phase = 'facade' AND priority = 7", 2)

        queue = json.loads((await watershed(env, "queue", "--json")).stdout)
        # Priority first (a plain git repository has two phases: facade and resolver).
        assert [line["priority"] for line in queue["next"]] == [7, 7, 7, 7, 0, 0], queue["next"]

        status = ("SELECT s.job_id, s.state FROM ops.collection_status s JOIN data.repos r USING (repo_id)"
                  f" WHERE r.url = 'file://{repos[2]}' AND s.phase = 'facade'")
        old_job = (await conn.fetchrow(status))["job_id"]
        urgent = await watershed(env, "prioritize", repos[2], "--json")
        assert urgent.code == 0, urgent.stderr
        assert json.loads(urgent.stdout)["targets"][0]["repo_id"] is not None
        # At the front and due now, though its next collection was a day away: it runs again at once.
        await wait_for(conn, f"SELECT count(*) FROM ({status}) s WHERE s.job_id <> '{old_job}' AND s.state = 'done'", 1,
                       timeout=30)
        assert await conn.fetchval("SELECT count(*) FROM ops.collection_status WHERE urgent") == 0

        groups = {g["name"]: g for g in json.loads((await watershed(env, "groups", "--json")).stdout)["groups"]}
        assert (groups["team"]["repos"], groups["team"]["priority"], groups["team"]["recollect_interval_s"]) == (
            2, 7, 7200.0)
        missing = await watershed(env, "set-group", "nobody", "--priority", "1")
        assert missing.code == 1 and "no such group" in missing.stderr
        nothing = await watershed(env, "set-repo", repos[0])
        assert nothing.code == 2 and "nothing to set" in nothing.stderr
        bad = await watershed(env, "set-repo", repos[0], "--interval", "soon")
        assert bad.code == 2 and "not a duration" in bad.stderr
    finally:
        await conn.close()
