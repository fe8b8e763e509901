"""Reading one repository stream into messages, and its cursor at the end.

A stream whose first page answers 304 to the stored ETag publishes nothing at all, not
even its cursor: nothing changed, so nothing is rewritten. Otherwise each page becomes
messages as it arrives (memory stays flat), and the stream's cursor follows its last page.
An oldest-first stream also publishes a checkpoint after every page it will go on from,
so a pass cut short (a crash, a 5xx that outlasts the retries) resumes there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from services.collector.cursors import Cursor, advanced, cutoff, iso, resumed, since
from shared.events import v1
from shared.forge.github import STREAMS, GitHubClient, Listing
from shared.worker import JobContext

# Which message carries the items of each stream of GitHubClient.STREAMS.
MESSAGES: dict[str, type[v1.JobEvent]] = {
    "issues": v1.IssuesObserved,
    "pull_requests": v1.PullRequestsObserved,
    "comments": v1.CommentsObserved,
    "review_comments": v1.ReviewCommentsObserved,
    "issue_events": v1.IssueEventsObserved,
    "releases": v1.ReleasesObserved,
    "contributors": v1.ContributorsObserved,
}

PageHook = Callable[[list[Any]], Awaitable[None]]


def kind_of(message: type[v1.JobEvent]) -> str:
    """The subject suffix of a message type: its tag, so no kind is spelled twice."""
    return str(message.__struct_config__.tag)


async def emit_items(ctx: JobContext, message: type[v1.JobEvent], items: list[Any]) -> None:
    await ctx.emit_items(message, kind_of(message), items)


async def emit_cursor(ctx: JobContext, stream: str, value: str | None, etag: str | None,
                      checkpoint: bool = False) -> None:
    await ctx.emit(v1.CursorObserved, kind_of(v1.CursorObserved), stream=stream, value=value, etag=etag,
                   checkpoint=checkpoint)


async def read_stream(
    client: GitHubClient, ctx: JobContext, owner: str, name: str, stream: str, cursor: Cursor | None,
    after_page: PageHook | None = None,
) -> Listing:
    """Publish what changed in ``stream`` since ``cursor`` (everything without one), then its cursor.

    ``after_page`` runs after each page is published (pull requests fetch their children there).
    """
    listing = Listing(sent_etag=cursor.etag if cursor else None)
    message = MESSAGES[stream]
    ascending = STREAMS[stream].ascending
    start = since(cursor) if ascending else cutoff(cursor)
    saved = start
    async for items in client.iter_stream(owner, name, stream, listing, start):
        await emit_items(ctx, message, items)
        if after_page is not None:
            await after_page(items)
        if ascending and listing.resume is not None and listing.resume != saved:
            saved = listing.resume
            await emit_cursor(ctx, stream, iso(saved), None, checkpoint=True)
    if listing.not_modified:
        return listing
    if ascending:
        done = resumed(listing.resume, listing.resume_etag, listing.newest)
        await emit_cursor(ctx, stream, done.value, done.etag)
    else:
        await emit_cursor(ctx, stream, advanced(cursor, listing.newest), listing.etag)
    return listing
