"""A comparable picture of everything the pipeline wrote: surrogate keys replaced by
natural keys, bookkeeping timestamps dropped, rows sorted. Two databases that hold
the same facts give equal snapshots; a missing or duplicated row shows up."""

from __future__ import annotations

from typing import Any

import asyncpg

# Columns that say when we wrote, not what we know.
VOLATILE = {"collected_at", "first_seen_at", "updated_at_row", "registered_at", "metadata_at", "commit_id", "msg_id",
            "review_id", "review_comment_id", "issue_event_id", "release_id", "observed_at", "applied_at"}
TABLES = ("repos", "contributors", "issues", "issue_labels", "issue_assignees", "pull_requests",
          "pull_request_labels", "pull_request_assignees", "pull_request_reviewers", "messages", "commits",
          "commit_files", "reviews", "review_comments", "pr_commits", "pr_files", "pull_request_teams",
          "issue_events", "releases", "repo_contributors", "clone_traffic", "org_members", "commit_parents",
          "commit_messages", "affiliations", "repo_activity", "repo_group_activity")


async def snapshot(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    conn = await asyncpg.connect(dsn)
    try:
        repo_url = {r["repo_id"]: r["url"] for r in await conn.fetch("SELECT repo_id, url FROM data.repos")}
        group_name = {r["repo_group_id"]: r["name"] for r in await conn.fetch(
            "SELECT repo_group_id, name FROM data.repo_groups")}
        issue_key = {r["issue_id"]: (repo_url[r["repo_id"]], r["platform_issue_id"])
                     for r in await conn.fetch("SELECT issue_id, repo_id, platform_issue_id FROM data.issues")}
        pull_key = {r["pull_request_id"]: (repo_url[r["repo_id"]], r["platform_pr_id"])
                    for r in await conn.fetch("SELECT pull_request_id, repo_id, platform_pr_id FROM data.pull_requests")}
        result: dict[str, list[tuple[Any, ...]]] = {}
        for table in TABLES:
            rows = []
            for record in await conn.fetch(f"SELECT * FROM data.{table}"):
                row = dict(record)
                for column in VOLATILE:
                    row.pop(column, None)
                if table == "contributors":
                    row.pop("updated_at", None)  # bookkeeping here, unlike the forge's updated_at elsewhere
                if "repo_id" in row:
                    row["repo_id"] = repo_url[row["repo_id"]]
                if "repo_group_id" in row:
                    row["repo_group_id"] = group_name[row["repo_group_id"]]
                if "issue_id" in row:
                    row["issue_id"] = issue_key[row["issue_id"]]
                if "pull_request_id" in row:
                    row["pull_request_id"] = pull_key[row["pull_request_id"]]
                rows.append(tuple(sorted((k, repr(v)) for k, v in row.items())))
            result[table] = sorted(rows)
        return result
    finally:
        await conn.close()
