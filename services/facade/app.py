"""Facade: keeps one bare clone per repository and publishes its history as commit facts."""

from __future__ import annotations

from pathlib import Path

from services.facade.git import stream_log, sync_bare_clone
from shared.events import subjects, v1
from shared.metrics import Metrics
from shared.settings import Settings
from shared.worker import JobContext, JobWorker

# A commit message past this is cut (with a marker): it must fit a NATS message with its files.
MAX_MESSAGE_CHARS = 256 * 1024


def remote_for(job: v1.Job, settings: Settings) -> str:
    """Where to fetch from: GitHub repositories through the configured git host, others as registered."""
    if job.platform == "github":
        return f"{settings.github_git_url}/{job.owner}/{job.name}.git"
    return job.url


def clone_path(clones_dir: Path, repo_id: int) -> Path:
    # Keyed by id, not name: a renamed repository keeps its clone.
    return clones_dir / f"{repo_id}.git"


def trim(commit: v1.Commit) -> v1.Commit:
    if len(commit.message) <= MAX_MESSAGE_CHARS:
        return commit
    import msgspec

    return msgspec.structs.replace(commit, message=commit.message[:MAX_MESSAGE_CHARS] + "\n[truncated by watershed]")


class Facade(JobWorker):
    name = "facade"
    phase = subjects.PHASE_FACADE
    source = subjects.SOURCE_GIT

    async def run_job(self, job: v1.Job, ctx: JobContext) -> None:
        dest = clone_path(self.settings.clones_dir, job.repo_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        await sync_bare_clone(remote_for(job, self.settings), dest, allow_local=self.settings.facade_allow_local)
        async for commits in stream_log(dest):
            await ctx.emit_items(v1.CommitsObserved, "commits", [trim(c) for c in commits], max_items=500)


def create_app(settings: Settings, metrics: Metrics | None = None) -> Facade:
    return Facade(settings, metrics or Metrics())
