"""GraphQLClient on httpx.MockTransport: batches of pull requests, the 502 fallback to smaller
batches, further pages of a pull request with more than 100 commits, RATE_LIMITED waits,
points accounting, the Enterprise endpoint, and REST's previous paths of renamed files."""

from __future__ import annotations

import json
from typing import Any

import httpx
import msgspec
import pytest

from shared.errors import FatalError, TransientError
from shared.events.v1 import PrFile, PullRequest
from shared.forge.github import GraphQLClient, graphql_url
from shared.forge.github.gqlconvert import convert_commits
from shared.forge.github.gqlwire import GqlPrCommit
from shared.forge.github.restchildren import RenamesFromRest, RestPullChildren, with_previous_paths
from tests.contract.test_github_client import SECRET, make_client

RESET = 1_700_000_600


def actor(login: str, uid: int, typename: str = "User") -> dict[str, Any]:
    return {"__typename": typename, "login": login, "databaseId": uid, "id": f"U_{uid}",
            "avatarUrl": "", "url": f"https://github.com/{login}"}


def commit(n: int) -> dict[str, Any]:
    who = {"name": "Ann", "email": "ann@example.com", "date": "2024-01-01T00:00:00Z", "user": actor("ann", 7)}
    return {"commit": {"oid": f"{n:040x}", "message": f"c{n}", "additions": 1, "deletions": 0,
                       "author": who, "committer": {**who, "user": None}}}


def connection(nodes: list[Any], *, more: str | None = None, total: int | None = None) -> dict[str, Any]:
    return {"totalCount": len(nodes) if total is None else total,
            "pageInfo": {"hasNextPage": more is not None, "endCursor": more}, "nodes": nodes}


def pull(number: int, *, commits: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": f"PR_{number}", "number": number, "fullDatabaseId": str(1000 + number),
        "mergeStateStatus": "CLEAN", "mergeable": "MERGEABLE", "mergedBy": actor("dependabot", 9, "Bot"),
        "reviewRequests": {"nodes": [{"requestedReviewer": {"__typename": "Team", "databaseId": 5, "slug": "core",
                                                            "name": "Core"}},
                                     {"requestedReviewer": {"__typename": "User"}}]},
        "reviews": connection([{"fullDatabaseId": str(5_000_000_000 + number), "id": f"R_{number}", "state": "APPROVED",
                                "authorAssociation": "MEMBER", "body": "ok", "url": "", "submittedAt": "2024-01-02T00:00:00Z",
                                "author": None, "commit": {"oid": "a" * 40}}]),
        "commits": commits or connection([commit(1)]),
        "files": connection([{"path": "a.py", "additions": 3, "deletions": 1, "changeType": "DELETED"}]),
    }


def reply(data: Any, *, cost: int = 1, status: int = 200, errors: list[Any] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"data": data}
    if data is not None and isinstance(data, dict):
        data["rateLimit"] = {"cost": cost, "remaining": 4000, "resetAt": "2023-11-14T22:23:20Z"}
    if errors:
        body["errors"] = errors
    headers = {"x-ratelimit-remaining": "4000", "x-ratelimit-reset": str(RESET), "x-ratelimit-resource": "graphql"}
    return httpx.Response(status, json=body, headers=headers)


def body(request: httpx.Request) -> dict[str, Any]:
    return json.loads(request.content)  # type: ignore[no-any-return]


def nodes_handler(fail_over: int | None = None) -> Any:
    """Answers the batch query with PR stubs for its ids; 502 for batches bigger than ``fail_over``."""

    def handler(request: httpx.Request) -> httpx.Response:
        ids = body(request)["variables"]["ids"]
        if fail_over is not None and len(ids) > fail_over:
            return httpx.Response(502, json={"data": None, "errors": [{"message": "timeout"}]})
        return reply({"nodes": [pull(int(i.split("_")[1])) for i in ids]}, cost=2)

    return handler


async def children(handler: Any, ids: list[str], **kwargs: Any) -> tuple[list[Any], Any, list[httpx.Request], Any]:
    client, fake, seen = make_client(handler, **kwargs)
    gql = GraphQLClient(client)
    got = [c async for c in gql.pull_children(ids, "github.com/o/r")]
    return got, client, seen, fake


async def test_batches_of_fifty_with_every_child_converted() -> None:
    got, client, seen, _ = await children(nodes_handler(), [f"PR_{n}" for n in range(1, 61)])
    assert [len(body(r)["variables"]["ids"]) for r in seen] == [50, 10]
    assert all(str(r.url) == "https://api.github.com/graphql" and r.method == "POST" for r in seen)
    assert seen[0].headers["authorization"] == f"Bearer {SECRET}"
    first = got[0]
    assert first.detail.number == 1 and first.detail.platform_id == 1001 and first.detail.merge_state == "CLEAN"
    assert first.detail.merged_by and first.detail.merged_by.login == "dependabot[bot]" and first.detail.merged_by.kind == "Bot"
    assert [t.slug for t in first.detail.requested_teams] == ["core"]
    assert first.reviews[0].author is None and first.reviews[0].state == "APPROVED"
    assert first.reviews[0].platform_id == 5_000_000_001  # past 32 bits: fullDatabaseId
    assert first.commits[0].author and first.commits[0].author.login == "ann" and first.commits[0].committer is None
    assert first.files[0].status == "removed"
    # An app's commits: GitActor.user is typed User; the noreply address names the bot.
    bot = {"name": "dependabot[bot]", "email": "49699333+dependabot[bot]@users.noreply.github.com",
           "user": actor("dependabot", 49699333)}
    [commit_by_bot] = convert_commits(1, [msgspec.convert({"commit": {"oid": "c" * 40, "author": bot}}, GqlPrCommit)])
    assert commit_by_bot.author and (commit_by_bot.author.login, commit_by_bot.author.kind) == ("dependabot[bot]", "Bot")
    assert len(got) == 60
    assert (client.counts.requests, client.counts.graphql, client.counts.charged) == (2, 2, 4)
    assert client.pool.budget(SECRET, "graphql").remaining == 4000


async def test_502_splits_the_batch_into_smaller_ones() -> None:
    got, client, seen, fake = await children(nodes_handler(fail_over=25), [f"PR_{n}" for n in range(1, 51)])
    assert [len(body(r)["variables"]["ids"]) for r in seen] == [50, 25, 25]
    assert [c.detail.number for c in got] == list(range(1, 51))
    assert fake.sleeps == []  # splitting is immediate; only a single PR is retried with backoff


async def test_down_to_single_pull_requests_then_retried_then_failing_cleanly() -> None:
    with pytest.raises(TransientError) as info:
        await children(nodes_handler(fail_over=0), ["PR_1", "PR_2", "PR_3"], max_retries=1)
    assert "gave up after 2 attempts" in str(info.value)


async def test_pull_request_with_more_than_100_commits_is_paged_on_its_own() -> None:
    first = connection([commit(n) for n in range(100)], more="c100", total=150)
    rest = connection([commit(n) for n in range(100, 150)], total=150)

    def handler(request: httpx.Request) -> httpx.Response:
        sent = body(request)
        if "ids" in sent["variables"]:
            return reply({"nodes": [pull(1, commits=first), pull(2)]})
        assert sent["variables"] == {"id": "PR_1", "after": "c100"} and "MoreCommits" in sent["query"]
        return reply({"node": {"commits": rest}})

    got, client, seen, _ = await children(handler, ["PR_1", "PR_2"])
    assert len(got[0].commits) == 150 and got[0].detail.commits_total == 150 and len(got[1].commits) == 1
    assert len({c.sha for c in got[0].commits}) == 150
    assert client.counts.graphql == 2


async def test_rate_limited_waits_for_the_reset_then_continues() -> None:
    answers = [reply(None, errors=[{"type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1."}]),
               reply({"nodes": [pull(1)]})]
    got, client, _, fake = await children(lambda r: answers.pop(0), ["PR_1"], now=RESET - 100)
    assert [c.detail.number for c in got] == [1]
    assert fake.sleeps == [101.0]  # until the reset, plus the pool's margin
    assert client.counts.graphql == 2


async def test_deleted_pull_request_is_skipped_other_errors_are_fatal() -> None:
    gone = [{"type": "NOT_FOUND", "path": ["nodes", 1], "message": "Could not resolve to a node"}]
    got, _, _, _ = await children(lambda r: reply({"nodes": [pull(1), None]}, errors=gone), ["PR_1", "PR_X"])
    assert [c.detail.number for c in got] == [1]
    refused = [{"message": "Field 'nope' doesn't exist on type 'PullRequest'"}]
    with pytest.raises(FatalError):
        await children(lambda r: reply(None, errors=refused), ["PR_1"])


async def test_repository_counts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert body(request)["variables"] == {"owner": "o", "name": "r"}
        total = {"totalCount": 3}
        return reply({"repository": {"openIssues": total, "closedIssues": {"totalCount": 4}, "openPulls": total,
                                     "closedPulls": total, "mergedPulls": {"totalCount": 9},
                                     "defaultBranchRef": {"target": {"history": {"totalCount": 120}}}}})

    client, _, _ = make_client(handler)
    counts = await GraphQLClient(client).repo_counts("o", "r")
    assert counts["closed_issues"] == 4 and counts["merged_pull_requests"] == 9 and counts["commit_count"] == 120


def test_enterprise_endpoint() -> None:
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url("https://ghe.example/api/v3/") == "https://ghe.example/api/graphql"
    assert graphql_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/graphql"


async def test_renamed_files_get_their_previous_path_from_rest_for_those_pull_requests_only() -> None:
    files = {1: [{"path": "new.py", "additions": 0, "deletions": 0, "changeType": "RENAMED"},
                 {"path": "kept.py", "additions": 1, "deletions": 0, "changeType": "MODIFIED"}],
             2: [{"path": "a.py", "additions": 3, "deletions": 1, "changeType": "MODIFIED"}]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/graphql":
            ids = body(request)["variables"]["ids"]
            return reply({"nodes": [{**pull(n), "files": connection(files[n])}
                                    for n in (int(i.split("_")[1]) for i in ids)]})
        assert request.url.path == "/repos/o/r/pulls/1/files", request.url
        return httpx.Response(200, json=[
            {"filename": "kept.py", "status": "modified", "additions": 1, "deletions": 0},
            {"filename": "new.py", "previous_filename": "old.py", "status": "renamed", "additions": 0, "deletions": 0}])

    client, _, seen = make_client(handler)
    source = RenamesFromRest(GraphQLClient(client), RestPullChildren(client, "o", "r"))
    pulls = [PullRequest(platform_id=n, number=n, title="t", state="open", node_id=f"PR_{n}") for n in (1, 2)]
    got = {c.detail.number: c.files async for c in source.children_of(pulls, "github.com/o/r")}
    assert [(r.method, r.url.path) for r in seen] == [("POST", "/graphql"), ("GET", "/repos/o/r/pulls/1/files")]
    assert [(f.path, f.previous_path, f.status) for f in got[1]] == [
        ("new.py", "old.py", "renamed"), ("kept.py", None, "modified")]
    assert [(f.path, f.previous_path) for f in got[2]] == [("a.py", None)]


def test_previous_paths_are_taken_for_renamed_files_only() -> None:
    graphql = [PrFile(pr_number=1, path="b.py", status="renamed"), PrFile(pr_number=1, path="c.py", status="modified"),
               PrFile(pr_number=1, path="gone.py", status="renamed")]
    assert [(f.path, f.previous_path) for f in with_previous_paths(graphql, {"b.py": "a.py", "c.py": "odd.py"})] == [
        ("b.py", "a.py"), ("c.py", None), ("gone.py", None)]


async def test_rest_file_pages_are_read_only_until_every_rename_is_found() -> None:
    pages = [[{"filename": f"f{page}_{i}.py", "status": "modified"} for i in range(99)] for page in range(3)]
    pages[0].append({"filename": "new.py", "previous_filename": "old.py", "status": "renamed"})

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        link = {"link": f'<https://api.github.com/repos/o/r/pulls/1/files?page={page + 1}>; rel="next"'} if page < 3 else {}
        return httpx.Response(200, json=pages[page - 1], headers=link)

    client, _, seen = make_client(handler)
    rest = RestPullChildren(client, "o", "r")
    assert await rest.previous_paths(1, ["new.py"], "github.com/o/r") == {"new.py": "old.py"}
    assert len(seen) == 1
    assert await rest.previous_paths(1, ["new.py", "missing.py"], "github.com/o/r") == {"new.py": "old.py"}
    assert len(seen) == 1 + 3  # a path REST does not list: every page is read, then given up
