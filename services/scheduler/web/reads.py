"""What the API and the dashboard read: PostgreSQL (read-only role) and JetStream state.

Repository status and rows per entity come from :mod:`watershed.report`, the code behind
``watershed status --json``, so the API, the dashboard and the CLI count alike.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import asyncpg
from nats.js import JetStreamContext

from services.scheduler.web import schemas as s
from shared.consumers import job_queues, stream_messages
from shared.events import subjects
from shared.metrics import Metrics
from shared.tokenpools import merge_budgets, read_pools
from watershed.report import repo_report

# A repository's priority is its own setting, else its group's (ops.effective_priority).
_REPO_FROM = """data.repos r JOIN data.repo_groups g USING (repo_group_id)
    LEFT JOIN ops.repo_settings rs ON rs.repo_id = r.repo_id
    LEFT JOIN ops.group_settings gs ON gs.repo_group_id = r.repo_group_id"""
_REPO_COLUMNS = """r.repo_id, r.url, r.platform, r.host, r.owner, r.name, r.repo_group_id AS group_id,
    g.name AS "group", r.state, coalesce(rs.priority, gs.priority, 0) AS priority, r.registered_at"""


def _like(text: str) -> str:
    """A substring pattern for ILIKE in which the user's % and _ are plain characters."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def list_repos(conn: asyncpg.Connection, query: s.RepoQuery) -> s.RepoPage:
    where, args = ["true"], []  # type: ignore[var-annotated]
    for column, value in (("r.state", query.state), ("r.platform", query.platform),
                          ("r.repo_group_id", query.group_id)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    if query.q is not None:
        args.append(_like(query.q))
        where.append(f"r.url ILIKE ${len(args)}")
    condition = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM data.repos r WHERE {condition}", *args)
    rows = await conn.fetch(
        f"SELECT {_REPO_COLUMNS} FROM {_REPO_FROM}"
        f" WHERE {condition} ORDER BY r.repo_id LIMIT {query.limit} OFFSET {query.offset}", *args)
    phases = await _phase_summaries(conn, [r["repo_id"] for r in rows])
    items = [s.RepoSummary(**dict(r), phases=phases.get(r["repo_id"], [])) for r in rows]
    return s.RepoPage(items=items, total=total, limit=query.limit, offset=query.offset)


async def _phase_summaries(conn: asyncpg.Connection, repo_ids: list[int]) -> dict[int, list[s.PhaseSummary]]:
    found: dict[int, list[s.PhaseSummary]] = defaultdict(list)
    for row in await conn.fetch(
            "SELECT repo_id, phase, state, next_due, last_success_at, error_kind FROM ops.collection_status"
            " WHERE repo_id = ANY($1::int[]) ORDER BY repo_id, phase", repo_ids):
        failed = row["state"] in ("error", "retrying")
        found[row["repo_id"]].append(s.PhaseSummary(
            phase=row["phase"], state=row["state"], next_due=row["next_due"], last_success_at=row["last_success_at"],
            error_kind=row["error_kind"] if failed else None))
    return found


async def repo_summary(conn: asyncpg.Connection, repo_id: int) -> s.RepoSummary | None:
    row = await conn.fetchrow(f"SELECT {_REPO_COLUMNS} FROM {_REPO_FROM} WHERE r.repo_id = $1", repo_id)
    if row is None:
        return None
    phases = await _phase_summaries(conn, [repo_id])
    return s.RepoSummary(**dict(row), phases=phases.get(repo_id, []))


async def repo_detail(conn: asyncpg.Connection, repo_id: int) -> s.RepoDetail | None:
    summary = await repo_summary(conn, repo_id)
    if summary is None:
        return None
    extra = await conn.fetchrow("SELECT state_reason, description, html_url FROM data.repos WHERE repo_id = $1",
                                repo_id)
    report = await repo_report(conn, repo_id)
    return s.RepoDetail(repo=summary, state_reason=extra["state_reason"], description=extra["description"],
                        html_url=extra["html_url"], phases=report.phases, rows=report.rows, requests=report.requests)


async def recent_titles(conn: asyncpg.Connection, repo_id: int, limit: int = 10) -> dict[str, list[dict[str, Any]]]:
    """The latest issues and pull requests of a repository: number, title, state, author."""
    out = {}
    for kind, table in (("issues", "data.issues"), ("pull_requests", "data.pull_requests")):
        rows = await conn.fetch(
            f"SELECT t.number, t.title, t.state, t.updated_at, c.login FROM {table} t"
            " LEFT JOIN data.contributors c ON c.cntrb_id = t.author_id"
            f" WHERE t.repo_id = $1 ORDER BY t.updated_at DESC NULLS LAST, t.number DESC LIMIT {int(limit)}", repo_id)
        out[kind] = [dict(r) for r in rows]
    return out


async def list_groups(conn: asyncpg.Connection, query: s.GroupQuery) -> s.GroupPage:
    condition = "true" if query.include_removed else "g.removed_at IS NULL"
    total = await conn.fetchval(f"SELECT count(*) FROM data.repo_groups g WHERE {condition}")
    rows = await conn.fetch(_GROUPS_SQL.format(condition=condition)
                            + f" ORDER BY g.repo_group_id LIMIT {query.limit} OFFSET {query.offset}")
    return s.GroupPage(items=[s.Group(**dict(r)) for r in rows], total=total, limit=query.limit, offset=query.offset)


_GROUPS_SQL = """
SELECT g.repo_group_id AS group_id, g.name, coalesce(gs.priority, 0) AS priority, g.created_at, g.removed_at,
       count(r.repo_id) FILTER (WHERE r.state <> 'removed') AS repos, count(r.repo_id) AS repos_total
FROM data.repo_groups g LEFT JOIN data.repos r USING (repo_group_id)
LEFT JOIN ops.group_settings gs ON gs.repo_group_id = g.repo_group_id
WHERE {condition}
GROUP BY g.repo_group_id, gs.priority
"""


async def group(conn: asyncpg.Connection, group_id: int) -> s.Group | None:
    row = await conn.fetchrow(_GROUPS_SQL.format(condition="g.repo_group_id = $1"), group_id)
    return None if row is None else s.Group(**dict(row))


async def group_by_name(conn: asyncpg.Connection, name: str) -> s.Group | None:
    row = await conn.fetchrow(_GROUPS_SQL.format(condition="g.name = $1"), name)
    return None if row is None else s.Group(**dict(row))


async def group_urls(conn: asyncpg.Connection, group_id: int) -> list[str]:
    rows = await conn.fetch("SELECT url FROM data.repos WHERE repo_group_id = $1 AND state <> 'removed'"
                            " ORDER BY repo_id", group_id)
    return [r["url"] for r in rows]


async def queue_stats(js: JetStreamContext) -> list[s.QueueStats]:
    stats = []
    for phase, state in (await job_queues(js)).items():
        if state is None:
            stats.append(s.QueueStats(phase=phase, waiting=0, in_flight=0, redelivered=0, consumer=False))
        else:
            stats.append(s.QueueStats(phase=phase, waiting=state.pending, in_flight=state.ack_pending,
                                      redelivered=state.redelivered, consumer=True))
    return stats


async def queue(conn: asyncpg.Connection, js: JetStreamContext, query: s.QueueQuery) -> s.QueueView:
    where, args = ["s.state IN ('queued', 'collecting', 'retrying')"], []  # type: ignore[var-annotated]
    for column, value in (("s.phase", query.phase), ("s.state", query.state)):
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    condition = " AND ".join(where)
    total = await conn.fetchval(f"SELECT count(*) FROM ops.collection_status s WHERE {condition}", *args)
    rows = await conn.fetch(
        "SELECT s.repo_id, r.url, s.phase, s.state, s.job_id, s.attempt, s.dispatched_at, s.started_at,"
        " CASE WHEN s.state = 'retrying' THEN s.next_due END AS retry_at,"
        " CASE WHEN s.state = 'retrying' THEN s.last_error END AS last_error"
        " FROM ops.collection_status s JOIN data.repos r USING (repo_id)"
        f" WHERE {condition} ORDER BY s.dispatched_at NULLS LAST, s.repo_id, s.phase"
        f" LIMIT {query.limit} OFFSET {query.offset}", *args)
    return s.QueueView(queues=await queue_stats(js), jobs=[s.Job(**dict(r)) for r in rows], jobs_total=total,
                       limit=query.limit, offset=query.offset)


async def dead_letters(conn: asyncpg.Connection, js: JetStreamContext, query: s.DeadLetterQuery) -> s.DeadLetterPage:
    condition, args = ("repo_id = $1", [query.repo_id]) if query.repo_id is not None else ("true", [])
    total = await conn.fetchval(f"SELECT count(*) FROM ops.dead_letters WHERE {condition}", *args)
    rows = await conn.fetch(
        "SELECT dead_letter_id, subject, msg_id, repo_id, error, failed_at, coalesce(length(payload), 0)"
        f" AS payload_bytes FROM ops.dead_letters WHERE {condition}"
        f" ORDER BY failed_at DESC, dead_letter_id DESC LIMIT {query.limit} OFFSET {query.offset}", *args)
    return s.DeadLetterPage(items=[s.DeadLetter(**dict(r)) for r in rows], total=total, limit=query.limit,
                            offset=query.offset, in_stream=await stream_messages(js, subjects.DEADLETTER))


async def token_pools(js: JetStreamContext) -> list[s.TokenPool]:
    states = await read_pools(js)
    merged = merge_budgets(states)
    pools = []
    for server, budgets in merged.items():
        reports = [st for st in states if st.server == server]
        latest = max(reports, key=lambda st: st.updated_at)
        pools.append(s.TokenPool(server=server, reported_by=sorted(st.instance for st in reports),
                                 updated_at=latest.updated_at, anonymous=latest.anonymous, active=latest.active,
                                 retired=max(st.retired for st in reports), budgets=budgets))
    for st in states:  # a pool that has no budget at all yet still shows
        if st.server not in merged:
            merged[st.server] = []
            pools.append(s.TokenPool(server=st.server, reported_by=[st.instance], updated_at=st.updated_at,
                                     anonymous=st.anonymous, active=st.active, retired=st.retired, budgets=[]))
    return pools


async def overview(conn: asyncpg.Connection, js: JetStreamContext) -> s.Overview:
    repos = {r["state"]: r["n"] for r in await conn.fetch(
        "SELECT state, count(*) AS n FROM data.repos GROUP BY state ORDER BY state")}
    last_hour = [s.Throughput(phase=r["phase"], ok=r["ok"], failed=r["failed"]) for r in await conn.fetch(
        "SELECT phase, count(*) FILTER (WHERE error_kind IS NULL) AS ok,"
        " count(*) FILTER (WHERE error_kind IS NOT NULL) AS failed"
        " FROM ops.collection_status WHERE finished_at >= now() - interval '1 hour'"
        " AND state IN ('committed', 'done', 'error') GROUP BY phase ORDER BY phase")]
    failing = await conn.fetchval(
        "SELECT count(*) FROM ops.collection_status s JOIN data.repos r USING (repo_id)"
        " WHERE s.state IN ('error', 'retrying') AND r.state <> 'removed'")
    dead = await conn.fetchval("SELECT count(*) FROM ops.dead_letters")
    return s.Overview(repos=repos, queues=await queue_stats(js), last_hour=last_hour, failing=failing,
                      dead_letters=dead, dead_letters_in_stream=await stream_messages(js, subjects.DEADLETTER),
                      quota=await token_pools(js))


async def poll_queue_metrics(js: JetStreamContext, metrics: Metrics, service: str) -> None:
    """Queue depth per phase and dead letters kept, for Prometheus."""
    for phase, state in (await job_queues(js)).items():
        metrics.queue_depth.labels(service=service, phase=phase).set(0 if state is None else state.depth)
    metrics.dead_letters.labels(service=service).set(await stream_messages(js, subjects.DEADLETTER))
