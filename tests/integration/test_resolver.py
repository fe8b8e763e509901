"""The resolver on a collected repository: commit emails become accounts from what is known
for free (noreply addresses, pull request commits), then from GitHub's attribution of one
commit per remaining address; an address no account has is remembered, not asked again. The
scheduler runs it with every collection and again once the facade's commits are in."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
import nats
import pytest

from shared.events import subjects, v1
from shared.events.jetstream import MSG_ID_HEADER
from shared.fakeforge import SAMPLE_REPO, FakeForge
from shared.ids import contributor_id
from tests.integration.conftest import Collect

pytestmark = pytest.mark.integration

URL = f"https://github.com/{SAMPLE_REPO}"
ADA = {"login": "ada-lovelace", "id": 62706181, "type": "User"}
WEB_FLOW = {"login": "web-flow", "id": 19864447, "type": "User"}


async def resolve(pipeline: Any, repo_id: int, serial: int) -> asyncpg.Record:
    """Dispatch a resolver job as the scheduler does and wait until it is committed."""
    owner, name = SAMPLE_REPO.split("/")
    job = v1.Job(job_id=f"resolver-test-{repo_id}-{serial}", repo_id=repo_id, phase=subjects.PHASE_RESOLVER,
                 url=URL, platform="github", host="github.com", owner=owner, name=name)
    nc = await nats.connect(pipeline.servers.nats_url)
    try:
        await nc.jetstream().publish(subjects.command_subject(job.phase, repo_id), v1.encoder.encode(job),
                                     headers={MSG_ID_HEADER: job.job_id})
    finally:
        await nc.close()
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = await conn.fetchrow("SELECT * FROM ops.collection_status WHERE repo_id = $1 AND phase = $2"
                                      " AND job_id = $3", repo_id, job.phase, job.job_id)
            if row is not None and row["state"] in ("committed", "done", "error"):
                assert row["last_error"] is None, row["last_error"]
                return row
            await asyncio.sleep(0.1)
        raise TimeoutError("the resolver job did not finish")
    finally:
        await conn.close()


async def after_the_facade(pipeline: Any, repo_id: int) -> None:
    """Until a resolver job that started after the facade's job was committed is committed too."""
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = await conn.fetchval(
                "SELECT r.state = 'done' AND r.started_at > f.finished_at FROM ops.collection_status r"
                " JOIN ops.collection_status f ON f.repo_id = r.repo_id AND f.phase = 'facade'"
                " WHERE r.repo_id = $1 AND r.phase = 'resolver'", repo_id)
            if done:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError("no resolver job ran after the facade's")
    finally:
        await conn.close()


async def test_commit_emails_become_accounts(collect_repos: Collect, pipeline: Any, forge: FakeForge) -> None:
    forge.accounts = {"ada@example.org": ADA, "noreply@github.com": WEB_FLOW}
    [target] = (await collect_repos([URL])).targets
    assert target.error is None and target.repo_id is not None
    assert "resolver" in target.jobs  # collected with the others
    await after_the_facade(pipeline, target.repo_id)
    lookups = forge.requests_count(f"/repos/{SAMPLE_REPO}/commits/")
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        aliases = {r["email"]: (r["cntrb_id"], r["source"]) for r in await conn.fetch(
            "SELECT email, cntrb_id, source FROM data.contributor_aliases WHERE namespace = 'github'")}
        assert aliases == {
            "12345+grace-hopper@users.noreply.github.com": (contributor_id("github", 12345), "noreply"),
            "49699333+dependabot[bot]@users.noreply.github.com": (contributor_id("github", 49699333), "noreply"),
            "ada@example.org": (contributor_id("github", ADA["id"]), "commit_lookup"),
            "noreply@github.com": (contributor_id("github", WEB_FLOW["id"]), "commit_lookup"),
            "lee@example.cn": (None, "none"),
            "zoe@example.com": (None, "none"),
        }
        # One lookup per address nothing else explained, and nothing more, over every run.
        assert lookups == 4
        kinds = dict(await conn.fetch("SELECT login, kind FROM data.contributors WHERE login IN"
                                      " ('grace-hopper', 'dependabot[bot]', 'ada-lovelace')"))
        assert kinds == {"grace-hopper": "User", "dependabot[bot]": "Bot", "ada-lovelace": "User"}
        # Every commit of a known address reaches its author through data.commit_authors.
        unattributed = await conn.fetchval(
            "SELECT count(*) FROM data.commits c JOIN data.commit_authors a USING (repo_id, sha)"
            " WHERE a.author_id IS NULL AND lower(c.author_email) NOT IN ('lee@example.cn', 'zoe@example.com')")
        assert unattributed == 0
        ada = await conn.fetchval("SELECT count(*) FROM data.commit_authors WHERE author_id = $1",
                                  contributor_id("github", ADA["id"]))
        assert ada == await conn.fetchval("SELECT count(*) FROM data.commits WHERE author_email = 'ada@example.org'")

        # Nothing new: the next pass asks GitHub nothing and writes nothing.
        written = await conn.fetchval("SELECT txid_current()")
        again = await resolve(pipeline, target.repo_id, 2)
        assert again["requests"] == 0
        assert forge.requests_count(f"/repos/{SAMPLE_REPO}/commits/") == 4
        assert await conn.fetchval("SELECT count(*) FROM data.contributor_aliases"
                                   " WHERE xmin::text::bigint > $1", written) == 0
    finally:
        await conn.close()
