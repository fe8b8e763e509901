"""One GitHub collection pass for one repository: what to fetch, in which order.

Repository metadata first (it also follows renames), then the repository-level
bulk endpoints: issues, pull requests, issue comments. Each page becomes one
message as soon as it arrives, so memory stays flat on huge repositories.
"""

from __future__ import annotations

from shared.events import v1
from shared.forge.github import GitHubClient
from shared.worker import JobContext


async def collect_repository(client: GitHubClient, job: v1.Job, ctx: JobContext) -> None:
    try:
        meta = await client.get_repo(job.owner, job.name)
        await ctx.emit(v1.RepoObserved, "repo", repo=meta)
        # A renamed repository answers at its new name; keep asking there.
        owner, name = meta.owner or job.owner, meta.name or job.name
        async for issues in client.iter_issues(owner, name):
            await ctx.emit_items(v1.IssuesObserved, "issues", issues)
        async for pulls in client.iter_pulls(owner, name):
            await ctx.emit_items(v1.PullRequestsObserved, "pull_requests", pulls)
        async for comments in client.iter_issue_comments(owner, name):
            await ctx.emit_items(v1.CommentsObserved, "comments", comments)
    finally:
        ctx.requests = client.requests
