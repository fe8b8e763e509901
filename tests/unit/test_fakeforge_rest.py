"""The fake forge's children of issues and pull requests: generation and the REST routes that
serve them, exercised over real HTTP with httpx."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.fakeforge import (
    SAMPLE_REPO,
    Dataset,
    FakeForge,
    RepoData,
    generate_dataset,
    load_dataset,
    load_sample_dataset,
    save_dataset,
)
from shared.fakeforge.dataset import COMMUNITY_FILES, PULL_DETAIL_KEYS

TOKEN = {"Authorization": "token test-token"}
REPO = f"/repos/{SAMPLE_REPO}"
CHILDREN = {"n_users": 8, "n_issues": 10, "n_pulls": 8, "n_comments": 20,
            "n_review_comments": 12, "reviews_per_pull": (1, 3), "commits_per_pull": (2, 4),
            "files_per_pull": (1, 5), "events_per_issue": (3, 6), "n_releases": 4,
            "big_prs": 1, "big_pr_size": 105, "huge_bodies": 3}


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_sample_dataset()


@pytest.fixture(scope="module")
def sample(dataset: Dataset) -> RepoData:
    return dataset.repositories[SAMPLE_REPO]


@pytest.fixture
def forge(dataset: Dataset) -> Iterator[FakeForge]:
    with FakeForge(dataset, push_tokens={"pusher"}) as running:
        yield running


@pytest.fixture
def client(forge: FakeForge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=forge.base_url, headers=TOKEN, trust_env=False,
                      timeout=10) as http:
        yield http


def follow(client: httpx.Client, path: str, params: dict[str, str | int] | None = None,
           ) -> list[dict]:
    items: list[dict] = []
    response = client.get(path, params=params or {})
    while True:
        assert response.status_code == 200, response.text
        items += response.json()
        if "next" not in response.links:
            return items
        response = client.get(response.links["next"]["url"])


def pull_with(repo: RepoData, part: str, at_least: int) -> int:
    return next(n for n, items in sorted(getattr(repo, part).items()) if len(items) >= at_least)


# -- generation ------------------------------------------------------------------------------


def test_children_are_deterministic_and_round_trip(tmp_path: Path) -> None:
    first = generate_dataset(3, "o", "r", **CHILDREN)
    assert first.to_json() == generate_dataset(3, "o", "r", **CHILDREN).to_json()
    assert first.to_json() != generate_dataset(4, "o", "r", **CHILDREN).to_json()
    save_dataset(first, tmp_path / "d.json")
    loaded = load_dataset(tmp_path / "d.json")
    assert loaded.to_json() == first.to_json()
    repo, again = first.repositories["o/r"], loaded.repositories["o/r"]
    assert again.reviews == repo.reviews and again.pr_files == repo.pr_files
    assert again.issue_events == repo.issue_events
    assert loaded.org_members == first.org_members and first.org_members["o"]


def test_adding_children_left_issues_pulls_and_comments_alone() -> None:
    plain = generate_dataset(9, "o", "r", n_issues=6, n_pulls=5, n_comments=12, big_prs=1,
                             big_pr_size=3).repositories["o/r"]
    other = generate_dataset(9, "o", "r", n_issues=6, n_pulls=5, n_comments=12,
                             n_releases=0).repositories["o/r"]
    assert plain.comments == other.comments
    assert [i["title"] for i in plain.issues] == [i["title"] for i in other.issues]


def test_children_belong_to_existing_items_and_counts_match() -> None:
    repo = generate_dataset(5, "o", "r", **CHILDREN).repositories["o/r"]
    pulls = {p["number"]: p for p in repo.pulls}
    issues = {i["number"]: i for i in repo.issues}
    assert set(repo.reviews) == set(repo.pr_commits) == set(repo.pr_files) == set(pulls)
    big = [n for n in pulls if len(repo.pr_commits[n]) == 105]
    assert len(big) == 1 and len(repo.pr_files[big[0]]) == len(repo.reviews[big[0]]) == 105
    for number in pulls:
        if number in big:
            continue
        assert 1 <= len(repo.reviews[number]) <= 3
        assert 2 <= len(repo.pr_commits[number]) <= 4
        assert 1 <= len(repo.pr_files[number]) <= 5
    review_ids = {r["id"]: n for n, items in repo.reviews.items() for r in items}
    assert len(review_ids) == sum(len(items) for items in repo.reviews.values())
    assert {r["state"] for items in repo.reviews.values() for r in items} <= {
        "APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}

    assert len(repo.review_comments) == 12 + 105
    seen: dict[int, dict] = {}
    for comment in repo.review_comments:
        number = int(comment["pull_request_url"].rsplit("/pulls/", 1)[1])
        assert number in pulls
        assert review_ids[comment["pull_request_review_id"]] == number
        assert comment["path"] in {f["filename"] for f in repo.pr_files[number]}
        if "in_reply_to_id" in comment:
            parent = seen[comment["in_reply_to_id"]]
            assert parent["pull_request_url"] == comment["pull_request_url"]
        seen[comment["id"]] = comment
    assert any("in_reply_to_id" in c for c in repo.review_comments)

    for number, pull in pulls.items():
        commits, files = repo.pr_commits[number], repo.pr_files[number]
        assert commits[-1]["sha"] == pull["head"]["sha"]
        assert commits[0]["parents"][0]["sha"] == pull["base"]["sha"]
        assert pull["commits"] == len(commits) and pull["changed_files"] == len(files)
        assert pull["additions"] == sum(f["additions"] for f in files)
        assert pull["review_comments"] == sum(
            c["pull_request_url"] == pull["url"] for c in repo.review_comments)
        assert pull["comments"] == issues[number]["comments"]
        assert pull["merged"] == (pull["merged_at"] is not None) == (
            pull["merged_by"] is not None)
        for entry in files:
            assert entry["changes"] == entry["additions"] + entry["deletions"]
            assert ("previous_filename" in entry) == (entry["status"] == "renamed")

    per_issue: dict[int, int] = {}
    for event in repo.issue_events:
        assert event["issue"] is issues[event["issue"]["number"]]
        per_issue[event["issue"]["number"]] = per_issue.get(event["issue"]["number"], 0) + 1
        if event["event"] in ("labeled", "unlabeled"):
            assert set(event["label"]) == {"name", "color"}
        if event["event"] == "renamed":
            assert set(event["rename"]) == {"from", "to"}
    assert set(per_issue) == set(issues) and all(3 <= n <= 6 for n in per_issue.values())
    for issue in issues.values():
        kinds = [e["event"] for e in repo.issue_events if e["issue"] is issue]
        if issue["state"] == "closed":
            assert "closed" in kinds
        if "pull_request" in issue and issue["pull_request"]["merged_at"]:
            assert "merged" in kinds
    ids = [e["id"] for e in repo.issue_events]
    assert ids == sorted(set(ids))

    assert len(repo.releases) == 4
    counts = [c["contributions"] for c in repo.contributors]
    assert counts == sorted(counts, reverse=True) and min(counts) > 0
    assert set(repo.community_profile["files"]) == set(COMMUNITY_FILES)
    assert repo.clone_traffic["count"] == sum(d["count"] for d in repo.clone_traffic["clones"])
    huge = [item for item in [*repo.issues, *repo.comments, *repo.review_comments]
            if len(item["body"] or "") >= 90_000]
    assert len(huge) == 3
    user_ids = {u["id"] for u in repo.users}
    actors = [e["actor"] for e in repo.issue_events] + [c["user"] for c in repo.review_comments]
    assert {a["id"] for a in actors if a is not None} <= user_ids


def test_sample_has_children(sample: RepoData, dataset: Dataset) -> None:
    assert (len(sample.plain_issues), len(sample.pulls), len(sample.comments)) == (40, 25, 150)
    assert len(sample.review_comments) == 50 and len(sample.releases) == 5
    assert sample.issue_events and sample.contributors and dataset.org_members
    assert any(e["actor"] is None for e in sample.issue_events)
    assert any(c["author"] is None for items in sample.pr_commits.values() for c in items)


# -- REST --------------------------------------------------------------------------------------


def test_review_comments_page_sort_and_since(client: httpx.Client, sample: RepoData) -> None:
    everything = follow(client, f"{REPO}/pulls/comments", {"per_page": 7})
    assert everything == sorted(sample.review_comments, key=lambda c: c["id"])
    # `direction` without `sort` is ignored, as on GitHub.
    assert follow(client, f"{REPO}/pulls/comments", {"direction": "desc", "per_page": 100}) == (
        everything)
    newest = follow(client, f"{REPO}/pulls/comments", {"sort": "updated", "direction": "desc"})
    assert [c["updated_at"] for c in newest] == sorted(
        (c["updated_at"] for c in sample.review_comments), reverse=True)
    cutoff = sorted(c["updated_at"] for c in sample.review_comments)[30]
    recent = follow(client, f"{REPO}/pulls/comments", {"since": cutoff})
    assert recent and all(c["updated_at"] >= cutoff for c in recent)
    assert len(recent) == sum(c["updated_at"] >= cutoff for c in sample.review_comments)
    number = int(everything[0]["pull_request_url"].rsplit("/", 1)[1])
    one_pull = follow(client, f"{REPO}/pulls/{number}/comments", {"per_page": 1})
    assert one_pull == [c for c in everything if c["pull_request_url"].endswith(f"/{number}")]
    bad = client.get(f"{REPO}/pulls/comments", params={"sort": "bogus"})
    assert bad.status_code == 422


def test_issue_events(client: httpx.Client, sample: RepoData) -> None:
    events = follow(client, f"{REPO}/issues/events", {"per_page": 50})
    assert [e["id"] for e in events] == sorted((e["id"] for e in sample.issue_events),
                                               reverse=True)
    assert all("issue" in e for e in events)
    pr_number = sample.pulls[0]["number"]
    own = follow(client, f"{REPO}/issues/{pr_number}/events", {"per_page": 2})
    assert own and all("issue" not in e for e in own)
    assert [e["id"] for e in own] == sorted(
        e["id"] for e in sample.issue_events if e["issue"]["number"] == pr_number)
    assert client.get(f"{REPO}/issues/9999/events").status_code == 404


def test_single_pull_has_details_the_list_lacks(client: httpx.Client,
                                                sample: RepoData) -> None:
    pull = sample.pulls[0]
    full = client.get(f"{REPO}/pulls/{pull['number']}").json()
    assert full == pull and set(PULL_DETAIL_KEYS) <= set(full)
    listed = follow(client, f"{REPO}/pulls", {"state": "all", "per_page": 100})
    assert listed and not set(PULL_DETAIL_KEYS) & {key for p in listed for key in p}
    assert "requested_teams" in listed[0]
    plain = sample.plain_issues[0]["number"]
    assert client.get(f"{REPO}/pulls/{plain}").status_code == 404
    assert client.get(f"{REPO}/pulls/{plain}/reviews").status_code == 404
    assert client.get(f"{REPO}/pulls/9999/files").status_code == 404


def test_reviews_commits_and_files(client: httpx.Client, sample: RepoData) -> None:
    number = pull_with(sample, "reviews", 2)
    assert follow(client, f"{REPO}/pulls/{number}/reviews", {"per_page": 1}) == (
        sample.reviews[number])
    number = pull_with(sample, "pr_commits", 3)
    assert follow(client, f"{REPO}/pulls/{number}/commits", {"per_page": 2}) == (
        sample.pr_commits[number])
    number = pull_with(sample, "pr_files", 3)
    assert follow(client, f"{REPO}/pulls/{number}/files", {"per_page": 2}) == (
        sample.pr_files[number])


def test_big_pull_request_caps() -> None:
    dataset = generate_dataset(7, "o", "big", n_users=5, n_issues=1, n_pulls=2, n_comments=2,
                               n_review_comments=0, big_prs=1, big_pr_size=3005)
    repo = dataset.repositories["o/big"]
    number = next(n for n, items in repo.pr_commits.items() if len(items) == 3005)
    with FakeForge(dataset) as forge, httpx.Client(base_url=forge.base_url, headers=TOKEN,
                                                   trust_env=False, timeout=30) as client:
        base = f"/repos/o/big/pulls/{number}"
        first = client.get(f"{base}/commits", params={"per_page": 100})
        assert first.links["last"]["url"].endswith("page=3")
        commits = follow(client, f"{base}/commits", {"per_page": 100})
        assert commits == repo.pr_commits[number][:250]
        assert client.get(base).json()["commits"] == 3005
        assert len(follow(client, f"{base}/files", {"per_page": 100})) == 3000
        assert len(follow(client, f"{base}/reviews", {"per_page": 100})) == 3005
        assert len(follow(client, f"{base}/comments", {"per_page": 100})) == 3005
        # per_page is capped at 100.
        assert len(client.get(f"{base}/files", params={"per_page": 1000}).json()) == 100


def test_releases_contributors_and_org_members(client: httpx.Client, sample: RepoData,
                                               dataset: Dataset) -> None:
    releases = follow(client, f"{REPO}/releases", {"per_page": 2})
    assert releases == sample.releases
    assert [r["created_at"] for r in releases] == sorted(
        (r["created_at"] for r in releases), reverse=True)
    contributors = follow(client, f"{REPO}/contributors", {"per_page": 5, "anon": "1"})
    assert contributors == sample.contributors
    members = follow(client, "/orgs/Watershed-Demo/members", {"per_page": 4})
    assert members == dataset.org_members["watershed-demo"]
    assert client.get("/orgs/nobody-here/members").status_code == 404
    login = members[0]["login"]
    assert client.get(f"/users/{login}").json()["id"] == members[0]["id"]


def test_community_profile_and_contents(client: httpx.Client, dataset: Dataset) -> None:
    statuses = set()
    for name, repo in dataset.repositories.items():
        profile = client.get(f"/repos/{name}/community/profile")
        assert profile.status_code == 200 and profile.json() == repo.community_profile
        files = profile.json()["files"]
        for key in ("readme", "contributing", "code_of_conduct", "security", "changelog"):
            response = client.get(f"/repos/{name}/contents/{COMMUNITY_FILES[key]}")
            statuses.add(response.status_code)
            assert response.status_code == (404 if files[key] is None else 200)
            if response.status_code == 200:
                body = response.json()
                assert (body["type"], body["encoding"], body["path"]) == (
                    "file", "base64", COMMUNITY_FILES[key])
                assert base64.b64decode(body["content"]).decode() == (
                    repo.community_file_text(key))
    assert statuses == {200, 404}
    assert client.get(f"{REPO}/contents/src/nothing.py").status_code == 404


def test_clone_traffic_needs_push_access(client: httpx.Client, forge: FakeForge,
                                         sample: RepoData) -> None:
    denied = client.get(f"{REPO}/traffic/clones")
    assert denied.status_code == 403
    assert denied.json()["message"] == "Must have push access to repository"
    anonymous = httpx.get(f"{forge.base_url}{REPO}/traffic/clones", trust_env=False)
    assert anonymous.status_code == 403
    allowed = client.get(f"{REPO}/traffic/clones", headers={"Authorization": "token pusher"})
    assert allowed.status_code == 200 and allowed.json() == sample.clone_traffic
    assert set(allowed.json()) == {"count", "uniques", "clones"}


def test_etag_redirects_and_errors_apply_to_children(client: httpx.Client, forge: FakeForge,
                                                     sample: RepoData) -> None:
    number = pull_with(sample, "reviews", 1)
    path = f"{REPO}/pulls/{number}/reviews"
    first = client.get(path)
    again = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["x-ratelimit-remaining"] == first.headers["x-ratelimit-remaining"]

    moved = client.get("/repos/watershed-demo/old-sample/pulls/comments",
                       params={"per_page": 3})
    assert moved.status_code == 301
    repo_id = sample.repository["id"]
    assert moved.headers["location"] == (
        f"{forge.base_url}/repositories/{repo_id}/pulls/comments?per_page=3")
    followed = client.get("/repos/watershed-demo/old-sample/pulls/comments",
                          params={"per_page": 3}, follow_redirects=True)
    assert followed.status_code == 200 and len(followed.json()) == 3
    assert f"/repositories/{repo_id}/pulls/comments" in followed.links["next"]["url"]

    assert client.get("/repos/watershed-demo/deleted/releases").status_code == 404
    assert client.get("/repos/watershed-demo/nope/issues/events").status_code == 404
    assert client.get("/repos/watershed-demo/dmca-takedown/pulls/1/commits").status_code == 451
    assert client.get(f"{REPO}/unknown/route").status_code == 404
