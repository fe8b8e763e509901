"""Pull request children over REST: four requests per pull request (single view, reviews,
commits, files). The fallback where GraphQL is not available (no token: GitHub's GraphQL
API refuses anonymous requests). The same :class:`PullChildren` as the GraphQL client.

With GraphQL, REST still supplies one thing: the previous path of a renamed file, which
GraphQL's ``PullRequestChangedFile`` lacks (:class:`RenamesFromRest`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence

import msgspec

from shared.errors import NotFoundError
from shared.events.v1 import PrCommit, PrFile, PullRequest, PullRequestDetail, Review
from shared.forge.github import wire
from shared.forge.github.client import GitHubClient
from shared.forge.github.convert import convert_teams, convert_user
from shared.forge.github.graphql import GraphQLClient, PullChildren

log = logging.getLogger("watershed.forge.github.restchildren")

_MERGEABLE = {True: "MERGEABLE", False: "CONFLICTING", None: "UNKNOWN"}
# A renamed file's status: REST's own, and GraphQL's RENAMED change type once converted.
RENAMED = "renamed"


def convert_detail(w: wire.WirePullDetail, reviews: int) -> PullRequestDetail:
    return PullRequestDetail(
        number=w.number,
        platform_id=w.id,
        merged_by=convert_user(w.merged_by),
        # REST spells GraphQL's mergeStateStatus in lower case.
        merge_state=w.mergeable_state.upper() if w.mergeable_state else None,
        mergeable=_MERGEABLE[w.mergeable],
        requested_teams=convert_teams(w.requested_teams),
        reviews_total=reviews,
        commits_total=w.commits,
        files_total=w.changed_files,
    )


def convert_rest_reviews(number: int, wires: Iterable[wire.WireReview]) -> list[Review]:
    return [
        Review(platform_id=w.id, pr_number=number, state=w.state, node_id=w.node_id or "", author=convert_user(w.user),
               author_association=w.author_association, body=w.body, commit_sha=w.commit_id,
               html_url=w.html_url or "", submitted_at=w.submitted_at)
        for w in wires
    ]


def convert_rest_commits(number: int, wires: Iterable[wire.WirePrCommit]) -> list[PrCommit]:
    commits = []
    for w in wires:
        author, committer = w.commit.author, w.commit.committer
        commits.append(PrCommit(
            pr_number=number, sha=w.sha, message=w.commit.message,
            author_name=(author.name or "") if author else "", author_email=(author.email or "") if author else "",
            author_date=author.date if author else None,
            committer_name=(committer.name or "") if committer else "",
            committer_email=(committer.email or "") if committer else "",
            committer_date=committer.date if committer else None,
            author=convert_user(w.author), committer=convert_user(w.committer),
        ))
    return commits


def convert_rest_files(number: int, wires: Iterable[wire.WirePrFile]) -> list[PrFile]:
    return [PrFile(pr_number=number, path=w.filename, previous_path=w.previous_filename, status=w.status,
                   additions=w.additions, deletions=w.deletions) for w in wires]


def with_previous_paths(files: Sequence[PrFile], previous: Mapping[str, str]) -> list[PrFile]:
    """``files`` with each renamed one's previous path from ``previous`` (path → previous path)."""
    return [msgspec.structs.replace(f, previous_path=previous[f.path])
            if f.status == RENAMED and f.previous_path is None and f.path in previous else f
            for f in files]


class RestPullChildren:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client, self.owner, self.name = client, owner, name

    def _base(self) -> str:
        return f"{self.client._repo_path(self.owner, self.name)}/pulls"

    def _file_pages(self, number: int, what: str) -> AsyncIterator[list[wire.WirePrFile]]:
        params = {"per_page": str(self.client.per_page)}
        return self.client._pages(f"{self._base()}/{number}/files", params, wire.pr_files_decoder, what,
                                  "pull request files")

    async def files(self, number: int, what: str) -> list[PrFile]:
        """The files of one pull request, with the previous path of renamed ones."""
        return convert_rest_files(number, [f async for page in self._file_pages(number, what) for f in page])

    async def previous_paths(self, number: int, renamed: Collection[str], what: str) -> dict[str, str]:
        """Where the ``renamed`` files of one pull request came from (path → previous path).
        Pages are read only until every one of them is found."""
        wanted, found = set(renamed), {}
        # Leaving the listing early is safe: between pages it holds no response open.
        async for page in self._file_pages(number, what):
            found.update({w.filename: w.previous_filename for w in page if w.filename in wanted and w.previous_filename})
            if wanted <= found.keys():
                break
        return found

    async def children_of(self, pulls: Sequence[PullRequest], what: str) -> AsyncIterator[PullChildren]:
        client = self.client
        base = self._base()
        params = {"per_page": str(client.per_page)}
        for pull in pulls:
            n = pull.number
            detail, _ = await client._get(f"{base}/{n}", None, wire.pull_detail_decoder, what, "pull request")
            reviews = [r async for page in client._pages(f"{base}/{n}/reviews", params, wire.reviews_decoder, what,
                                                         "reviews") for r in page]
            commits = [c async for page in client._pages(f"{base}/{n}/commits", params, wire.pr_commits_decoder, what,
                                                         "pull request commits") for c in page]
            yield PullChildren(detail=convert_detail(detail, len(reviews)), reviews=convert_rest_reviews(n, reviews),
                               commits=convert_rest_commits(n, commits), files=await self.files(n, what))


class RenamesFromRest:
    """GraphQL's pull request children, with the previous paths of renamed files from REST.

    Only a pull request with a renamed file costs REST requests (one per 100 of its files, up to
    the page holding its last rename), so a pass stays near GraphQL's request count while every
    rename keeps where it came from.
    """

    def __init__(self, graphql: GraphQLClient, rest: RestPullChildren) -> None:
        self.graphql, self.rest = graphql, rest

    async def children_of(self, pulls: Sequence[PullRequest], what: str) -> AsyncIterator[PullChildren]:
        async for children in self.graphql.children_of(pulls, what):
            renamed = [f.path for f in children.files if f.status == RENAMED and f.previous_path is None]
            if renamed:
                number = children.detail.number
                try:
                    previous = await self.rest.previous_paths(number, renamed, what)
                except NotFoundError as exc:
                    # Gone between the two reads: its files are kept, without previous paths.
                    log.info("forge.pull_files_gone", extra={"fields": {"repo": what, "pr": number,
                                                                        "error": exc.message}})
                else:
                    children.files = with_previous_paths(children.files, previous)
            yield children
