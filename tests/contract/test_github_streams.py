"""GitHubClient streams and single-object endpoints on httpx.MockTransport: newest-first
paging with a cutoff, oldest-first keyset paging on ``since``, conditional requests (ETag →
free 304), the documented example bodies of each endpoint, and the "skip silently" answers
(traffic 403, files 404)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.errors import FatalError
from shared.events.v1 import PullRequest
from shared.forge.github import CloneTraffic, Listing
from shared.forge.github.convert import convert_repo_info
from shared.forge.github.restchildren import RestPullChildren
from tests.contract.test_github_client import API, REPO_JSON, make_client

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "examples"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def at(day: int) -> str:
    return f"2024-01-{day:02d}T00:00:00Z"


def issue(number: int, day: int, *, pull: bool = False) -> dict[str, Any]:
    item: dict[str, Any] = {"id": number, "number": number, "title": "t", "state": "open", "updated_at": at(day)}
    if pull:
        item["pull_request"] = {"url": f"{API}/repos/o/r/pulls/{number}"}
    return item


def paged(pages: list[list[dict[str, Any]]], etag: str = 'W/"first"') -> Any:
    """Pages served by ?page=N, with Link next; the first page answers 304 to its own ETag."""

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        if page == 1 and request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        headers = {"etag": etag if page == 1 else f'W/"p{page}"'}
        if page < len(pages):
            headers["link"] = f'<{API}/repositories/1/x?page={page + 1}>; rel="next"'
        return httpx.Response(200, json=pages[page - 1], headers=headers)

    return handler


async def collect(client: Any, stream: str, listing: Listing, cutoff: datetime | None = None) -> list[Any]:
    return [page async for page in client.iter_stream("o", "r", stream, listing, cutoff)]


def pull(number: int, day: int) -> dict[str, Any]:
    return {"id": number, "number": number, "title": "t", "state": "open", "updated_at": at(day),
            "created_at": at(1), "user": None}


async def test_pulls_newest_first_stop_at_cutoff_and_remember_the_first_etag() -> None:
    pages = [[pull(9, 9), pull(8, 8)], [pull(7, 7), pull(3, 3)], [pull(2, 2)]]
    client, _, seen = make_client(paged(pages))
    listing = Listing()
    got = await collect(client, "pull_requests", listing, cutoff=datetime(2024, 1, 5, tzinfo=UTC))
    # #3 is older than the cutoff, and page 3 is never asked for.
    assert [[p.number for p in page] for page in got] == [[9, 8], [7]]
    assert len(seen) == 2 and client.counts.charged == 2
    assert dict(seen[0].url.params) == {"state": "all", "sort": "updated", "direction": "desc", "per_page": "100"}
    assert "if-none-match" not in seen[0].headers
    assert listing.etag == 'W/"first"' and not listing.not_modified
    assert listing.newest == datetime(2024, 1, 9, tzinfo=UTC)


async def test_unchanged_stream_is_one_free_304() -> None:
    client, _, seen = make_client(paged([[pull(9, 9)], [pull(1, 1)]]))
    listing = Listing(sent_etag='W/"first"')
    assert await collect(client, "pull_requests", listing) == []
    assert listing.not_modified and listing.etag == 'W/"first"'
    assert seen[0].headers["if-none-match"] == 'W/"first"'
    assert (client.counts.requests, client.counts.not_modified, client.counts.charged) == (1, 1, 0)


async def test_changed_stream_sends_the_etag_only_on_the_first_page() -> None:
    client, _, seen = make_client(paged([[pull(9, 9)], [pull(1, 1)]], etag='W/"new"'))
    listing = Listing(sent_etag='W/"old"')
    got = await collect(client, "pull_requests", listing)
    assert [[p.number for p in page] for page in got] == [[9], [1]]
    assert listing.etag == 'W/"new"' and not listing.not_modified
    assert [r.headers.get("if-none-match") for r in seen] == ['W/"old"', None]


START = datetime(2024, 1, 1, tzinfo=UTC)


def stamp(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


class IssueList:
    """GitHub's issues list: ``since`` (inclusive), oldest updated first, page numbers, and an
    ETag that is a hash of the body. ``on_request`` may change the items between requests."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.served = 0
        self.on_request: Any = None  # called with the number of requests already answered

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.on_request is not None:
            self.on_request(self.served)
        self.served += 1
        params = request.url.params
        assert (params["sort"], params["direction"]) == ("updated", "asc")
        since = params.get("since")
        listed = sorted((i for i in self.items if since is None or i["updated_at"] >= since),
                        key=lambda i: (i["updated_at"], i["number"]))
        per_page, page = int(params["per_page"]), int(params.get("page", "1"))
        body = json.dumps(listed[(page - 1) * per_page: page * per_page]).encode()
        etag = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
        if request.headers.get("if-none-match") == etag:
            return httpx.Response(304, headers={"etag": etag})
        return httpx.Response(200, content=body, headers={"etag": etag, "content-type": "application/json"})


def numbered(count: int, *, every: int = 10) -> list[dict[str, Any]]:
    return [{**issue(n, 1), "updated_at": stamp(n * every)} for n in range(1, count + 1)]


async def read_all(client: Any, stream: str, listing: Listing, since: datetime | None = None) -> list[int]:
    return [i.platform_id for page in await collect(client, stream, listing, since) for i in page]


async def test_issues_oldest_first_by_keyset_on_since() -> None:
    server = IssueList(numbered(250))
    client, _, seen = make_client(server, per_page=100)
    listing = Listing()
    got = await read_all(client, "issues", listing)
    assert sorted(set(got)) == list(range(1, 251))
    # Each next request asks since one second before the last item seen, never a page number.
    assert [r.url.params.get("since") for r in seen] == [None, stamp(999), stamp(1989)]
    assert all("page" not in r.url.params for r in seen)
    assert len(got) - 250 == 2  # only the last item of each full page is read twice
    assert listing.newest == START + timedelta(seconds=2500)
    assert listing.resume == START + timedelta(seconds=1989) and listing.resume_etag is not None

    # The next pass asks the very same request: unchanged, it is one free 304.
    again, _, seen = make_client(server, per_page=100)
    repeat = Listing(sent_etag=listing.resume_etag)
    assert await read_all(again, "issues", repeat, listing.resume) == []
    assert repeat.not_modified and (again.counts.requests, again.counts.charged) == (1, 0)


async def test_an_item_updated_while_paging_skips_nothing() -> None:
    server = IssueList(numbered(200))

    def edit(requests_so_far: int) -> None:
        if requests_so_far == 1:  # after the first page: #5 is edited and moves to the end
            server.items[4] = {**server.items[4], "updated_at": stamp(99_999)}

    server.on_request = edit
    client, _, _ = make_client(server, per_page=100)
    got = await read_all(client, "issues", Listing())
    # With page numbers, #101 would have slid onto the page already read and been skipped.
    assert set(got) == set(range(1, 201))


async def test_a_whole_page_sharing_one_second_turns_the_page() -> None:
    items = [{**issue(n, 1), "updated_at": stamp(5)} for n in range(1, 151)] + numbered(10, every=1000)[1:]
    client, _, seen = make_client(IssueList(items), per_page=100)
    got = await read_all(client, "issues", Listing())
    assert set(got) == {i["id"] for i in items}
    assert [(r.url.params.get("since"), r.url.params.get("page")) for r in seen][:3] == [
        (None, None), (stamp(4), None), (stamp(4), "2")]


async def test_comments_and_review_comments_are_oldest_first_too() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, json=[]))
    for stream in ("comments", "review_comments"):
        assert await collect(client, stream, Listing(), START) == []
    for request in seen:
        assert (request.url.params["sort"], request.url.params["direction"]) == ("updated", "asc")
        assert request.url.params["since"] == "2024-01-01T00:00:00Z"


async def test_review_comments_from_the_documented_example() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, json=example("pull-request-review-comment-items")))
    [[comment]] = await collect(client, "review_comments", Listing())
    assert seen[0].url.path == "/repos/o/r/pulls/comments"
    assert (comment.platform_id, comment.pr_number, comment.review_id) == (10, 1, 42)
    assert comment.path == "file1.txt" and comment.commit_sha and comment.author and comment.author.login == "octocat"


async def test_issue_events_repository_level_stop_at_cutoff() -> None:
    events = example("issue-event-items")
    newer = {**events[0], "id": 2, "created_at": "2024-01-09T00:00:00Z"}
    older = {**events[0], "id": 1, "created_at": "2024-01-01T00:00:00Z"}
    client, _, seen = make_client(lambda r: httpx.Response(200, json=[newer, older]))
    listing = Listing()
    got = await collect(client, "issue_events", listing, cutoff=datetime(2024, 1, 5, tzinfo=UTC))
    assert seen[0].url.path == "/repos/o/r/issues/events" and "since" not in seen[0].url.params
    [[event]] = got
    assert (event.platform_id, event.event, event.issue_number) == (2, events[0]["event"], events[0]["issue"]["number"])
    assert listing.newest == datetime(2024, 1, 9, tzinfo=UTC)


async def test_releases_and_contributors_from_the_documented_examples() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        name = "release-items" if request.url.path.endswith("/releases") else "contributor-items"
        return httpx.Response(200, json=example(name))

    client, _, _ = make_client(handler)
    [[release]] = await collect(client, "releases", Listing())
    assert release.tag_name == "v1.0.0" and release.author and release.author.login == "octocat"
    [[contribution]] = await collect(client, "contributors", Listing())
    assert contribution.user.login == "octocat" and contribution.contributions == 32


async def test_contributors_refused_on_a_huge_repository_are_skipped() -> None:
    message = {"message": "The history or contributor list is too large to list contributors for this repository via the API."}
    client, _, _ = make_client(lambda r: httpx.Response(403, json=message))
    listing = Listing()
    assert await collect(client, "contributors", listing) == [] and listing.not_modified
    client, _, _ = make_client(lambda r: httpx.Response(403, json={"message": "Resource not accessible"}))
    with pytest.raises(FatalError):
        await collect(client, "issues", Listing())


async def test_empty_repository_contributors_204() -> None:
    client, _, _ = make_client(lambda r: httpx.Response(204))
    assert await collect(client, "contributors", Listing()) == []


async def test_repository_conditional_get() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"abc"':
            return httpx.Response(304, headers={"etag": '"abc"'})
        return httpx.Response(200, json=REPO_JSON, headers={"etag": '"abc"'})

    client, _, _ = make_client(handler)
    meta, etag = await client.get_repo_conditional("o", "r", None)
    assert meta is not None and meta.name == "r" and etag == '"abc"'
    assert await client.get_repo_conditional("o", "r", etag) == (None, '"abc"')
    assert (client.counts.requests, client.counts.not_modified, client.counts.charged) == (2, 1, 1)


async def test_repo_info_from_profile_counts_and_file_probes() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/community/profile"):
            return httpx.Response(200, json=example("community-profile"))
        if path.endswith("/contents/SECURITY.md"):
            return httpx.Response(200, json={"path": "SECURITY.md", "type": "file"})
        if path.endswith("/contents/CHANGELOG.md"):
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=REPO_JSON)

    client, _, _ = make_client(handler)
    profile = await client.get_community_profile("o", "r")
    assert profile is not None and profile.health_percentage == 100
    security, changelog = await client.has_file("o", "r", "SECURITY.md"), await client.has_file("o", "r", "CHANGELOG.md")
    assert (security, changelog) == (True, False)
    meta = await client.get_repo("o", "r")
    info = convert_repo_info(meta, {"closed_issues": 4}, profile, {"security": security, "changelog": changelog})
    assert (info.has_readme, info.has_contributing, info.has_code_of_conduct) == (True, True, True)
    assert (info.has_security, info.has_changelog, info.closed_issues, info.health_percentage) == (True, False, 4, 100)


@pytest.mark.parametrize("status", [403, 404])
async def test_clone_traffic_without_push_access_is_refused(status: int) -> None:
    client, _, _ = make_client(lambda r: httpx.Response(status, json={"message": "Must have push access to repository"}))
    assert await client.get_clone_traffic("o", "r", '"t0"') == CloneTraffic(None, None, refused=True)
    assert client.requests == 1


async def test_clone_traffic_days() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers.get("if-none-match") == '"t1"':
            return httpx.Response(304, headers={"etag": '"t1"'})
        return httpx.Response(200, json=example("clone-traffic"), headers={"etag": '"t1"'})

    client, _, seen = make_client(handler)
    first = await client.get_clone_traffic("o", "r")
    assert (first.etag, first.refused) == ('"t1"', False)
    assert await client.get_clone_traffic("o", "r", first.etag) == CloneTraffic(None, '"t1"')
    days = first.days
    assert days and (days[0].day, days[0].count, days[0].uniques) == (datetime(2016, 10, 10, tzinfo=UTC), 2, 1)
    assert seen[0].url.path == "/repos/o/r/traffic/clones"


async def test_org_members_pages_and_etag() -> None:
    client, _, seen = make_client(paged([[{"login": "a", "id": 1}], [{"login": "b", "id": 2}]]))
    listing = Listing()
    members = [u.login for page in [p async for p in client.iter_org_members("octo org", listing)] for u in page]
    assert members == ["a", "b"] and listing.etag == 'W/"first"'
    assert seen[0].url.raw_path.startswith(b"/orgs/octo%20org/members")


async def test_pull_request_children_over_rest_without_a_token() -> None:
    user = {"login": "ann", "id": 7}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/pulls/3"):
            return httpx.Response(200, json={"id": 33, "number": 3, "title": "t", "state": "closed", "merged_by": user,
                                             "mergeable": None, "mergeable_state": "clean", "commits": 1,
                                             "changed_files": 1, "requested_teams": [{"id": 5, "slug": "core"}]})
        if path.endswith("/reviews"):
            return httpx.Response(200, json=[{"id": 9, "state": "APPROVED", "user": user, "commit_id": "a" * 40}])
        if path.endswith("/commits"):
            return httpx.Response(200, json=[{"sha": "b" * 40, "commit": {"message": "m", "author": {"name": "Ann"}},
                                              "author": user, "committer": None}])
        return httpx.Response(200, json=[{"filename": "new.py", "previous_filename": "old.py", "status": "renamed"}])

    client, _, seen = make_client(handler, tokens=[])
    pull = PullRequest(platform_id=33, number=3, title="t", state="closed")
    [children] = [c async for c in RestPullChildren(client, "o", "r").children_of([pull], "github.com/o/r")]
    assert [r.url.path for r in seen] == ["/repos/o/r/pulls/3", "/repos/o/r/pulls/3/reviews",
                                          "/repos/o/r/pulls/3/commits", "/repos/o/r/pulls/3/files"]
    detail = children.detail
    assert (detail.platform_id, detail.merge_state, detail.mergeable, detail.reviews_total) == (33, "CLEAN", "UNKNOWN", 1)
    assert detail.merged_by and detail.merged_by.login == "ann" and [t.slug for t in detail.requested_teams] == ["core"]
    assert children.reviews[0].commit_sha == "a" * 40 and children.commits[0].author_name == "Ann"
    assert (children.files[0].path, children.files[0].previous_path) == ("new.py", "old.py")


async def test_commit_accounts_and_commits_that_are_gone() -> None:
    body = {"sha": "a" * 40, "commit": {"author": {"name": "Ada", "email": "ada@example.org", "date": at(2)},
                                        "committer": {"name": "GitHub", "email": "noreply@github.com", "date": at(2)},
                                        "message": "m"},
            "author": {"login": "ada-lovelace", "id": 62706181, "type": "User"}, "committer": None}

    def handler(request: httpx.Request) -> httpx.Response:
        sha = request.url.path.rsplit("/", 1)[1]
        if sha == "a" * 40:
            return httpx.Response(200, json=body)
        if sha == "b" * 40:
            return httpx.Response(422, json={"message": f"No commit found for SHA: {sha}"})
        return httpx.Response(404, json={"message": "Not Found"})

    client, _, seen = make_client(handler)
    author, committer = await client.get_commit_accounts("o", "r", "a" * 40)  # type: ignore[misc]
    assert (author.login, author.platform_id, committer) == ("ada-lovelace", 62706181, None)  # type: ignore[union-attr]
    assert seen[0].url.path == f"/repos/o/r/commits/{'a' * 40}"
    assert await client.get_commit_accounts("o", "r", "b" * 40) is None
    assert await client.get_commit_accounts("o", "r", "c" * 40) is None
