"""Pull request children for one page of pull requests → messages.

They come from GraphQL (batches of 50, plus REST's files of a pull request with a renamed
file, for its previous path) with a token, or from REST (four requests per pull request)
without one; both give the same :class:`PullChildren`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from services.collector.streams import emit_items
from shared.events import v1
from shared.forge.github import PullChildren
from shared.worker import JobContext


class ChildrenSource(Protocol):
    def children_of(self, pulls: Sequence[v1.PullRequest], what: str) -> AsyncIterator[PullChildren]: ...


async def emit_children(source: ChildrenSource, ctx: JobContext, pulls: list[v1.PullRequest], what: str) -> None:
    """Details, reviews, commits and files of ``pulls`` (the ones updated since the cursor).

    Collected per page of pull requests, so at most one page of children is held at a time.
    """
    details: list[v1.PullRequestDetail] = []
    reviews: list[v1.Review] = []
    commits: list[v1.PrCommit] = []
    files: list[v1.PrFile] = []
    async for children in source.children_of(pulls, what):
        details.append(children.detail)
        reviews += children.reviews
        commits += children.commits
        files += children.files
    for message, items in ((v1.PullRequestDetailsObserved, details), (v1.ReviewsObserved, reviews),
                           (v1.PrCommitsObserved, commits), (v1.PrFilesObserved, files)):
        if items:
            await emit_items(ctx, message, items)
