"""Acceptance: a job that keeps failing (the fake forge answers 500 forever for one repository)
ends in the DEADLETTER stream with its error after WATERSHED_JOB_MAX_DELIVER deliveries, shows in
`watershed dlq` with its attempts and the phase's next automatic retry, and `watershed dlq retry`
runs it again successfully once the forge is healed. A staged message the processor cannot
apply is listed beside it."""

from __future__ import annotations

import json

import asyncpg
import nats
import pytest

from shared.events import subjects
from shared.events.jetstream import ERROR_HEADER
from shared.fakeforge import SAMPLE_REPO, FakeForge
from shared.settings import Settings
from tests.integration.test_bad_input import GOOD_URL, cli_env, watershed
from tests.integration.test_processor_children import wait_for
from watershed.client import request_collection
from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration


async def test_a_poison_job_is_dead_lettered_listed_and_retried_once_healed(
        pipeline: Pipeline, pipeline_settings: Settings, forge: FakeForge) -> None:
    # The repository's own endpoint only (the collector's first request): the resolver's
    # /repos/{repo}/commits/{sha} answers, so only the collector's job is poisoned.
    forge.fail_next(f"/repos/{SAMPLE_REPO}", status=500, times=10**6, exact=True)
    env = cli_env(nats_url=pipeline.servers.nats_url, database_url=pipeline.servers.database_url,
                  github_api_url=forge.base_url, facade_allow_local="1")
    reply = await request_collection(pipeline.servers.nats_url, [GOOD_URL], dispatch=True)
    repo_id = reply.targets[0].repo_id
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        # Two deliveries (the pipeline's WATERSHED_JOB_MAX_DELIVER), each with the client's own retries.
        await wait_for(conn, "SELECT count(*) FROM ops.dead_letters", 1, timeout=90)
        nc = await nats.connect(pipeline.servers.nats_url)
        try:
            raw = await nc.jetstream().get_last_msg(subjects.DEADLETTER,
                                                   subjects.deadletter_subject(subjects.command_subject("collector",
                                                                                                      repo_id)))
            assert "server error (HTTP 500)" in raw.headers[ERROR_HEADER]
            # A message the processor cannot apply, dead-lettered by the processor.
            await nc.jetstream().publish(subjects.event_subject(subjects.SOURCE_FORGE, repo_id, "issues"), b"{not json",
                                         headers={"Nats-Msg-Id": "garbage-1"})
        finally:
            await nc.close()
        await wait_for(conn, "SELECT count(*) FROM ops.dead_letters", 2)
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE phase = 'collector'", "error")

        listed = await watershed(env, "dlq", "--json")
        assert listed.code == 0, listed.stderr
        letters = {d["kind"]: d for d in json.loads(listed.stdout)["dead_letters"]}
        job = letters["job"]
        assert (job["repo"], job["phase"], job["attempts"]) == (GOOD_URL, "collector", pipeline_settings.job_max_deliver)
        assert "server error (HTTP 500)" in job["error"] and job["failed_at"]
        assert job["next_retry"] is not None  # the phase retries by itself, backing off
        assert letters["message"]["repo"] == GOOD_URL and "undecodable" in letters["message"]["error"]
        table = await watershed(env, "dlq")
        assert table.code == 0 and "collector" in table.stdout and "500" in table.stdout

        forge.clear_faults()
        retried = await watershed(env, "dlq", "retry", str(job["id"]), "--json")
        assert retried.code == 0, retried.stderr
        (again,) = json.loads(retried.stdout)["retried"]
        assert again["kind"] == "job" and again["job_id"].endswith("-retry")
        await wait_for(conn, "SELECT state FROM ops.collection_status WHERE phase = 'collector'", "done", timeout=60)
        assert await conn.fetchval("SELECT job_id FROM ops.collection_status WHERE phase = 'collector'") == \
            again["job_id"]
        assert await conn.fetchval("SELECT count(*) FROM data.issues") > 0
        await wait_for(conn, "SELECT count(*) FROM ops.dead_letters WHERE kind = 'job' AND resolved_at IS NOT NULL", 1)

        after = json.loads((await watershed(env, "dlq", "--json")).stdout)["dead_letters"]
        assert [d["kind"] for d in after] == ["message"]  # the job's is resolved
        every = json.loads((await watershed(env, "dlq", "--all", "--json")).stdout)["dead_letters"]
        assert {d["kind"] for d in every} == {"job", "message"}
        # Handing the bad message back: resolved as handed over; the processor refuses it again.
        handed = await watershed(env, "dlq", "retry", "--all", "--json")
        assert handed.code == 0, handed.stderr
        assert [r["kind"] for r in json.loads(handed.stdout)["retried"]] == ["message"]
        await wait_for(conn, "SELECT count(*) FROM ops.dead_letters WHERE kind = 'message'", 2)
        missing = await watershed(env, "dlq", "retry", "999999")
        assert missing.code == 1 and "no such dead letter" in missing.stderr
    finally:
        await conn.close()
