"""One batch of staged messages, applied inside one transaction: the processor's live path.

Order within the batch: registrations and identities (rows others point at), control
decisions, dispatches, then the facts (contributors first, then entities in foreign-key
order, see store.py), then the jobs' markers and what completes with them. What must be said
after the commit (progress, identities of new repositories, view refreshes) is returned.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeGuard

import asyncpg

from services.processor import accounts, activity, control, gitstate, jobs, tasks
from services.processor.rows import build_rows
from services.processor.store import Statements, apply_rows
from shared.affiliations import Matcher
from shared.events import subjects, v1
from shared.ids import identity_namespace

MARKERS = (v1.JobFinished, v1.JobRetrying)


@dataclass
class BatchResult:
    progress: list[v1.JobCommitted | v1.RepoAdded | v1.AccountSynced] = field(default_factory=list)
    identify: list[int] = field(default_factory=list)  # repositories whose identity to publish
    views: list[str] = field(default_factory=list)  # RefreshViews runs asked for
    written: Counter[str] = field(default_factory=Counter)


@dataclass
class Facts:
    written: Counter[str] = field(default_factory=Counter)
    applied: list[v1.JobEvent] = field(default_factory=list)  # a repository deleted meanwhile: its facts dropped
    renamed: list[int] = field(default_factory=list)  # repositories that took a new URL


async def apply_facts(conn: asyncpg.Connection, sql: Statements, events: Sequence[v1.JobEvent],
                      affiliations: Matcher | None = None) -> Facts:
    """Upsert the rows of repository facts; facade retractions in their place among them
    (see gitstate.in_order)."""
    if not events:
        return Facts()
    repo_ids = list({e.repo_id for e in events})
    # Accounts are named per server: a GitHub Enterprise user 42 is not github.com's.
    known = {r["repo_id"]: r for r in await conn.fetch(
        "SELECT repo_id, platform, host, url FROM data.repos WHERE repo_id = ANY($1::int[])", repo_ids)}
    platforms = {rid: identity_namespace(r["platform"], r["host"]) for rid, r in known.items()}
    applied = [e for e in events if e.repo_id in platforms]
    written: Counter[str] = Counter()
    for part in gitstate.in_order(applied):
        if isinstance(part, v1.CommitsRetracted):
            written["commits_retracted"] += await gitstate.retract_commits(conn, part)
        else:
            written.update(await apply_rows(conn, sql, build_rows(part, platforms, affiliations)))  # type: ignore[arg-type]
    if clones := [e for e in applied if isinstance(e, v1.CloneObserved)]:
        written["repo_clones"] += await gitstate.record_clones(conn, clones)
    observed = [e.repo_id for e in applied if isinstance(e, v1.RepoObserved)]
    renamed = [r["repo_id"] for r in await conn.fetch(
        "SELECT repo_id, url FROM data.repos WHERE repo_id = ANY($1::int[])", observed)
        if r["url"] != known[r["repo_id"]]["url"]] if observed else []
    return Facts(written, applied, renamed)


def is_fact(event: v1.StagedEvent) -> TypeGuard[v1.JobEvent]:
    """A repository job's data message (not a marker, not a task's message)."""
    return isinstance(event, v1.JobEvent) and not isinstance(event, (*MARKERS, *v1.TASK_EVENTS))


async def apply_batch(conn: asyncpg.Connection, sql: Statements, events: Sequence[v1.StagedEvent],
                      affiliations: Matcher | None = None) -> BatchResult:
    result = BatchResult()
    # Registrations, removals and groups in the order they were asked for.
    added = await control.apply_requests(conn, [e for e in events if isinstance(e, control.REQUEST_TYPES)])
    result.progress.extend(added)
    result.identify.extend(a.repo_id for a in added)
    await control.restore_repos(conn, [e for e in events if isinstance(e, v1.RepoIdentified)])
    await control.record_control(conn, events)
    dispatched = [e for e in events if isinstance(e, v1.JobDispatched)]
    await jobs.record_dispatches(conn, [d for d in dispatched if not d.task])
    await tasks.record_dispatches(conn, [d for d in dispatched if d.task])

    data = [e for e in events if is_fact(e)]
    fresh = await jobs.claim_messages(conn, data)
    todo = [e for e in data if (e.job_id, e.attempt, e.seq) in fresh]
    facts = await apply_facts(conn, sql, todo, affiliations)
    result.written = facts.written
    # A renamed repository's identity carries its new URL: a replay asked by that URL finds it.
    result.identify.extend(facts.renamed)
    if facts.applied:
        await jobs.record_started(conn, {e.job_id for e in facts.applied})
        await jobs.record_cursors(conn, [e for e in facts.applied if isinstance(e, v1.CursorObserved)])

    task_data = [e for e in events if isinstance(e, v1.TASK_EVENTS)]
    listings = await accounts.stage(conn, [e for e in task_data if isinstance(e, v1.AccountReposObserved)],
                                    [e for e in task_data if isinstance(e, v1.AccountListed)])
    public = [e for e in task_data if isinstance(e, v1.ContributorActivityObserved)]
    result.written["contributor_repo_activity"] += await tasks.apply_activity(conn, public)
    if task_data:
        await tasks.record_started(conn, {e.job_id for e in task_data})

    retrying = [e for e in events if isinstance(e, v1.JobRetrying)]
    finished = [e for e in events if isinstance(e, v1.JobFinished)]
    await jobs.record_retrying(conn, [e for e in retrying if not e.task])
    await tasks.record_retrying(conn, [e for e in retrying if e.task])
    await jobs.record_finished(conn, [e for e in finished if not e.task])
    await tasks.record_finished(conn, [e for e in finished if e.task])
    touched = {e.job_id for e in data} | {e.job_id for e in finished if not e.task}
    await jobs.promote_checkpoints(conn, touched)
    completed = await jobs.complete_jobs(conn, touched)
    # A committed facade job may have added or retracted commits: its aggregates follow.
    result.written.update(await activity.refresh(
        conn, [d.repo_id for d in completed if d.phase == subjects.PHASE_FACADE]))
    for done in completed:
        result.progress.append(v1.JobCommitted(repo_id=done.repo_id, phase=done.phase, job_id=done.job_id,
                                               ok=done.ok, error=done.error, error_kind=done.error_kind,
                                               requests=done.requests))
    for synced in await accounts.complete(conn, listings):
        result.progress.append(synced.event())
        result.identify.extend(synced.added + synced.renamed_ids)
    await jobs.record_scheduled(conn, [e for e in events if isinstance(e, v1.PhaseScheduled)])
    result.views = [e.run_id for e in events if isinstance(e, v1.RefreshViews)]
    return result
