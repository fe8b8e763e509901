"""Facade: keeps one bare clone per repository and publishes its history as commit facts."""

from __future__ import annotations

from pathlib import Path

import msgspec

from services.facade.git import stream_log, sync_bare_clone
from shared.events import subjects, v1
from shared.events.jetstream import MAX_MESSAGE_BYTES, chunk_by_size
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import JobContext, JobWorker

# A commit message past this is cut (with a marker): it must fit a NATS message with its files.
MAX_MESSAGE_CHARS = 256 * 1024
MAX_FILES_PER_ENTRY = 1000


def remote_for(job: v1.Job, settings: Settings) -> str:
    """Where to fetch from: a GitHub repository from its host's git base (WATERSHED_GITHUB_GIT_URL
    for github.com, WATERSHED_GITHUB_ENTERPRISE_GIT_URLS or the host itself for an Enterprise
    host), other repositories as registered."""
    if job.platform == "github":
        endpoint = settings.github_host(job.host)
        # A host no longer configured is still a git host: git needs no API or token.
        base = endpoint.git_url if endpoint is not None else f"https://{job.host}"
        return f"{base}/{job.owner}/{job.name}.git"
    return job.url


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


class Facade(JobWorker):
    name = "facade"
    phase = subjects.PHASE_FACADE
    source = subjects.SOURCE_GIT

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        dest = clone_path(self.settings.clones_dir, job.repo_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        await sync_bare_clone(remote_for(job, self.settings), dest, allow_local=self.settings.facade_allow_local)
        async for commits in stream_log(dest):
            await ctx.emit_items(v1.CommitsObserved, "commits", [e for c in commits for e in fit(c)], max_items=500)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Facade:
    return Facade(settings, metrics or Metrics())
