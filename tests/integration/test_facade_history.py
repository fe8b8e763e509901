"""The facade reads a repository's history incrementally and keeps the rows equal to what git
says the tracked history is: new commits only on a second pass, rewritten history (force-push)
and deleted branches retracted, empty repositories stated; checked against real git."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import asyncpg
import nats
import pytest

from shared.events import subjects, v1
from shared.settings import Settings
from watershed.pipeline import Pipeline
from watershed.report import repo_report

pytestmark = pytest.mark.integration

FileRow = tuple[str, str, int | None, int | None]


@pytest.fixture
def all_branches() -> bool:
    return False


@pytest.fixture
def pipeline_settings(pipeline_settings: Settings, all_branches: bool) -> Settings:
    return pipeline_settings.replace(facade_all_branches=all_branches)


class Source:
    """A working repository the tests change the way people change theirs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000
        path.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        self.clock += 60  # every commit its own second: no two runs differ, no two commits collide
        env = {"PATH": os.environ["PATH"], "HOME": str(self.path), "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C",
               "GIT_AUTHOR_DATE": f"@{self.clock} +0200", "GIT_COMMITTER_DATE": f"@{self.clock} +0200"}
        base = ["git", "-C", str(self.path), "-c", "user.name=Dev", "-c", "user.email=dev@example.org",
                "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null"]
        return subprocess.run([*base, *args], env=env, check=True, capture_output=True, text=True).stdout

    def commit(self, name: str, lines: int = 1) -> str:
        target = self.path / f"{name}.txt"
        target.write_text("".join(f"{name} {i}\n" for i in range(lines)) + (target.read_text() if target.exists() else ""))
        self.git("add", "-A")
        self.git("commit", "-q", "-m", f"change {name}")
        return self.git("rev-parse", "HEAD").strip()

    def shas(self, *revs: str) -> set[str]:
        return set(self.git("rev-list", *revs).split())

    def rows(self, *revs: str) -> tuple[dict[str, tuple[int, int, int]], set[FileRow]]:
        """What the rows must be, by git: per commit (files, added, deleted) and every file line.
        Merges show no files (git log --diff-merges=off, the default)."""
        out = self.git("log", "--format=@%H", "--numstat", "--no-renames", *revs)
        commits: dict[str, list[FileRow]] = defaultdict(list)
        sha = ""
        for line in out.splitlines():
            if line.startswith("@"):
                sha = line[1:]
                commits[sha] = []
            elif line.strip():
                added, deleted, path = line.split("\t")
                commits[sha].append((sha, path, int(added), int(deleted)))
        totals = {s: (len(f), sum(r[2] or 0 for r in f), sum(r[3] or 0 for r in f)) for s, f in commits.items()}
        return totals, {r for f in commits.values() for r in f}


async def stored(conn: asyncpg.Connection, repo_id: int) -> tuple[dict[str, tuple[int, int, int]], set[FileRow]]:
    commits = {r["sha"]: (r["files_changed"], r["additions"], r["deletions"]) for r in await conn.fetch(
        "SELECT sha, files_changed, additions, deletions FROM data.commits WHERE repo_id = $1", repo_id)}
    files = {tuple(r) for r in await conn.fetch(
        "SELECT sha, path, added, deleted FROM data.commit_files WHERE repo_id = $1", repo_id)}
    return commits, files  # type: ignore[return-value]


async def published(nats_url: str, repo_id: int) -> dict[str, dict[str, list[str]]]:
    """Per facade job: the commits it observed and the commits it retracted, from the stream."""
    nc = await nats.connect(nats_url)
    jobs: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"observed": [], "retracted": []})
    try:
        sub = await nc.jetstream().subscribe(subjects.event_subject(subjects.SOURCE_GIT, repo_id, ">"),
                                             ordered_consumer=True)
        while True:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                break
            event = v1.staged_decoder.decode(msg.data)
            if isinstance(event, v1.CommitsObserved):
                jobs[event.job_id]["observed"] += [c.sha for c in event.items]
            elif isinstance(event, v1.CommitsRetracted):
                jobs[event.job_id]["retracted"] += event.shas
    finally:
        await nc.close()
    return dict(jobs)


async def last_job(nats_url: str, repo_id: int, reply: v1.CollectReply) -> dict[str, set[str]]:
    job = (await published(nats_url, repo_id)).get(reply.targets[0].jobs["facade"], {"observed": [], "retracted": []})
    # A commit of thousands of files travels in several entries: count commits, not entries.
    assert len(job["retracted"]) == len(set(job["retracted"]))
    return {"observed": set(job["observed"]), "retracted": set(job["retracted"])}


def reconciled(caplog: pytest.LogCaptureFixture) -> list[str | None]:
    """Per facade job so far: why it compared with the rows, or None when it read incrementally."""
    return [r.fields["reconcile"] for r in caplog.records  # type: ignore[attr-defined]
            if r.name == "watershed.facade" and r.getMessage() == "history.published"]


async def collect_one(collect_repos, source: Source) -> tuple[int, v1.CollectReply]:  # type: ignore[no-untyped-def]
    reply = await collect_repos([str(source.path)])
    (target,) = reply.targets
    assert target.error is None and target.repo_id is not None
    return target.repo_id, reply


async def test_history_is_read_incrementally_and_rewrites_are_retracted(
        pipeline: Pipeline, collect_repos, pipeline_settings: Settings, tmp_path: Path,  # type: ignore[no-untyped-def]
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="watershed.facade")
    src = Source(tmp_path / "src")
    for n in range(5):
        src.commit(f"a{n}", lines=n + 1)
    nats_url = pipeline.servers.nats_url
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        repo_id, reply = await collect_one(collect_repos, src)
        assert await stored(conn, repo_id) == src.rows("main")
        assert (await last_job(nats_url, repo_id, reply))["observed"] == src.shas("main")
        first_xmin = {r["sha"]: r["xmin"] for r in await conn.fetch(
            "SELECT sha, xmin::text FROM data.commits WHERE repo_id = $1", repo_id)}

        # New commits: only they are read (git's own `new --not old`), old rows are not touched.
        before = src.shas("main")
        for n in range(3):
            src.commit(f"b{n}", lines=2)
        repo_id, reply = await collect_one(collect_repos, src)
        assert (await last_job(nats_url, repo_id, reply)) == {"observed": src.shas("main") - before,
                                                              "retracted": set()}
        assert await stored(conn, repo_id) == src.rows("main")
        assert {r["sha"]: r["xmin"] for r in await conn.fetch(
            "SELECT sha, xmin::text FROM data.commits WHERE repo_id = $1 AND sha = ANY($2::text[])",
            repo_id, list(before))} == first_xmin

        # Nothing new: nothing read, nothing retracted.
        repo_id, reply = await collect_one(collect_repos, src)
        assert await last_job(nats_url, repo_id, reply) == {"observed": set(), "retracted": set()}

        # A force-push: two commits dropped, two others in their place. The clone is fetched and
        # garbage-collected before the job, so only the facade's kept refs hold the old tip.
        old, old_tip = src.shas("main"), src.git("rev-parse", "main").strip()
        src.git("reset", "-q", "--hard", "HEAD~2")
        base = src.shas("main")
        src.commit("c0", lines=3)
        src.commit("a1", lines=1)  # touches a file the dropped commits touched too
        clone = pipeline_settings.clones_dir / f"{repo_id}.git"
        subprocess.run(["git", "-C", str(clone), "fetch", "-q", "--prune", str(src.path),
                        "+refs/heads/*:refs/heads/*"], check=True)
        subprocess.run(["git", "-C", str(clone), "-c", "gc.reflogExpire=now", "-c", "gc.reflogExpireUnreachable=now",
                        "gc", "-q", "--prune=now"], check=True)
        repo_id, reply = await collect_one(collect_repos, src)
        job = await last_job(nats_url, repo_id, reply)
        assert job == {"observed": src.shas("main") - base, "retracted": old - base}
        assert await stored(conn, repo_id) == src.rows("main")
        assert not (old - base) & set((await stored(conn, repo_id))[0])
        # Only the first job compared with the rows; the others read git's `new --not old`,
        # the force-push included: gc could not take the old tip from the kept refs.
        assert reconciled(caplog) == ["no committed cursors", None, None, None]
        kept = subprocess.run(["git", "-C", str(clone), "for-each-ref", "--format=%(objectname)", "refs/watershed/keep/"],
                              check=True, capture_output=True, text=True).stdout.split()
        assert old_tip in kept  # until a job finds the one that read past it committed

        clone_row = await conn.fetchrow("SELECT * FROM data.repo_clones WHERE repo_id = $1", repo_id)
        assert (clone_row["state"], clone_row["default_branch"], clone_row["head_sha"], clone_row["branches"],
                clone_row["tracked_refs"], clone_row["all_branches"]) == (
                    "ok", "main", src.git("rev-parse", "main").strip(), 1, 1, False)
        du = subprocess.run(["du", "-s", "-B1", str(clone)], check=True, capture_output=True, text=True).stdout
        assert clone_row["disk_bytes"] == int(du.split()[0])
        report = await repo_report(conn, repo_id)
        assert report.clone is not None and report.clone.disk_bytes == clone_row["disk_bytes"]
        assert pipeline.metrics.registry.get_sample_value(
            "watershed_facade_clone_bytes", {"service": "facade"}) == clone_row["disk_bytes"]
        assert pipeline.metrics.registry.get_sample_value(
            "watershed_facade_clone_size_bytes_count", {"service": "facade"}) == 4
    finally:
        await conn.close()


@pytest.mark.parametrize("all_branches", [True])
async def test_every_branch_is_read_and_a_deleted_branch_is_retracted(
        pipeline: Pipeline, collect_repos, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = Source(tmp_path / "src")
    for n in range(3):
        src.commit(f"m{n}")
    src.git("checkout", "-q", "-b", "feature", "HEAD~1")
    src.commit("f0")
    src.commit("f1")
    src.git("checkout", "-q", "-b", "merged", "main")
    src.commit("g0")
    src.git("checkout", "-q", "main")
    src.git("merge", "-q", "--no-ff", "-m", "merge merged", "merged")
    nats_url = pipeline.servers.nats_url
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        repo_id, reply = await collect_one(collect_repos, src)
        assert await stored(conn, repo_id) == src.rows("--branches")
        observed = (await last_job(nats_url, repo_id, reply))["observed"]
        assert observed == src.shas("--branches")  # a commit on three branches is read (and stored) once
        merge = src.git("rev-parse", "main").strip()
        assert (await stored(conn, repo_id))[0][merge] == (0, 0, 0)  # a merge has no files of its own

        # One commit more on one branch: that commit alone is read.
        before = src.shas("--branches")
        src.git("checkout", "-q", "feature")
        new = src.commit("f2")
        src.git("checkout", "-q", "main")
        repo_id, reply = await collect_one(collect_repos, src)
        assert await last_job(nats_url, repo_id, reply) == {"observed": {new}, "retracted": set()}

        # Deleting branches: the merged one's commit stays (main reaches it), the feature's go.
        feature_only = src.shas("feature", "--not", "main")
        src.git("branch", "-q", "-D", "feature", "merged")
        repo_id, reply = await collect_one(collect_repos, src)
        assert await last_job(nats_url, repo_id, reply) == {"observed": set(), "retracted": feature_only}
        assert await stored(conn, repo_id) == src.rows("--branches")
        assert src.shas("--branches") == (before | {new}) - feature_only
        cursors = {r["stream"]: r["value"] for r in await conn.fetch(
            "SELECT stream, value FROM ops.cursors WHERE repo_id = $1", repo_id)}
        assert cursors == {"git:refs/heads/main": merge, "git:refs/heads/feature": None,
                           "git:refs/heads/merged": None}
        clone_row = await conn.fetchrow("SELECT branches, tracked_refs, all_branches FROM data.repo_clones")
        assert dict(clone_row) == {"branches": 1, "tracked_refs": 1, "all_branches": True}
    finally:
        await conn.close()


async def test_an_empty_repository_is_done_and_says_so(
        pipeline: Pipeline, collect_repos, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = Source(tmp_path / "src")
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        repo_id, _ = await collect_one(collect_repos, src)
        assert await conn.fetchval(
            "SELECT state FROM ops.collection_status WHERE repo_id = $1 AND phase = 'facade'", repo_id) == "done"
        row = await conn.fetchrow("SELECT state, head_sha, tracked_refs, disk_bytes FROM data.repo_clones")
        assert (row["state"], row["head_sha"], row["tracked_refs"]) == ("empty", None, 0)
        assert row["disk_bytes"] > 0
        assert await conn.fetchval("SELECT count(*) FROM data.commits") == 0

        # Its first commits arrive on a branch other than the one the clone's HEAD named.
        src.git("checkout", "-q", "-b", "trunk")
        src.commit("first")
        repo_id, _ = await collect_one(collect_repos, src)
        row = await conn.fetchrow("SELECT state, default_branch FROM data.repo_clones")
        assert dict(row) == {"state": "ok", "default_branch": "trunk"}
        assert await stored(conn, repo_id) == src.rows("trunk")

        # And a repository that disappears is missing, its clone saying why.
        subprocess.run(["rm", "-rf", str(src.path)], check=True)
        reply = await collect_repos([str(src.path)])
        assert await conn.fetchval("SELECT state FROM data.repos WHERE repo_id = $1", repo_id) == "missing"
        row = await conn.fetchrow("SELECT state, error, default_branch FROM data.repo_clones")
        assert (row["state"], row["default_branch"]) == ("missing", "trunk")
        assert "not found" in row["error"] or "does not" in row["error"]
        assert reply.targets[0].repo_id == repo_id
    finally:
        await conn.close()
