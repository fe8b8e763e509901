"""Pull request children over REST: four requests per pull request (single view, reviews,
commits, files). The fallback where GraphQL is not available (no token: GitHub's GraphQL
API refuses anonymous requests). The same :class:`PullChildren` as the GraphQL client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence

from shared.events.v1 import PrCommit, PrFile, PullRequest, PullRequestDetail, Review
from shared.forge.github import wire
from shared.forge.github.client import GitHubClient
from shared.forge.github.convert import convert_teams, convert_user
from shared.forge.github.graphql import PullChildren

_MERGEABLE = {True: "MERGEABLE", False: "CONFLICTING", None: "UNKNOWN"}


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


class RestPullChildren:
    def __init__(self, client: GitHubClient, owner: str, name: str) -> None:
        self.client, self.owner, self.name = client, owner, name

    async def children_of(self, pulls: Sequence[PullRequest], what: str) -> AsyncIterator[PullChildren]:
        client = self.client
        base = f"{client._repo_path(self.owner, self.name)}/pulls"
        params = {"per_page": str(client.per_page)}
        for pull in pulls:
            n = pull.number
            detail, _ = await client._get(f"{base}/{n}", None, wire.pull_detail_decoder, what, "pull request")
            reviews = [r async for page in client._pages(f"{base}/{n}/reviews", params, wire.reviews_decoder, what,
                                                         "reviews") for r in page]
            commits = [c async for page in client._pages(f"{base}/{n}/commits", params, wire.pr_commits_decoder, what,
                                                         "pull request commits") for c in page]
            files = [f async for page in client._pages(f"{base}/{n}/files", params, wire.pr_files_decoder, what,
                                                       "pull request files") for f in page]
            yield PullChildren(detail=convert_detail(detail, len(reviews)), reviews=convert_rest_reviews(n, reviews),
                               commits=convert_rest_commits(n, commits), files=convert_rest_files(n, files))
