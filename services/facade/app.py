"""Facade: keeps one bare clone per repository and publishes its history as commit facts.

A job syncs the clone, reads the tracked refs (the default branch, or every branch with
``WATERSHED_FACADE_ALL_BRANCHES``), and publishes, in this order: the commits that left the
tracked history (``CommitsRetracted``), the new ones (``CommitsObserved``), the tips it read
to (``CursorObserved`` per ref, made current only once the whole job is committed) and the
clone's state (``CloneObserved``). ``services.facade.history`` plans what to read;
``services.facade.refs`` asks git. No work tree is ever checked out.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import msgspec

from services.collector.cursors import read_cursors
from services.facade import history, refs
from services.facade.git import sorted_rev_list, stream_commits, sync_bare_clone
from shared.db import Role, connect_pool
from shared.errors import ErrorKind, WatershedError
from shared.events import subjects, v1
from shared.events.jetstream import MAX_MESSAGE_BYTES, chunk_by_size
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import JobContext, JobWorker

# A commit message past this is cut (with a marker): it must fit a NATS message with its files.
MAX_MESSAGE_CHARS = 256 * 1024
MAX_FILES_PER_ENTRY = 1000
# 5,000 object names are ~220 KB of JSON: well inside a NATS message.
MAX_SHAS_PER_RETRACTION = 5000
# Why a sync failed, as the clone's recorded state (other failures are bugs, not states).
FAILED_STATES = {
    ErrorKind.TRANSIENT: "unreachable", ErrorKind.RATE_LIMITED: "unreachable", ErrorKind.AUTH: "unreachable",
    ErrorKind.NOT_FOUND: "missing", ErrorKind.BLOCKED: "blocked",
}


def remote_for(job: v1.Job, settings: Settings) -> str:
    """Where to fetch from: a GitHub repository from its host's git base (WATERSHED_GITHUB_GIT_URL
    for github.com, WATERSHED_GITHUB_ENTERPRISE_GIT_URLS or the host itself for an Enterprise
    host), a GitLab project likewise (WATERSHED_GITLAB_GIT_URL, WATERSHED_GITLAB_GIT_URLS), under
    its current path (a renamed or moved project is fetched where it is now); other repositories
    as registered."""
    if job.platform == "github":
        endpoint = settings.github_host(job.host)
    elif job.platform == "gitlab":
        endpoint = settings.gitlab_host(job.host)
    else:
        return job.url
    # A host no longer configured is still a git host: git needs no API or token.
    base = endpoint.git_url if endpoint is not None else f"https://{job.host}"
    return f"{base}/{job.owner}/{job.name}.git"


def clone_path(clones_dir: Path, repo_id: int) -> Path:
    # Keyed by id, not name: a renamed repository keeps its clone.
    return clones_dir / f"{repo_id}.git"


def fit(commit: v1.Commit, max_files: int = MAX_FILES_PER_ENTRY) -> list[v1.Commit]:
    """The commit as entries that each fit a NATS message: a giant message is cut (with a
    marker), and the files of a commit touching thousands of paths are spread over several
    entries carrying the whole commit's totals."""
    if len(commit.message) > MAX_MESSAGE_CHARS:
        commit = msgspec.structs.replace(
            commit, message=commit.message[:MAX_MESSAGE_CHARS] + "\n[truncated by watershed]")
    # Half a message for the files leaves room for the message text and the envelope.
    parts = chunk_by_size(commit.files, max_items=max_files, max_bytes=MAX_MESSAGE_BYTES // 2)
    if len(parts) <= 1:
        return [commit]
    totals = {"file_count": len(commit.files),
              "added_total": sum(f.added or 0 for f in commit.files),
              "deleted_total": sum(f.deleted or 0 for f in commit.files)}
    return [msgspec.structs.replace(commit, files=part, **totals) for part in parts]


def disk_usage(path: Path) -> int:
    """Bytes the directory takes on disk (allocated blocks, as ``du`` counts), links not followed."""
    def allocated(st: os.stat_result) -> int:
        return st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size

    total = allocated(path.stat())
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                    except FileNotFoundError:
                        continue  # a pack git replaced while we walked
                    total += allocated(st)
        except FileNotFoundError:
            continue
    return total


class Facade(JobWorker):
    name = "facade"
    phase = subjects.PHASE_FACADE
    source = subjects.SOURCE_GIT

    async def on_start(self) -> None:
        # Bytes per repository this replica synced, for the total gauge: a dict of ints costs
        # a few MB at 100k repositories, where a series per repository would cost Prometheus.
        self.clone_bytes: dict[int, int] = {}
        self.clone_bytes_total = 0
        # Committed cursors and commit rows are read, never written (the processor writes).
        # Without a database every job compares nothing and reads whole histories: correct, slower.
        self.db: asyncpg.Pool | None = None
        if self.settings.database_url:
            self.db = await connect_pool(self.settings.database_url, role=Role.READER, min_size=1, max_size=2)

    async def on_stop(self) -> None:
        if self.db is not None:
            await self.db.close()

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        dest = clone_path(self.settings.clones_dir, job.repo_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            await sync_bare_clone(remote_for(job, self.settings), dest, allow_local=self.settings.facade_allow_local)
        except WatershedError as exc:
            await self._failed_sync(ctx, exc)
            raise
        heads = await refs.read_heads(dest)
        all_branches = self.settings.facade_all_branches
        tracked = heads.tracked(all_branches)
        cursors = await read_cursors(self.db, job.repo_id)
        committed = history.committed_tips({stream: c.value for stream, c in cursors.items()})
        await self.publish_history(ctx, dest, tracked, committed, full=job.full)
        size = await asyncio.to_thread(disk_usage, dest)
        self._observe_size(job.repo_id, size)
        await ctx.emit(v1.CloneObserved, "clone", state="ok" if tracked else "empty", observed_at=datetime.now(UTC),
                       default_branch=heads.default_branch, head_sha=heads.head_sha, branches=len(heads.branches),
                       tracked=len(tracked), all_branches=all_branches, disk_bytes=size)

    async def publish_history(self, ctx: JobContext, repo_dir: Path, tracked: dict[str, str],
                              committed: dict[str, str], *, full: bool) -> None:
        """Retractions, then new commits, then cursors; the refs that make the next job
        incremental are written only once all of it is published."""
        kept = await refs.read_kept(repo_dir)
        state = history.CloneState(tracked=tracked, committed=committed, kept=kept.keep, published=kept.published,
                                   present=await refs.existing_commits(repo_dir, committed.values()), full=full)
        # Pinned before anything goes out, and the last publication forgotten: until this one
        # is whole, the clone cannot vouch for the rows (the next job would reconcile).
        pinned = refs.Kept(state.pins(), frozenset())
        await refs.write_kept(repo_dir, kept, keep=pinned.keep, published=())
        plan = history.plan(state, await refs.reachable_bases(repo_dir, state.bases(), tracked.values()))
        gone = await refs.rev_list(repo_dir, plan.retract_from, exclude=plan.log_from)
        retract, only = gone, None
        if plan.reconcile:
            done = await self._reconcile(ctx.job.repo_id, repo_dir, plan.log_from, gone, whole=full)
            retract, only = list(done.retract), done.log
        for part in chunk_by_size(retract, max_items=MAX_SHAS_PER_RETRACTION):
            await ctx.emit(v1.CommitsRetracted, "commits_retracted", shas=part)
        logged = 0
        async for commits in stream_commits(repo_dir, plan.log_from, exclude=plan.log_not, only=only):
            logged += len(commits)
            await ctx.emit_items(v1.CommitsObserved, "commits", [e for c in commits for e in fit(c)], max_items=500)
        for stream, value in plan.cursors.items():
            await ctx.emit(v1.CursorObserved, "cursor", stream=stream, value=value)
        await ctx.publisher.flush()
        await refs.write_kept(repo_dir, pinned, keep=plan.keep_after, published=tracked.values())
        self.log.info("history.published", repo=ctx.job.url, job=ctx.job.job_id, reconcile=plan.reconcile,
                      tracked=len(tracked), logged=logged, retracted=len(retract))

    async def _reconcile(self, repo_id: int, repo_dir: Path, tips: tuple[str, ...], gone: list[str], *,
                         whole: bool) -> history.Reconciled:
        """The rows against what the tips reach, both sorted into files beside the clone and
        merged line by line: the memory is what differs, never the whole history."""
        prefix = f".reconcile-{repo_id}-"
        # One job of a repository at a time: what an earlier one left behind (a killed worker) goes.
        for stale in repo_dir.parent.glob(f"{prefix}*"):
            await asyncio.to_thread(shutil.rmtree, stale, True)
        with tempfile.TemporaryDirectory(dir=repo_dir.parent, prefix=prefix) as scratch:
            now, rows = Path(scratch) / "reachable", Path(scratch) / "rows"
            await sorted_rev_list(repo_dir, tips, now)
            await self._stored_shas(repo_id, rows)
            return await asyncio.to_thread(_merge_files, now, rows, gone, whole)

    async def _stored_shas(self, repo_id: int, out: Path) -> None:
        """The repository's commit rows, as object names in byte order, into the file ``out``
        (COPY: the database sorts, spilling to its disk; nothing is held here)."""
        if self.db is None:
            out.write_bytes(b"")
            return
        async with self.db.acquire() as conn:
            await conn.copy_from_query('SELECT sha FROM data.commits WHERE repo_id = $1 ORDER BY sha COLLATE "C"',
                                       repo_id, output=str(out))

    async def _failed_sync(self, ctx: JobContext, exc: WatershedError) -> None:
        state = FAILED_STATES.get(exc.kind)
        if state is None:
            return
        await ctx.emit(v1.CloneObserved, "clone", state=state, error=ctx.describe(exc, 500),
                       observed_at=datetime.now(UTC))
        try:
            await ctx.publisher.flush()  # before the worker's cleanup cancels what is in flight
        except Exception as publish_error:  # noqa: BLE001 - the sync's own error is the one to report
            self.log.warning("clone.state_not_published", error=type(publish_error).__name__)

    def _observe_size(self, repo_id: int, size: int) -> None:
        # A histogram of sizes and one total, never a series per repository: 100k repositories
        # would be 100k series on every scrape.
        self.clone_bytes_total += size - self.clone_bytes.get(repo_id, 0)
        self.clone_bytes[repo_id] = size
        self.metrics.clone_bytes.labels(service=self.name).set(self.clone_bytes_total)
        self.metrics.clone_size.labels(service=self.name).observe(size)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Facade:
    return Facade(settings, metrics or Metrics())


def _merge_files(now: Path, rows: Path, gone: list[str], whole: bool) -> history.Reconciled:
    with now.open("r", encoding="ascii", errors="replace") as a, rows.open("r", encoding="ascii", errors="replace") as b:
        return history.reconcile_sorted((line.rstrip("\n") for line in a), (line.rstrip("\n") for line in b), gone,
                                        whole=whole)
