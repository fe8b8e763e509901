"""One GitHub collection pass for one repository: what to fetch, in which order.

1. The repository (conditional on its ETag; it also follows renames). When it changed:
   ``RepoObserved`` and a ``RepoInfoObserved`` snapshot (GraphQL counts, community profile,
   SECURITY/CHANGELOG probes; no counts without a token). Unchanged: neither, since nothing in them moved.
2. Repository-level streams from their cursors, each a free 304 when its first request is
   unchanged: issues, issue comments and review comments oldest first (keyset on ``since``,
   checkpointed, so a pass cut short resumes); pull requests (each page followed by the
   GraphQL children of its pull requests, and REST's files of those with a renamed file, for
   the previous paths GraphQL lacks) and issue events newest first down to the cursor;
   releases and contributors whole.
3. Clone traffic and, for an organization's repository, the organization's members. Traffic
   needs push access: a refusal is remembered in the stream's cursor and the request skipped
   for a week (``cursors.RETRY_REFUSED``) or until a full pass; it is never asked anonymously.

Every stream ends with its ``CursorObserved``; the processor stores cursors only when the
whole job is committed, so a pass that dies half-way is simply run again from the old ones.
``job.full`` ignores the cursors: everything is read again (a retry of the same full job
resumes from its own checkpoints).
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.collector.cursors import Cursor, advanced, refused_value, worth_asking
from services.collector.prchildren import emit_children
from services.collector.streams import emit_cursor, emit_items, kind_of, read_stream
from shared.events import v1
from shared.forge.github import GitHubClient, GraphQLClient, Listing, convert_repo_info
from shared.forge.github.convert import PROBED_FILES, community_files
from shared.forge.github.restchildren import RenamesFromRest, RestPullChildren
from shared.worker import JobContext

REPO = "repo"
CLONE_TRAFFIC = "clone_traffic"
ORG_MEMBERS = "org_members"
# Streams in the order of a pass. Pull requests come right after issues so that a pass
# cut short has the entities before their comments and events.
STREAM_ORDER = ("issues", "pull_requests", "comments", "review_comments", "issue_events", "releases", "contributors")


async def collect_repository(
    client: GitHubClient, job: v1.Job, ctx: JobContext, cursors: dict[str, Cursor] | None = None
) -> None:
    known = cursors or {}  # a full pass is given no cursors, only its own checkpoints
    try:
        await _pass(client, GraphQLClient(client), job, ctx, known)
    finally:
        counts = client.counts
        ctx.requests, ctx.requests_graphql = counts.requests, counts.graphql
        ctx.not_modified, ctx.charged = counts.not_modified, counts.charged


async def _pass(client: GitHubClient, gql: GraphQLClient, job: v1.Job, ctx: JobContext, cursors: dict[str, Cursor]) -> None:
    stored = cursors.get(REPO)
    meta, etag = await client.get_repo_conditional(job.owner, job.name, stored.etag if stored else None)
    owner, name = job.owner, job.name
    is_org = ORG_MEMBERS in cursors
    if meta is not None:
        await ctx.emit(v1.RepoObserved, kind_of(v1.RepoObserved), repo=meta)
        # A renamed repository answers at its new name; keep asking there.
        owner, name = meta.owner or owner, meta.name or name
        is_org = meta.owner_user is not None and meta.owner_user.kind == "Organization"
        await _repo_info(client, gql, ctx, meta)
        await emit_cursor(ctx, REPO, advanced(stored, meta.updated_at), etag)
    what = f"{client.host}/{owner}/{name}"
    # GitHub's GraphQL API refuses anonymous requests: without a token, children come over REST.
    # With one, REST still gives renamed files their previous path, which GraphQL has not.
    rest = RestPullChildren(client, owner, name)
    source = rest if client.pool.anonymous else RenamesFromRest(gql, rest)

    async def children(pulls: list[v1.PullRequest]) -> None:
        await emit_children(source, ctx, pulls, what)

    for stream in STREAM_ORDER:
        hook = children if stream == "pull_requests" else None
        await read_stream(client, ctx, owner, name, stream, cursors.get(stream), hook)
    await _clone_traffic(client, ctx, owner, name, cursors.get(CLONE_TRAFFIC))
    if is_org:
        await _org_members(client, ctx, owner, cursors.get(ORG_MEMBERS))


async def _repo_info(client: GitHubClient, gql: GraphQLClient, ctx: JobContext, meta: v1.RepoMeta) -> None:
    counts = {} if client.pool.anonymous else await gql.repo_counts(meta.owner, meta.name)
    profile = await client.get_community_profile(meta.owner, meta.name)
    reported = community_files(profile) if profile is not None else {}
    probed = {key: await client.has_file(meta.owner, meta.name, path)
              for key, path in PROBED_FILES.items() if key not in reported}
    info = convert_repo_info(meta, counts, profile, probed)
    await ctx.emit(v1.RepoInfoObserved, kind_of(v1.RepoInfoObserved), info=info, observed_at=datetime.now(UTC))


async def _clone_traffic(client: GitHubClient, ctx: JobContext, owner: str, name: str, cursor: Cursor | None) -> None:
    now = datetime.now(UTC)
    # Every refusal is a charged request, so one is remembered; anonymous requests are always refused.
    if client.pool.anonymous or not worth_asking(cursor, now):
        return
    traffic = await client.get_clone_traffic(owner, name, cursor.etag if cursor else None)
    if traffic.refused:
        await emit_cursor(ctx, CLONE_TRAFFIC, refused_value(now), None)
        return
    if traffic.days is None:
        return  # unchanged
    if traffic.days:
        await emit_items(ctx, v1.CloneTrafficObserved, traffic.days)
    await emit_cursor(ctx, CLONE_TRAFFIC, None, traffic.etag)


async def _org_members(client: GitHubClient, ctx: JobContext, org: str, cursor: Cursor | None) -> None:
    listing = Listing(sent_etag=cursor.etag if cursor else None)
    async for page in client.iter_org_members(org, listing):
        await ctx.emit(v1.OrgMembersObserved, kind_of(v1.OrgMembersObserved), org=org, items=page)
    if not listing.not_modified:
        await emit_cursor(ctx, ORG_MEMBERS, None, listing.etag)
