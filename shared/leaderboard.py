"""Contributor leaderboards: points for what people did in a time window, per repository or
across every repository.

Points per action (configurable, :class:`Weights`): a commit 10, a pull request opened 15, a
pull request of theirs merged 25, a pull request of someone else reviewed 20 (once per pull
request, however many reviews), an issue opened 8, an issue closed 5, a comment 3 (issue and
pull request conversation, and review comments), a release published 30; plus a line bonus
of 0.01 per line added and 0.005 per line deleted in their commits, capped at 1,000 points.

Who is who: commits reach their accounts through the resolver's aliases
(``data.contributor_aliases``), so the addresses of one person count once, as that person; a
commit whose address no account claims counts for the address (shown by name). Bots (accounts
of kind Bot, ``[bot]`` logins and addresses) are left out unless asked for. Ranks are
competition ranks: equal points, equal rank.

Read-only: runs on any reader connection (the REST API, the CLI, the benchmark).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import asyncpg

DEFAULT_WINDOW = timedelta(days=730)
ACTIONS = ("commits", "prs_opened", "prs_merged", "prs_reviewed", "issues_opened", "issues_closed", "comments",
           "releases")


@dataclass(frozen=True)
class Weights:
    commits: float = 10.0
    prs_opened: float = 15.0
    prs_merged: float = 25.0
    prs_reviewed: float = 20.0
    issues_opened: float = 8.0
    issues_closed: float = 5.0
    comments: float = 3.0
    releases: float = 30.0
    line_added: float = 0.01
    line_deleted: float = 0.005
    line_cap: float = 1000.0

    @classmethod
    def parse(cls, text: str) -> Weights:
        """``commits=12,line_cap=500``: the named weights changed, the others as default.
        Raises ValueError naming what is wrong."""
        known = {f.name for f in fields(cls)}
        changes: dict[str, float] = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or name not in known:
                raise ValueError(f"unknown weight {name!r}; known: {', '.join(sorted(known))}")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"weight {name} is not a number: {value.strip()!r}") from None
            if not (number >= 0 and number != float("inf")):
                raise ValueError(f"weight {name} must be a finite number of at least 0")
            changes[name] = number
        return cls(**changes)


@dataclass(frozen=True)
class Entry:
    rank: int
    cntrb_id: uuid.UUID | None  # None: an address no account claims
    login: str | None
    name: str | None
    bot: bool
    points: float
    line_points: float
    lines_added: int
    lines_deleted: int
    counts: dict[str, int]


# Every action in the window as (who, action, count, lines added, lines deleted). ``who`` is the
# account, or 'email:<address>' for commits no account claims. $1 repository ids (NULL: all),
# $2 since, $3 until.
_ACTIONS = """
WITH scope AS (
    SELECT repo_id, data.alias_namespace(platform, host) AS namespace FROM data.repos
    WHERE ($1::int[] IS NULL OR repo_id = ANY($1::int[])) AND state <> 'removed'
), actions AS (
    SELECT coalesce(a.cntrb_id::text, 'email:' || lower(c.author_email)) AS who, 'commits' AS action,
           count(*) AS n, sum(c.additions) AS added, sum(c.deletions) AS deleted,
           max(c.author_name) AS name
    FROM data.commits c JOIN scope s USING (repo_id)
    LEFT JOIN data.contributor_aliases a ON a.namespace = s.namespace AND a.email = lower(c.author_email)
    WHERE c.author_date >= $2 AND c.author_date < $3 AND coalesce(c.author_email, '') <> ''
    GROUP BY 1
    UNION ALL
    SELECT p.author_id::text, 'prs_opened', count(*), 0, 0, NULL FROM data.pull_requests p JOIN scope USING (repo_id)
    WHERE p.author_id IS NOT NULL AND p.created_at >= $2 AND p.created_at < $3 GROUP BY 1
    UNION ALL
    SELECT p.author_id::text, 'prs_merged', count(*), 0, 0, NULL FROM data.pull_requests p JOIN scope USING (repo_id)
    WHERE p.author_id IS NOT NULL AND p.merged_at >= $2 AND p.merged_at < $3 GROUP BY 1
    UNION ALL
    SELECT r.author_id::text, 'prs_reviewed', count(DISTINCT (r.repo_id, r.pr_number)), 0, 0, NULL
    FROM data.reviews r JOIN scope USING (repo_id)
    JOIN data.pull_requests p ON p.repo_id = r.repo_id AND p.number = r.pr_number
    WHERE r.author_id IS NOT NULL AND r.author_id IS DISTINCT FROM p.author_id AND r.state <> 'PENDING'
      AND r.submitted_at >= $2 AND r.submitted_at < $3
    GROUP BY 1
    UNION ALL
    SELECT i.author_id::text, 'issues_opened', count(*), 0, 0, NULL FROM data.issues i JOIN scope USING (repo_id)
    WHERE i.author_id IS NOT NULL AND i.created_at >= $2 AND i.created_at < $3 GROUP BY 1
    UNION ALL
    SELECT i.closed_by_id::text, 'issues_closed', count(*), 0, 0, NULL FROM data.issues i JOIN scope USING (repo_id)
    WHERE i.closed_by_id IS NOT NULL AND i.closed_at >= $2 AND i.closed_at < $3 GROUP BY 1
    UNION ALL
    SELECT m.author_id::text, 'comments', count(*), 0, 0, NULL FROM data.messages m JOIN scope USING (repo_id)
    WHERE m.author_id IS NOT NULL AND m.created_at >= $2 AND m.created_at < $3 GROUP BY 1
    UNION ALL
    SELECT m.author_id::text, 'comments', count(*), 0, 0, NULL FROM data.review_comments m JOIN scope USING (repo_id)
    WHERE m.author_id IS NOT NULL AND m.created_at >= $2 AND m.created_at < $3 GROUP BY 1
    UNION ALL
    SELECT r.author_id::text, 'releases', count(*), 0, 0, NULL FROM data.releases r JOIN scope USING (repo_id)
    WHERE r.author_id IS NOT NULL AND NOT r.draft AND coalesce(r.published_at, r.created_at) >= $2
      AND coalesce(r.published_at, r.created_at) < $3
    GROUP BY 1
)
SELECT a.who, a.action, sum(a.n)::bigint AS n, sum(a.added)::bigint AS added, sum(a.deleted)::bigint AS deleted,
       max(a.name) AS name, k.cntrb_id, k.login, k.name AS account_name,
       (k.kind = 'Bot' OR k.login LIKE '%[bot]'
        OR (k.cntrb_id IS NULL AND (a.who LIKE '%[bot]@%' OR max(a.name) LIKE '%[bot]'))) AS bot
FROM actions a
LEFT JOIN data.contributors k
       ON k.cntrb_id = CASE WHEN a.who LIKE 'email:%' THEN NULL ELSE a.who::uuid END
GROUP BY a.who, a.action, k.cntrb_id, k.login, k.name, k.kind
"""


def rank(rows: list[asyncpg.Record] | list[dict[str, object]], weights: Weights, *, include_bots: bool,
         limit: int | None) -> list[Entry]:
    """Points and ranks from the action rows of :data:`_ACTIONS`; pure."""
    people: dict[str, dict[str, object]] = {}
    for row in rows:
        who = str(row["who"])
        person = people.setdefault(who, {"counts": dict.fromkeys(ACTIONS, 0), "added": 0, "deleted": 0,
                                         "cntrb_id": row["cntrb_id"], "login": row["login"],
                                         "name": row["account_name"] or row["name"], "bot": bool(row["bot"])})
        person["counts"][str(row["action"])] += int(row["n"])  # type: ignore[index]
        person["added"] = int(person["added"]) + int(row["added"] or 0)  # type: ignore[call-overload]
        person["deleted"] = int(person["deleted"]) + int(row["deleted"] or 0)  # type: ignore[call-overload]
        person["bot"] = bool(person["bot"]) or bool(row["bot"])
        if person["name"] is None and row["name"] is not None:
            person["name"] = row["name"]
    scored = []
    for person in people.values():
        if person["bot"] and not include_bots:
            continue
        counts: dict[str, int] = person["counts"]  # type: ignore[assignment]
        added, deleted = int(person["added"]), int(person["deleted"])  # type: ignore[call-overload]
        lines = min(weights.line_cap, added * weights.line_added + deleted * weights.line_deleted)
        points = sum(counts[action] * getattr(weights, action) for action in ACTIONS) + lines
        scored.append((round(points, 3), round(lines, 3), added, deleted, counts, person))
    scored.sort(key=lambda s: (-s[0], str(s[5]["login"] or s[5]["name"] or "").lower()))
    entries: list[Entry] = []
    for position, (points, lines, added, deleted, counts, person) in enumerate(scored, 1):
        shared_rank = entries[-1].rank if entries and entries[-1].points == points else position
        entries.append(Entry(rank=shared_rank, cntrb_id=person["cntrb_id"],  # type: ignore[arg-type]
                             login=person["login"], name=person["name"], bot=bool(person["bot"]),  # type: ignore[arg-type]
                             points=points, line_points=lines, lines_added=added, lines_deleted=deleted,
                             counts=counts))
        if limit is not None and len(entries) >= limit:
            break
    return entries


async def leaderboard(conn: asyncpg.Connection, *, repo_ids: list[int] | None, since: datetime, until: datetime,
                      weights: Weights = Weights(), include_bots: bool = False,
                      limit: int | None = 100) -> list[Entry]:
    """The ranking of ``repo_ids`` (None: every repository) between ``since`` and ``until``."""
    rows = await conn.fetch(_ACTIONS, repo_ids, since, until)
    return rank(list(rows), weights, include_bots=include_bots, limit=limit)
