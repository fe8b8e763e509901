"""What ``collect`` and ``status`` show: per repository and phase, read from the database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

RETRYING = "retrying"  # the phase's job attempt failed; the job waits for its next delivery

# Rows per entity of one repository (the keys `status --json` promises). Contributors are the
# people the repository's facts name.
_COUNTS = """
SELECT
  (SELECT count(*) FROM data.issues WHERE repo_id = $1) AS issues,
  (SELECT count(*) FROM data.pull_requests WHERE repo_id = $1) AS pull_requests,
  (SELECT count(*) FROM data.messages WHERE repo_id = $1) AS issue_comments,
  (SELECT count(*) FROM data.review_comments WHERE repo_id = $1) AS review_comments,
  (SELECT count(*) FROM data.reviews WHERE repo_id = $1) AS reviews,
  (SELECT count(*) FROM data.issue_events WHERE repo_id = $1) AS issue_events,
  (SELECT count(*) FROM data.pr_commits WHERE repo_id = $1) AS pr_commits,
  (SELECT count(*) FROM data.pr_files WHERE repo_id = $1) AS pr_files,
  (SELECT count(*) FROM data.issue_labels l JOIN data.issues i USING (issue_id) WHERE i.repo_id = $1)
  + (SELECT count(*) FROM data.pull_request_labels l JOIN data.pull_requests p USING (pull_request_id)
     WHERE p.repo_id = $1) AS labels,
  (SELECT count(*) FROM data.releases WHERE repo_id = $1) AS releases,
  (SELECT count(*) FROM (
      SELECT author_id FROM data.issues WHERE repo_id = $1
      UNION SELECT closed_by_id FROM data.issues WHERE repo_id = $1
      UNION SELECT author_id FROM data.pull_requests WHERE repo_id = $1
      UNION SELECT merged_by_id FROM data.pull_requests WHERE repo_id = $1
      UNION SELECT author_id FROM data.messages WHERE repo_id = $1
      UNION SELECT author_id FROM data.reviews WHERE repo_id = $1
      UNION SELECT author_id FROM data.review_comments WHERE repo_id = $1
      UNION SELECT actor_id FROM data.issue_events WHERE repo_id = $1
      UNION SELECT author_id FROM data.releases WHERE repo_id = $1
      UNION SELECT cntrb_id FROM data.repo_contributors WHERE repo_id = $1
      UNION SELECT cntrb_id FROM data.issue_assignees a JOIN data.issues i USING (issue_id) WHERE i.repo_id = $1
  ) c WHERE c.author_id IS NOT NULL) AS contributors,
  (SELECT count(*) FROM data.commits WHERE repo_id = $1) AS commits,
  (SELECT count(*) FROM data.commit_files WHERE repo_id = $1) AS commit_files
"""


class PhaseReport(msgspec.Struct, kw_only=True):
    phase: str
    state: str
    job_id: str | None = None
    requests: int = 0
    duration_s: float | None = None
    last_collected: datetime | None = None
    next_due: datetime | None = None
    last_error: str | None = None
    error_kind: str | None = None
    attempt: int | None = None  # the delivery of the job that ran (or runs) last
    dispatched_at: datetime | None = None
    started_at: datetime | None = None

    @property
    def failed(self) -> bool:
        """The phase's last job failed for good, or its last attempt did and a retry is pending."""
        return self.state in ("error", RETRYING)


class CloneReport(msgspec.Struct, kw_only=True):
    """The facade's bare clone (data.repo_clones): its state, what it tracks, its size."""

    state: str  # ok | empty | unreachable | missing | blocked
    error: str | None = None
    default_branch: str | None = None
    head_sha: str | None = None
    branches: int | None = None
    tracked_refs: int | None = None
    all_branches: bool | None = None
    disk_bytes: int | None = None
    observed_at: datetime | None = None
    synced_at: datetime | None = None


class RepoReport(msgspec.Struct, kw_only=True):
    url: str
    repo_id: int | None = None
    state: str = ""
    phases: list[PhaseReport] = []
    rows: dict[str, int] = {}
    clone: CloneReport | None = None  # None until the facade has synced it once
    # Requests of the last collection: all made (rest + graphql), of which 304s, and quota charged.
    requests: dict[str, int] = {}
    error: str | None = None
    # Phases whose job was queued or running when asked: that job was waited for, not a new one.
    running: list[str] = []

    @property
    def failed(self) -> bool:
        return self.error is not None or any(p.failed for p in self.phases)

    def errors(self) -> list[str]:
        """What went wrong, in at most one line: a repository that is gone fails every phase, and
        the user needs to read that once. The first failed phase speaks (the collector, whose API
        answer is the most precise, comes before the facade); the others are only named."""
        if self.error:
            return [self.error]
        failed = [p for p in self.phases if p.failed]
        if not failed:
            return []
        first, others = failed[0], [p.phase for p in failed[1:]]
        line = f"{first.phase}: {first.last_error or first.error_kind or 'failed'}"
        if first.state == RETRYING:
            when = f" at {first.next_due.astimezone():%Y-%m-%d %H:%M:%S}" if first.next_due else ""
            line += f" (will be retried{when})"
        return [f"{line} (also failed: {', '.join(others)})" if others else line]


async def repo_report(conn: asyncpg.Connection, repo_id: int) -> RepoReport:
    repo = await conn.fetchrow("SELECT repo_id, url, state FROM data.repos WHERE repo_id = $1", repo_id)
    if repo is None:
        return RepoReport(url=f"repo #{repo_id}", error="unknown repository")
    phases = []
    spent = {"rest": 0, "graphql": 0, "not_modified": 0, "charged": 0}
    for row in await conn.fetch(
        "SELECT phase, state, job_id, requests, started_at, finished_at, last_success_at, next_due, last_error,"
        " error_kind, requests_graphql, not_modified, charged, attempt, dispatched_at"
        " FROM ops.collection_status WHERE repo_id = $1"
        " ORDER BY phase", repo_id,
    ):
        spent["rest"] += (row["requests"] or 0) - row["requests_graphql"]
        spent["graphql"] += row["requests_graphql"]
        spent["not_modified"] += row["not_modified"]
        spent["charged"] += row["charged"]
        duration = None
        if row["started_at"] and row["finished_at"]:
            duration = round((row["finished_at"] - row["started_at"]).total_seconds(), 3)
        phases.append(PhaseReport(
            phase=row["phase"], state=row["state"], job_id=row["job_id"], requests=row["requests"] or 0,
            duration_s=duration, last_collected=row["last_success_at"], next_due=row["next_due"],
            last_error=row["last_error"] if row["state"] in ("error", RETRYING) else None,
            error_kind=row["error_kind"] if row["state"] in ("error", RETRYING) else None,
            attempt=row["attempt"], dispatched_at=row["dispatched_at"], started_at=row["started_at"],
        ))
    counts = await conn.fetchrow(_COUNTS, repo_id)
    return RepoReport(url=repo["url"], repo_id=repo_id, state=repo["state"], phases=phases,
                      rows={k: int(v) for k, v in dict(counts).items()}, requests=spent,
                      clone=await clone_report(conn, repo_id))


async def clone_report(conn: asyncpg.Connection, repo_id: int) -> CloneReport | None:
    row = await conn.fetchrow(
        "SELECT state, error, default_branch, head_sha, branches, tracked_refs, all_branches, disk_bytes,"
        " observed_at, synced_at FROM data.repo_clones WHERE repo_id = $1", repo_id)
    return None if row is None else CloneReport(**dict(row))


async def find_repo_ids(conn: asyncpg.Connection, urls: list[str]) -> list[int]:
    if not urls:
        return [r["repo_id"] for r in await conn.fetch("SELECT repo_id FROM data.repos ORDER BY repo_id")]
    rows = await conn.fetch("SELECT repo_id FROM data.repos WHERE url = ANY($1::text[]) ORDER BY repo_id", urls)
    return [r["repo_id"] for r in rows]


def to_json(reports: list[RepoReport], extra: dict[str, Any] | None = None) -> bytes:
    return msgspec.json.format(msgspec.json.encode({"repos": reports, **(extra or {})}), indent=2)
