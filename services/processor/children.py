"""Declarative tables for the facts beyond issues, pull requests and comments.

Each :class:`TableSpec` says which message items feed a table, how an item becomes a
row, and what identifies it. Rows are built column-major (pure) and written with one
set-based upsert per table that touches a stored row only when a value differs, so a
collection that brings nothing new rewrites nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.processor.aliases import apply_aliases, see_aliases
from services.processor.columns import Columns, ContributorIndex
from shared.events import v1
from shared.text import clean

See = Callable[[v1.User | None], uuid.UUID | None]


@dataclass(frozen=True)
class TableSpec:
    table: str
    event: type[v1.JobEvent]
    columns: tuple[tuple[str, str], ...]  # (name, postgres type), repo_id first
    key: tuple[str, ...]  # the conflict target, repo_id first
    row: Callable[[Any, See], tuple[Any, ...]]  # item -> values of columns[1:]
    update: bool = True  # False: facts that never change (events) are only inserted
    collected_at: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.columns)

    def sql(self) -> str:
        names = self.names
        params = ", ".join(f"${i}::{t}[]" for i, (_, t) in enumerate(self.columns, 1))
        insert = (f"INSERT INTO {self.table} ({', '.join(names)}) SELECT * FROM unnest({params})"
                  f" ON CONFLICT ({', '.join(self.key)})")
        values = [n for n in names if n not in self.key]
        if not self.update or not values:
            return f"{insert} DO NOTHING"
        sets = ", ".join(f"{n} = excluded.{n}" for n in values)
        if self.collected_at:
            sets += ", collected_at = now()"
        old = ", ".join(f"{self.table}.{n}" for n in values)
        new = ", ".join(f"excluded.{n}" for n in values)
        return f"{insert} DO UPDATE SET {sets} WHERE ({old}) IS DISTINCT FROM ({new})"


def _day(moment: datetime) -> Any:
    return moment.date()


SPECS: tuple[TableSpec, ...] = (
    TableSpec(
        "data.reviews", v1.ReviewsObserved,
        (("repo_id", "int"), ("platform_review_id", "bigint"), ("pr_number", "int"), ("node_id", "text"),
         ("state", "text"), ("author_id", "uuid"), ("author_association", "text"), ("body", "text"),
         ("commit_sha", "text"), ("html_url", "text"), ("submitted_at", "timestamptz")),
        ("repo_id", "platform_review_id"),
        lambda r, see: (r.platform_id, r.pr_number, r.node_id or None, r.state, see(r.author), r.author_association,
                        clean(r.body), r.commit_sha, r.html_url or None, r.submitted_at),
    ),
    TableSpec(
        "data.review_comments", v1.ReviewCommentsObserved,
        (("repo_id", "int"), ("platform_msg_id", "bigint"), ("pr_number", "int"), ("node_id", "text"),
         ("platform_review_id", "bigint"), ("in_reply_to", "bigint"), ("path", "text"), ("diff_hunk", "text"),
         ("line", "int"), ("original_line", "int"), ("commit_sha", "text"), ("original_commit_sha", "text"),
         ("body", "text"), ("author_id", "uuid"), ("author_association", "text"), ("html_url", "text"),
         ("created_at", "timestamptz"), ("updated_at", "timestamptz")),
        ("repo_id", "platform_msg_id"),
        lambda c, see: (c.platform_id, c.pr_number, c.node_id or None, c.review_id, c.in_reply_to, clean(c.path),
                        clean(c.diff_hunk), c.line, c.original_line, c.commit_sha, c.original_commit_sha,
                        clean(c.body), see(c.author), c.author_association, c.html_url or None, c.created_at,
                        c.updated_at),
    ),
    TableSpec(
        "data.pr_commits", v1.PrCommitsObserved,
        (("repo_id", "int"), ("pr_number", "int"), ("sha", "text"), ("message", "text"), ("author_name", "text"),
         ("author_email", "text"), ("author_date", "timestamptz"), ("committer_name", "text"),
         ("committer_email", "text"), ("committer_date", "timestamptz"), ("author_id", "uuid"),
         ("committer_id", "uuid"), ("additions", "int"), ("deletions", "int")),
        ("repo_id", "pr_number", "sha"),
        lambda c, see: (c.pr_number, c.sha, clean(c.message), clean(c.author_name), clean(c.author_email),
                        c.author_date, clean(c.committer_name), clean(c.committer_email), c.committer_date,
                        see(c.author), see(c.committer), c.additions, c.deletions),
    ),
    TableSpec(
        "data.pr_files", v1.PrFilesObserved,
        (("repo_id", "int"), ("pr_number", "int"), ("path", "text"), ("previous_path", "text"), ("status", "text"),
         ("additions", "int"), ("deletions", "int")),
        ("repo_id", "pr_number", "path"),
        lambda f, see: (f.pr_number, clean(f.path), clean(f.previous_path), f.status, f.additions, f.deletions),
    ),
    TableSpec(
        "data.issue_events", v1.IssueEventsObserved,
        (("repo_id", "int"), ("platform_event_id", "bigint"), ("issue_number", "int"), ("is_pull_request", "bool"),
         ("node_id", "text"), ("event", "text"), ("actor_id", "uuid"), ("created_at", "timestamptz"),
         ("commit_sha", "text"), ("label", "text"), ("assignee_id", "uuid"), ("rename_from", "text"),
         ("rename_to", "text")),
        ("repo_id", "platform_event_id"),
        lambda e, see: (e.platform_id, e.issue_number, e.is_pull_request, e.node_id or None, e.event, see(e.actor),
                        e.created_at, e.commit_sha, clean(e.label), see(e.assignee), clean(e.rename_from),
                        clean(e.rename_to)),
        update=False,
    ),
    TableSpec(
        "data.releases", v1.ReleasesObserved,
        (("repo_id", "int"), ("platform_release_id", "bigint"), ("node_id", "text"), ("tag_name", "text"),
         ("name", "text"), ("body", "text"), ("draft", "bool"), ("prerelease", "bool"), ("author_id", "uuid"),
         ("target_commitish", "text"), ("html_url", "text"), ("created_at", "timestamptz"),
         ("published_at", "timestamptz")),
        ("repo_id", "platform_release_id"),
        lambda r, see: (r.platform_id, r.node_id or None, clean(r.tag_name), clean(r.name), clean(r.body), r.draft,
                        r.prerelease, see(r.author), clean(r.target_commitish), r.html_url or None, r.created_at,
                        r.published_at),
    ),
    TableSpec(
        "data.repo_contributors", v1.ContributorsObserved,
        (("repo_id", "int"), ("cntrb_id", "uuid"), ("contributions", "int")),
        ("repo_id", "cntrb_id"),
        lambda c, see: (see(c.user), c.contributions),
        collected_at=False,
    ),
    TableSpec(
        "data.clone_traffic", v1.CloneTrafficObserved,
        (("repo_id", "int"), ("day", "date"), ("count", "int"), ("uniques", "int")),
        ("repo_id", "day"),
        lambda d, see: (_day(d.day), d.count, d.uniques),
        collected_at=False,
    ),
)

_BY_EVENT = {spec.event: spec for spec in SPECS}


def _item_key(spec: TableSpec, values: tuple[Any, ...]) -> tuple[Any, ...]:
    names = spec.names
    return tuple(values[names.index(k)] for k in spec.key)


def build_children(events: list[Any], platforms: dict[int, str], people: ContributorIndex) -> dict[str, Columns]:
    """Column-major rows per table; the last version of a duplicated item wins."""
    rows: dict[str, dict[tuple[Any, ...], tuple[Any, ...]]] = {}
    for event in events:
        spec = _BY_EVENT.get(type(event))
        if spec is None:
            continue
        platform = platforms[event.repo_id]

        def see(user: v1.User | None, platform: str = platform) -> uuid.UUID | None:
            return people.see(platform, user)

        table = rows.setdefault(spec.table, {})
        for item in event.items:
            values = (event.repo_id, *spec.row(item, see))
            table[_item_key(spec, values)] = values
    result = {}
    for spec in SPECS:
        if spec.table in rows:
            cols = Columns(spec.names)
            for values in rows[spec.table].values():
                cols.add(*values)
            result[spec.table] = cols
    return result


async def apply_children(conn: asyncpg.Connection, tables: dict[str, Columns], sql: dict[str, str]) -> dict[str, int]:
    written = {}
    for spec in SPECS:
        cols = tables.get(spec.table)
        if cols is not None and len(cols):
            await conn.execute(sql[spec.table], *cols.data)
            written[spec.table.split(".", 1)[1]] = len(cols)
    return written


def statements() -> dict[str, str]:
    return {spec.table: spec.sql() for spec in SPECS}


_DETAILS = """
INSERT INTO data.pull_requests (repo_id, platform_pr_id, number, merged_by_id, merge_state, mergeable,
                                reviews_total, commits_total, files_total)
SELECT * FROM unnest($1::int[], $2::bigint[], $3::int[], $4::uuid[], $5::text[], $6::text[], $7::int[], $8::int[],
                     $9::int[])
ON CONFLICT (repo_id, platform_pr_id) DO UPDATE SET merged_by_id = excluded.merged_by_id,
    merge_state = excluded.merge_state, mergeable = excluded.mergeable, reviews_total = excluded.reviews_total,
    commits_total = excluded.commits_total, files_total = excluded.files_total
WHERE (data.pull_requests.merged_by_id, data.pull_requests.merge_state, data.pull_requests.mergeable,
       data.pull_requests.reviews_total, data.pull_requests.commits_total, data.pull_requests.files_total)
      IS DISTINCT FROM (excluded.merged_by_id, excluded.merge_state, excluded.mergeable, excluded.reviews_total,
                        excluded.commits_total, excluded.files_total)
"""
_TEAMS_CLEAR = """
DELETE FROM data.pull_request_teams t USING unnest($1::int[], $2::int[]) AS d(repo_id, pr_number)
WHERE t.repo_id = d.repo_id AND t.pr_number = d.pr_number
"""
_TEAMS = """
INSERT INTO data.pull_request_teams (repo_id, pr_number, platform_team_id, slug, name)
SELECT * FROM unnest($1::int[], $2::int[], $3::bigint[], $4::text[], $5::text[]) ON CONFLICT DO NOTHING
"""
_REPO_INFO = """
INSERT INTO data.repo_info (repo_id, observed_at, stars, forks, watchers, open_issues, closed_issues,
    open_pull_requests, closed_pull_requests, merged_pull_requests, commit_count, license, default_branch,
    is_archived, is_disabled, has_readme, has_contributing, has_code_of_conduct, has_security, has_changelog,
    health_percentage)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
ON CONFLICT (repo_id, observed_at) DO NOTHING
"""
_ORG_MEMBERS = """
INSERT INTO data.org_members (org, cntrb_id) SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT DO NOTHING
"""


async def apply_singles(conn: asyncpg.Connection, events: list[Any], platforms: dict[int, str],
                        people: ContributorIndex) -> dict[str, int]:
    """PR details, repository snapshots and organisation members: shapes that are not one row per item.
    Contributors they name must already be in ``people`` and written (call after the contributor upsert)."""
    written: dict[str, int] = {}
    details = Columns(("repo_id", "platform_pr_id", "number", "merged_by_id", "merge_state", "mergeable",
                       "reviews_total", "commits_total", "files_total"))
    teams = Columns(("repo_id", "pr_number", "platform_team_id", "slug", "name"))
    cleared = Columns(("repo_id", "pr_number"))
    members = Columns(("org", "cntrb_id"))
    for event in events:
        platform = platforms[event.repo_id]
        if isinstance(event, v1.PullRequestDetailsObserved):
            for d in event.items:
                if d.platform_id is not None:
                    details.add(event.repo_id, d.platform_id, d.number, people.see(platform, d.merged_by),
                                d.merge_state, d.mergeable, d.reviews_total, d.commits_total, d.files_total)
                cleared.add(event.repo_id, d.number)
                for team in d.requested_teams:
                    teams.add(event.repo_id, d.number, team.platform_id, clean(team.slug), clean(team.name))
        elif isinstance(event, v1.RepoInfoObserved):
            i = event.info
            await conn.execute(_REPO_INFO, event.repo_id, event.observed_at, i.stars, i.forks, i.watchers,
                               i.open_issues, i.closed_issues, i.open_pull_requests, i.closed_pull_requests,
                               i.merged_pull_requests, i.commit_count, i.license, i.default_branch, i.is_archived,
                               i.is_disabled, i.has_readme, i.has_contributing, i.has_code_of_conduct,
                               i.has_security, i.has_changelog, i.health_percentage)
            written["repo_info"] = written.get("repo_info", 0) + 1
        elif isinstance(event, v1.OrgMembersObserved):
            for user in event.items:
                members.add(clean(event.org), people.see(platform, user))
    if len(details):
        await conn.execute(_DETAILS, *details.data)
        written["pull_request_details"] = len(details)
    if len(cleared):
        await conn.execute(_TEAMS_CLEAR, *cleared.data)
        if len(teams):
            await conn.execute(_TEAMS, *teams.data)
            written["pull_request_teams"] = len(teams)
    if len(members):
        await conn.execute(_ORG_MEMBERS, *members.data)
        written["org_members"] = len(members)
    if aliases := await apply_aliases(conn, events, people):
        written["contributor_aliases"] = aliases
    return written


def see_singles(events: list[Any], platforms: dict[int, str], people: ContributorIndex) -> None:
    """Register the people the singles name, so they are written with the batch's contributors."""
    see_aliases(events, people)
    for event in events:
        platform = platforms[event.repo_id]
        if isinstance(event, v1.PullRequestDetailsObserved):
            for d in event.items:
                people.see(platform, d.merged_by)
        elif isinstance(event, v1.OrgMembersObserved):
            for user in event.items:
                people.see(platform, user)
