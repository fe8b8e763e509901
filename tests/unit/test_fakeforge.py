"""The fake forge, exercised over real HTTP with httpx (and real git for the git routes)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.fakeforge import (
    SAMPLE_REPO,
    Dataset,
    FakeForge,
    build_sample_dataset,
    create_sample_git_repo,
    generate_dataset,
    load_dataset,
    load_sample_dataset,
    save_dataset,
)
from shared.fakeforge.gitrepo import git_env

TOKEN = {"Authorization": "token test-token"}
ISSUES = f"/repos/{SAMPLE_REPO}/issues"


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_sample_dataset()


@pytest.fixture
def forge(dataset: Dataset) -> Iterator[FakeForge]:
    with FakeForge(dataset) as running:
        yield running


@pytest.fixture
def client(forge: FakeForge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=forge.base_url, headers=TOKEN, trust_env=False,
                      timeout=10) as http:
        yield http


def follow(client: httpx.Client, path: str, params: dict[str, str | int]) -> list[dict]:
    items: list[dict] = []
    response = client.get(path, params=params)
    while True:
        assert response.status_code == 200, response.text
        items += response.json()
        if "next" not in response.links:
            return items
        response = client.get(response.links["next"]["url"])


# -- dataset -------------------------------------------------------------------------------


def test_bundled_sample_is_what_the_generator_builds(dataset: Dataset) -> None:
    assert dataset.to_json() == build_sample_dataset().to_json()


def test_sample_contents(dataset: Dataset) -> None:
    repo = dataset.repositories[SAMPLE_REPO]
    assert (len(repo.plain_issues), len(repo.pulls), len(repo.comments)) == (40, 25, 150)
    assert {p["number"] for p in repo.pulls} == {
        i["number"] for i in repo.issues if "pull_request" in i}
    logins = {u["login"] for u in repo.users}
    assert {"dependabot[bot]", "ghost"} <= logins
    assert any(i["user"] is None for i in repo.issues)
    assert any(c["user"] is None for c in repo.comments)
    bodies = [i["body"] or "" for i in repo.issues] + [c["body"] for c in repo.comments]
    assert any("\u0000" in b for b in bodies)
    assert any("\ud83d" in b for b in bodies)
    assert len({i["updated_at"] for i in repo.issues}) == len(repo.issues)
    created = [i["created_at"] for i in repo.issues]
    assert created == sorted(created) and created[0][:4] != created[-1][:4]
    closed = [i for i in repo.plain_issues if i["state"] == "closed"]
    assert closed and all(i["closed_by"] and i["state_reason"] for i in closed)
    assert {(p["merged_at"] is not None, p["state"]) for p in repo.pulls} == {
        (True, "closed"), (False, "closed"), (False, "open")}
    for comment in repo.comments:
        number = int(comment["issue_url"].rsplit("/issues/", 1)[1])
        assert any(i["number"] == number for i in repo.issues)
    assert all(i["comments"] == sum(c["issue_url"] == i["url"] for c in repo.comments)
               for i in repo.issues)


def test_generator_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    first = generate_dataset(3, "o", "r", n_users=5, n_issues=6, n_pulls=4, n_comments=9)
    second = generate_dataset(3, "o", "r", n_users=5, n_issues=6, n_pulls=4, n_comments=9)
    assert first.to_json() == second.to_json()
    save_dataset(first, tmp_path / "d.json")
    loaded = load_dataset(tmp_path / "d.json")
    assert loaded.repositories["o/r"].issues == first.repositories["o/r"].issues
    assert loaded.repositories["o/r"].pulls == first.repositories["o/r"].pulls


# -- REST semantics ------------------------------------------------------------------------


def test_paging_follows_link_to_the_end(client: httpx.Client, dataset: Dataset) -> None:
    repo = dataset.repositories[SAMPLE_REPO]
    items = follow(client, ISSUES, {"state": "all", "per_page": 7, "direction": "asc"})
    assert [i["number"] for i in items] == [i["number"] for i in repo.issues]
    assert items == repo.issues
    pulls = follow(client, f"/repos/{SAMPLE_REPO}/pulls", {"state": "all", "per_page": 10})
    assert sorted(p["number"] for p in pulls) == sorted(p["number"] for p in repo.pulls)
    comments = follow(client, f"/repos/{SAMPLE_REPO}/issues/comments", {"per_page": 100})
    assert comments == repo.comments


def test_link_header_is_githubs(client: httpx.Client, forge: FakeForge) -> None:
    first = client.get(ISSUES, params={"state": "all", "per_page": 30})
    base = f"{forge.base_url}{ISSUES}?state=all&per_page=30"
    assert first.headers["link"] == (f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"')
    middle = client.get(ISSUES, params={"state": "all", "page": 2, "per_page": 30})
    base = f"{forge.base_url}{ISSUES}?state=all"
    assert middle.headers["link"] == (
        f'<{base}&page=1&per_page=30>; rel="prev", <{base}&page=3&per_page=30>; rel="next", '
        f'<{base}&page=3&per_page=30>; rel="last", <{base}&page=1&per_page=30>; rel="first"')
    single = client.get(ISSUES, params={"per_page": 100, "state": "all"})
    assert "link" not in single.headers and len(single.json()) == 65
    assert len(client.get(ISSUES, params={"per_page": 500, "state": "all"}).json()) == 65
    assert len(client.get(ISSUES, params={"state": "all"}).json()) == 30


def test_state_since_and_sort(client: httpx.Client, dataset: Dataset) -> None:
    repo = dataset.repositories[SAMPLE_REPO]
    default = follow(client, ISSUES, {"per_page": 100})
    assert default and all(i["state"] == "open" for i in default)
    closed = follow(client, ISSUES, {"state": "closed", "per_page": 100})
    assert len(default) + len(closed) == len(repo.issues)
    created = [i["created_at"] for i in default]
    assert created == sorted(created, reverse=True)

    cutoff = sorted(i["updated_at"] for i in repo.issues)[40]
    recent = follow(client, ISSUES, {"state": "all", "since": cutoff, "sort": "updated",
                                     "direction": "asc", "per_page": 100})
    assert [i["updated_at"] for i in recent] == sorted(
        i["updated_at"] for i in repo.issues if i["updated_at"] >= cutoff)
    assert recent[0]["updated_at"] == cutoff and len(recent) == len(repo.issues) - 40

    comment_cutoff = repo.comments[100]["updated_at"]
    comments = follow(client, f"/repos/{SAMPLE_REPO}/issues/comments",
                      {"since": comment_cutoff, "sort": "updated", "direction": "asc"})
    assert comments and all(c["updated_at"] >= comment_cutoff for c in comments)

    bad = client.get(ISSUES, params={"state": "bogus"})
    assert bad.status_code == 422 and bad.json()["message"] == "Validation Failed"


def test_etag_304_is_not_counted(client: httpx.Client, forge: FakeForge) -> None:
    first = client.get(ISSUES)
    etag = first.headers["etag"]
    assert etag.startswith('"') and first.headers["content-type"] == (
        "application/json; charset=utf-8")
    remaining = int(first.headers["x-ratelimit-remaining"])
    again = client.get(ISSUES, headers={"If-None-Match": f"W/{etag}"})
    assert again.status_code == 304 and again.content == b""
    assert int(again.headers["x-ratelimit-remaining"]) == remaining
    assert client.get(ISSUES, headers={"If-None-Match": '"other"'}).status_code == 200
    assert forge.requests_count(ISSUES, status=304) == 1
    record = forge.requests[-1]
    assert (record.method, record.path, record.status, record.token) == (
        "GET", ISSUES, 200, "test-token")


def test_rate_limit_exhaustion(dataset: Dataset) -> None:
    with FakeForge(dataset, rate_limit=3) as forge, httpx.Client(
            base_url=forge.base_url, headers=TOKEN, trust_env=False) as client:
        seen = [client.get(f"/repos/{SAMPLE_REPO}") for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 403]
        assert [r.headers["x-ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]
        assert seen[3].json()["message"].startswith("API rate limit exceeded for")
        assert seen[0].headers["x-ratelimit-resource"] == "core"
        assert int(seen[0].headers["x-ratelimit-reset"]) > 1_700_000_000
        # Another token has its own budget; anonymous clients get 60.
        other = client.get(f"/repos/{SAMPLE_REPO}", headers={"Authorization": "Bearer b"})
        assert other.status_code == 200
        anonymous = httpx.get(f"{forge.base_url}/repos/{SAMPLE_REPO}", trust_env=False)
        assert anonymous.headers["x-ratelimit-limit"] == "60"
        forge.reset_rate_limits()
        assert client.get(f"/repos/{SAMPLE_REPO}").status_code == 200


def test_not_found_renamed_and_blocked(client: httpx.Client, forge: FakeForge,
                                       dataset: Dataset) -> None:
    missing = client.get("/repos/watershed-demo/nope")
    assert missing.status_code == 404
    assert missing.json() == {"message": "Not Found",
                              "documentation_url": "https://docs.github.com/rest"}
    assert client.get("/repos/watershed-demo/deleted/issues").status_code == 404

    repo_id = dataset.repositories[SAMPLE_REPO].repository["id"]
    moved = client.get("/repos/watershed-demo/old-sample/issues", params={"per_page": 5})
    assert moved.status_code == 301
    location = f"{forge.base_url}/repositories/{repo_id}/issues?per_page=5"
    assert moved.headers["location"] == location
    assert moved.json()["message"] == "Moved Permanently" and moved.json()["url"] == location
    followed = client.get("/repos/watershed-demo/old-sample/issues", params={"per_page": 5},
                          follow_redirects=True)
    assert followed.status_code == 200 and len(followed.json()) == 5
    assert "/repositories/" in followed.headers["link"]
    assert client.get(f"/repositories/{repo_id}").json()["full_name"] == SAMPLE_REPO

    blocked = client.get("/repos/watershed-demo/dmca-takedown/issues")
    assert blocked.status_code == 451
    assert blocked.json()["message"] == "Repository access blocked"
    assert "reason" in blocked.json()["block"]


def test_fault_injection(client: httpx.Client, forge: FakeForge) -> None:
    forge.fail_next(ISSUES, status=502, times=2)
    assert [client.get(ISSUES).status_code for _ in range(3)] == [502, 502, 200]
    forge.truncate_next(ISSUES)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(ISSUES)
    assert client.get(ISSUES).status_code == 200
    forge.fail_next("/repos/", status=403, body={"message": "You have exceeded a secondary "
                                                             "rate limit."},
                    headers={"retry-after": "1"})
    limited = client.get(ISSUES)
    assert limited.status_code == 403 and limited.headers["retry-after"] == "1"


def test_unicode_nul_and_lone_surrogate_survive_the_wire(client: httpx.Client,
                                                         dataset: Dataset) -> None:
    raw = client.get(ISSUES, params={"state": "all", "per_page": 100}).content
    assert b"\\u0000" in raw and b"\\ud83d" in raw
    assert "🌊".encode() in client.get(f"/repos/{SAMPLE_REPO}").content
    assert follow(client, ISSUES, {"state": "all", "direction": "asc", "per_page": 100}) == (
        dataset.repositories[SAMPLE_REPO].issues)


# -- git -----------------------------------------------------------------------------------


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env=git_env()).stdout


def test_sample_git_repo_is_deterministic(tmp_path: Path) -> None:
    first = create_sample_git_repo(tmp_path / "a", commits=15)
    second = create_sample_git_repo(tmp_path / "b", commits=15)
    head = _git("rev-parse", "HEAD", cwd=first)
    assert head == _git("rev-parse", "HEAD", cwd=second)
    assert create_sample_git_repo(first, commits=15) == first
    with pytest.raises(FileExistsError):
        create_sample_git_repo(first, commits=16)
    log = _git("log", "--format=%an|%ae|%P", cwd=first)
    assert "Zoë Ångström-Núñez" in log and "+grace-hopper@users.noreply.github.com" in log
    assert any(len(line.split("|")[2].split()) == 2 for line in log.splitlines())
    stats = _git("log", "-M", "--name-status", "--format=", cwd=first)
    assert "R100\tdocs/old_name.md\tdocs/guide.md" in stats
    assert "D\tobsolete.txt" in stats


def test_git_clone_over_dumb_http(tmp_path: Path, dataset: Dataset) -> None:
    source = create_sample_git_repo(tmp_path / "src", commits=40)
    with FakeForge(dataset) as forge:
        assert forge.add_git_repo(SAMPLE_REPO, source) == f"/git/{SAMPLE_REPO}.git"
        _git("clone", "--quiet", "--bare", forge.git_url(SAMPLE_REPO), str(tmp_path / "c.git"))
        assert _git("rev-list", "--count", "HEAD", cwd=tmp_path / "c.git").strip() == "40"
        assert _git("rev-parse", "HEAD", cwd=tmp_path / "c.git") == _git(
            "rev-parse", "HEAD", cwd=source)
        assert forge.requests_count(f"/git/{SAMPLE_REPO}.git/info/refs") >= 1
        unknown = httpx.get(f"{forge.base_url}/git/nobody/nothing.git/info/refs",
                            trust_env=False)
        assert unknown.status_code == 404
        escape = httpx.get(f"{forge.base_url}/git/{SAMPLE_REPO}.git/../../etc/passwd",
                           trust_env=False)
        assert escape.status_code == 404


# -- options and the command line ------------------------------------------------------------


def test_github_style_links_bad_credentials_and_rate_limit_endpoint(dataset: Dataset) -> None:
    repo_id = dataset.repositories[SAMPLE_REPO].repository["id"]
    with FakeForge(dataset, tokens={"test-token"}, repository_id_links=True) as forge, \
            httpx.Client(base_url=forge.base_url, headers=TOKEN, trust_env=False) as client:
        page = client.get(ISSUES, params={"per_page": 3})
        assert page.links["next"]["url"].startswith(
            f"{forge.base_url}/repositories/{repo_id}/issues?")
        assert len(follow(client, ISSUES, {"per_page": 3, "state": "all"})) == 65
        bad = client.get(ISSUES, headers={"Authorization": "token wrong"})
        assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
        quota = client.get("/rate_limit").json()["resources"]["core"]
        assert quota["used"] == forge.rate_limit_quota("test-token").used
        assert client.get("/users/dependabot[bot]").json()["type"] == "Bot"


def test_enterprise_prefix_serves_rest_under_api_v3_and_graphql_at_api_graphql(dataset: Dataset,
                                                                              tmp_path: Path) -> None:
    query = {"query": "query { viewer { login } }"}
    with FakeForge(dataset, api_prefix="/api/v3") as forge, \
            httpx.Client(base_url=forge.base_url, headers=TOKEN, trust_env=False) as client:
        assert forge.api_url == f"{forge.base_url}/api/v3" and forge.graphql_path == "/api/graphql"
        first = client.get(f"/api/v3{ISSUES}", params={"per_page": 7, "state": "all"})
        assert first.links["next"]["url"].startswith(f"{forge.api_url}{ISSUES}?")
        assert len(follow(client, f"/api/v3{ISSUES}", {"per_page": 7, "state": "all"})) == 65
        assert client.get("/api/v3/rate_limit").status_code == 200
        # Outside the prefix there is no API, as on an Enterprise server.
        assert client.get(ISSUES).status_code == 404
        assert client.get("/api/v3x/rate_limit").status_code == 404
        assert client.post("/api/graphql", json=query).status_code == 200
        assert client.post("/graphql", json=query).status_code == 404
        # Requests are recorded as sent.
        assert forge.requests_count("/api/v3/repos/") >= 2 and forge.requests_count("/repos/") == 1
        # git stays where add_git_repo serves it.
        forge.add_git_repo(SAMPLE_REPO, create_sample_git_repo(tmp_path / "sample"))
        assert client.get(f"/git/{SAMPLE_REPO}.git/info/refs").status_code == 200
    with pytest.raises(ValueError, match="api_prefix"):
        FakeForge(dataset, api_prefix="api/v3")


def test_command_line_serves_the_demo(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.fakeforge", "--git-dir", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        git_line = process.stdout.readline().strip()
        assert git_line == f"git: {base_url}/git/{SAMPLE_REPO}.git"
        repo = httpx.get(f"{base_url}/repos/{SAMPLE_REPO}", trust_env=False)
        assert repo.status_code == 200 and repo.json()["full_name"] == SAMPLE_REPO
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
