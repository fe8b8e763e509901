"""Set-based, idempotent upserts of one batch of rows, in foreign-key order.

Each table is written with one ``INSERT ... SELECT FROM unnest(...)`` statement
per batch. Rows only change when the incoming version is newer (by the
platform's ``updated_at``), so replaying old events never rolls data back and
re-applying the same events writes nothing.
"""

from __future__ import annotations

from collections import Counter

import asyncpg

from services.processor.children import apply_children, apply_singles, statements
from services.processor.commits import CommitStatements, apply_commit_rows
from services.processor.rows import BatchRows, Columns

_TYPES = {
    "repo_id": "int", "cntrb_id": "uuid", "platform": "text", "platform_user_id": "bigint", "login": "text",
    "node_id": "text", "kind": "text", "name": "text", "email": "text", "avatar_url": "text", "html_url": "text",
    "created_at": "timestamptz", "platform_issue_id": "bigint", "number": "int", "title": "text", "body": "text",
    "state": "text", "state_reason": "text", "locked": "bool", "author_id": "uuid", "closed_by_id": "uuid",
    "milestone": "text", "comments": "int", "updated_at": "timestamptz", "closed_at": "timestamptz",
    "platform_pr_id": "bigint", "draft": "bool", "author_association": "text", "merged_at": "timestamptz",
    "merge_commit_sha": "text", "head_ref": "text", "head_sha": "text", "head_repo": "text", "base_ref": "text",
    "base_sha": "text", "platform_msg_id": "bigint", "parent_number": "int", "affiliation": "text",
}


def _upsert_sql(table: str, names: tuple[str, ...], conflict: str, action: str, returning: str = "") -> str:
    params = ", ".join(f"${i}::{_TYPES[n]}[]" for i, n in enumerate(names, 1))
    sql = (f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({params}) AS t({', '.join(names)})"
           f" ON CONFLICT ({conflict}) {action}")
    return f"{sql} RETURNING {returning}" if returning else sql


def _update_newer(table: str, names: tuple[str, ...], keys: tuple[str, ...]) -> str:
    sets = ", ".join(f"{n} = excluded.{n}" for n in names if n not in keys)
    return (f"DO UPDATE SET {sets}, collected_at = now() WHERE {table}.updated_at IS NULL"
            f" OR excluded.updated_at > {table}.updated_at")


CONTRIBUTOR_NAMES = ("cntrb_id", "platform", "platform_user_id", "login", "node_id", "kind", "name", "email",
                     "avatar_url", "html_url", "created_at", "affiliation")
_CONTRIBUTOR_ACTION = (
    "DO UPDATE SET login = excluded.login, kind = excluded.kind,"
    " node_id = coalesce(excluded.node_id, data.contributors.node_id),"
    " name = coalesce(excluded.name, data.contributors.name),"
    " email = coalesce(excluded.email, data.contributors.email),"
    # The organisation follows the address it was derived from.
    " affiliation = CASE WHEN excluded.email IS NULL THEN data.contributors.affiliation ELSE excluded.affiliation END,"
    " avatar_url = coalesce(excluded.avatar_url, data.contributors.avatar_url),"
    " html_url = coalesce(excluded.html_url, data.contributors.html_url),"
    " created_at = coalesce(excluded.created_at, data.contributors.created_at), updated_at = now()"
    # Users repeat in every batch: only touch the row when something changed.
    " WHERE (data.contributors.login, data.contributors.kind) IS DISTINCT FROM (excluded.login, excluded.kind)"
    " OR (excluded.name IS NOT NULL AND excluded.name IS DISTINCT FROM data.contributors.name)"
    " OR (excluded.email IS NOT NULL AND excluded.email IS DISTINCT FROM data.contributors.email)"
    " OR (excluded.node_id IS NOT NULL AND data.contributors.node_id IS NULL)"
)


def _names(cols: Columns) -> tuple[str, ...]:
    return cols.names


async def _upsert(conn: asyncpg.Connection, sql: str, cols: Columns) -> list[asyncpg.Record]:
    if not len(cols):
        return []
    return await conn.fetch(sql, *cols.data)


async def _sync_children(conn: asyncpg.Connection, table: str, parent_col: str, parent_ids: list[int],
                         rows: list[tuple[object, ...]], columns: tuple[str, ...], types: tuple[str, ...],
                         key: int = 2) -> int:
    """Make the children of ``parent_ids`` exactly ``rows``, writing only the rows that differ.

    The first ``key`` columns are the table's primary key. A parent that changed usually keeps
    its labels and assignees: deleting and re-inserting them all would rewrite rows that did
    not move (and wake every trigger, replica and reader of them). Returns the rows written.
    """
    if not parent_ids:
        return 0
    params = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, 2))
    keys, rest = columns[:key], columns[key:]
    arrays = [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in columns]
    incoming = f"SELECT * FROM unnest({params}) AS i({', '.join(columns)})"
    removed = await conn.fetchval(
        f"WITH gone AS (DELETE FROM {table} t WHERE t.{parent_col} = ANY($1::int[])"
        f" AND ({', '.join('t.' + c for c in keys)}) NOT IN (SELECT {', '.join(keys)} FROM ({incoming}) i)"
        " RETURNING 1) SELECT count(*) FROM gone",
        parent_ids, *arrays,
    )
    if not rows:
        return int(removed)
    on_conflict = "DO NOTHING" if not rest else (
        f"DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in rest)}"
        f" WHERE ({', '.join(f'{table}.{c}' for c in rest)}) IS DISTINCT FROM ({', '.join('excluded.' + c for c in rest)})")
    status = await conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({', '.join(f'${i}::{t}[]' for i, t in enumerate(types, 1))})"
        f" ON CONFLICT ({', '.join(keys)}) {on_conflict}",
        *arrays,
    )
    return int(removed) + int(status.rsplit(" ", 1)[1])


class Statements:
    """The SQL of every upsert, built once."""

    def __init__(self) -> None:
        from services.processor import rows as r

        self.contributors = _upsert_sql("data.contributors", CONTRIBUTOR_NAMES, "cntrb_id", _CONTRIBUTOR_ACTION)
        self.issues = _upsert_sql("data.issues", r.ISSUE_COLUMNS, "repo_id, platform_issue_id",
                                  _update_newer("data.issues", r.ISSUE_COLUMNS, ("repo_id", "platform_issue_id")),
                                  "issue_id, repo_id, platform_issue_id")
        self.pulls = _upsert_sql("data.pull_requests", r.PULL_COLUMNS, "repo_id, platform_pr_id",
                                 _update_newer("data.pull_requests", r.PULL_COLUMNS, ("repo_id", "platform_pr_id")),
                                 "pull_request_id, repo_id, platform_pr_id")
        self.messages = _upsert_sql("data.messages", r.MESSAGE_COLUMNS, "repo_id, platform_msg_id",
                                    _update_newer("data.messages", r.MESSAGE_COLUMNS, ("repo_id", "platform_msg_id")))
        self.git = CommitStatements()
        self.children = statements()


# A renamed or transferred repository answers under its new owner/name: the same row takes
# the new canonical URL (forge names are case-insensitive), unless another row already
# holds that URL; then the two stay apart and nothing is lost.
_REPO_UPDATE = """
UPDATE data.repos r SET platform_repo_id = $2, node_id = $3, description = $4, homepage = $5,
    default_branch = $6, language = $7, license = $8, is_fork = $9, is_archived = $10, is_disabled = $11,
    stars = $12, forks = $13, watchers = $14, open_issues = $15, html_url = $16, clone_url = $17,
    owner_id = $18, created_at = $19, updated_at = $20, pushed_at = $21, metadata_at = now(),
    owner = $22, name = $23,
    url = CASE
        WHEN r.platform IN ('github', 'gitlab')
         AND lower(r.owner || '/' || r.name) <> lower($22 || '/' || $23)
         AND NOT EXISTS (SELECT 1 FROM data.repos o
                         WHERE o.url = lower('https://' || r.host || '/' || $22 || '/' || $23)
                           AND o.repo_id <> r.repo_id)
        THEN lower('https://' || r.host || '/' || $22 || '/' || $23)
        ELSE r.url END
WHERE repo_id = $1
"""


async def apply_rows(conn: asyncpg.Connection, sql: Statements, rows: BatchRows) -> Counter[str]:
    """Write one batch inside the caller's transaction; returns rows written per entity."""
    from shared.text import clean

    written: Counter[str] = Counter()
    await _upsert(conn, sql.contributors, rows.contributors)
    written["contributors"] += len(rows.contributors)
    for rid, m, owner in rows.repos:
        await conn.execute(
            _REPO_UPDATE, rid, m.platform_id, m.node_id or None, clean(m.description), clean(m.homepage),
            m.default_branch or None, m.language, m.license, m.is_fork, m.is_archived, m.is_disabled, m.stars,
            m.forks, m.watchers, m.open_issues, m.html_url or None, m.clone_url or None, owner, m.created_at,
            m.updated_at, m.pushed_at, m.owner, m.name,
        )
        written["repos"] += 1

    changed = await _upsert(conn, sql.issues, rows.issues)
    written["issues"] += len(rows.issues)
    ids = {(rec["repo_id"], rec["platform_issue_id"]): rec["issue_id"] for rec in changed}
    written["issue_labels"] += await _sync_children(
        conn, "data.issue_labels", "issue_id", list(ids.values()),
        [(ids[k], clean(lb.name), lb.color or None, clean(lb.description), lb.platform_id)
         for k, labels in rows.issue_labels.items() if k in ids for lb in labels],
        ("issue_id", "name", "color", "description", "platform_label_id"), ("int", "text", "text", "text", "bigint"))
    written["issue_assignees"] += await _sync_children(
        conn, "data.issue_assignees", "issue_id", list(ids.values()),
        [(ids[k], c) for k, people in rows.issue_assignees.items() if k in ids for c in people],
        ("issue_id", "cntrb_id"), ("int", "uuid"))

    changed = await _upsert(conn, sql.pulls, rows.pulls)
    written["pull_requests"] += len(rows.pulls)
    pids = {(rec["repo_id"], rec["platform_pr_id"]): rec["pull_request_id"] for rec in changed}
    written["pull_request_labels"] += await _sync_children(
        conn, "data.pull_request_labels", "pull_request_id", list(pids.values()),
        [(pids[k], clean(lb.name), lb.color or None, clean(lb.description), lb.platform_id)
         for k, labels in rows.pull_labels.items() if k in pids for lb in labels],
        ("pull_request_id", "name", "color", "description", "platform_label_id"),
        ("int", "text", "text", "text", "bigint"))
    for table, mapping in (("data.pull_request_assignees", rows.pull_assignees),
                           ("data.pull_request_reviewers", rows.pull_reviewers)):
        written[table.split(".")[1]] += await _sync_children(
            conn, table, "pull_request_id", list(pids.values()),
            [(pids[k], c) for k, people in mapping.items() if k in pids for c in people],
            ("pull_request_id", "cntrb_id"), ("int", "uuid"))

    await _upsert(conn, sql.messages, rows.messages)
    written["messages"] += len(rows.messages)
    written.update(await apply_commit_rows(conn, sql.git, rows.git))
    written.update(await apply_children(conn, rows.children, sql.children))
    written.update(await apply_singles(conn, rows.singles, rows.platforms, rows.people))
    return written
