"""The fake forge's GitHub GraphQL endpoint, over real HTTP: batch queries of PR children,
pagination, validation against GitHub's schema, cost, the graphql rate-limit bucket, faults."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.fakeforge import Dataset, FakeForge, RepoData, generate_dataset

OWNER, NAME = "acme", "widgets"
TOKEN = {"Authorization": "bearer graphql-token"}
BIG_PR = 2  # the PR given 250 commits
TEAM = {"id": 4242, "node_id": "MDQ6VGVhbTQyNDI=", "slug": "core-team", "name": "Core team",
        "html_url": "https://github.com/orgs/acme/teams/core-team"}

PR_FIELDS = """
  id fullDatabaseId number title state merged mergedAt isDraft mergeStateStatus mergeable
  headRefName headRefOid baseRefName baseRefOid headRepository { nameWithOwner }
  mergedBy { login ... on User { databaseId } }
  author { login ... on User { databaseId } ... on Bot { databaseId } }
  reviews(first: 100) { totalCount nodes { id databaseId state body submittedAt url
    authorAssociation commit { oid } author { login ... on User { databaseId } } } }
  commits(first: 100) { totalCount pageInfo { hasNextPage endCursor }
    nodes { commit { oid message additions deletions authoredDate committedDate
      author { name email date user { login databaseId } } committer { name email } } } }
  files(first: 100) { totalCount nodes { path additions deletions changeType } }
  labels(first: 100) { nodes { name } }
  assignees(first: 100) { nodes { login databaseId } }
  reviewRequests(first: 100) { nodes { requestedReviewer {
    __typename ... on User { login databaseId } ... on Team { slug databaseId name } } } }
"""
BATCH = ("query($ids: [ID!]!) { nodes(ids: $ids) { ... on PullRequest {" + PR_FIELDS + "} }"
         " rateLimit { cost remaining used limit nodeCount resetAt } }")


def _user(repo: RepoData, index: int) -> dict[str, Any]:
    humans = [u for u in repo.users if u["type"] == "User"]
    return humans[index % len(humans)]


def _children(repo: RepoData) -> None:
    """Per-PR children in REST shapes, built here so the test owns the expected values."""
    reviews: dict[int, list[dict]] = {}
    commits: dict[int, list[dict]] = {}
    files: dict[int, list[dict]] = {}
    for k, pull in enumerate(repo.pulls):
        n = pull["number"]
        reviewer = _user(repo, k + 1)
        reviews[n] = [{
            "id": 9000 + n * 10 + i, "node_id": f"PRR_{n}_{i}", "user": reviewer,
            "body": f"review {i} of #{n}", "state": ("APPROVED", "COMMENTED")[i % 2],
            "submitted_at": f"2024-01-{i + 1:02d}T10:00:00Z", "commit_id": f"{n:04x}" * 10,
            "html_url": f"https://github.com/{OWNER}/{NAME}/pull/{n}#pullrequestreview-{i}",
            "author_association": "MEMBER"} for i in range(k % 3)]
        count = 250 if n == BIG_PR else 1 + k % 4
        commits[n] = [{
            "sha": f"{n:08x}{i:032x}", "node_id": f"C_{n}_{i}",
            "commit": {"message": f"commit {i}\n\nbody", "author": {
                "name": "Ada", "email": "ada@example.com", "date": "2024-01-01T00:00:00Z"},
                "committer": {"name": "GitHub", "email": "noreply@github.com",
                              "date": "2024-01-02T00:00:00Z"}},
            "author": _user(repo, k) if i % 2 == 0 else None, "parents": []}
            for i in range(count)]
        files[n] = [{"filename": f"src/f{i}.py", "status": ("added", "removed", "renamed")[i],
                     "additions": i + 1, "deletions": i, "previous_filename": "old.py"}
                    for i in range(1 + k % 3)]
        pull["merged_by"] = _user(repo, k + 2) if pull.get("merged_at") else None
        pull["mergeable_state"] = "clean" if pull["state"] == "open" else "unknown"
        pull["requested_teams"] = [TEAM] if k % 5 == 0 else []
    repo.reviews, repo.pr_commits, repo.pr_files = reviews, commits, files


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    data = generate_dataset(7, OWNER, NAME, n_users=8, n_issues=10, n_pulls=60, n_comments=10)
    _children(data.repositories[f"{OWNER}/{NAME}"])
    return data


@pytest.fixture
def forge(dataset: Dataset) -> Iterator[FakeForge]:
    with FakeForge(dataset) as running:
        yield running


@pytest.fixture
def client(forge: FakeForge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=forge.base_url, headers=TOKEN, trust_env=False,
                      timeout=30) as http:
        yield http


def gql(client: httpx.Client, query: str, path: str = "/graphql",
        **variables: Any) -> httpx.Response:
    return client.post(path, json={"query": query, "variables": variables})


def repo_of(dataset: Dataset) -> RepoData:
    return dataset.repositories[f"{OWNER}/{NAME}"]


# -- answers ---------------------------------------------------------------------------------

def test_a_batch_of_50_pull_requests_with_all_children(client: httpx.Client,
                                                       dataset: Dataset) -> None:
    repo = repo_of(dataset)
    pulls = repo.pulls[:50]
    response = gql(client, BATCH, ids=[p["node_id"] for p in pulls])
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body.get("errors")
    nodes = body["data"]["nodes"]
    assert [n["number"] for n in nodes] == [p["number"] for p in pulls]
    for pull, node in zip(pulls, nodes, strict=True):
        n = pull["number"]
        assert node["id"] == pull["node_id"] and node["fullDatabaseId"] == str(pull["id"])
        assert node["merged"] == bool(pull["merged_at"]) and node["mergedAt"] == pull["merged_at"]
        assert node["state"] == ("MERGED" if pull["merged_at"] else pull["state"].upper())
        assert node["headRefOid"] == pull["head"]["sha"] and node["baseRefName"] == "main"
        assert (node["mergedBy"] or {}).get("login") == (pull["merged_by"] or {}).get("login")
        assert node["mergeStateStatus"] == pull["mergeable_state"].upper()
        user = pull["user"]
        if user is not None:
            assert node["author"]["databaseId"] == user["id"]
            # GraphQL names bots without REST's [bot] suffix.
            assert node["author"]["login"] == user["login"].removesuffix("[bot]")
        assert [r["databaseId"] for r in node["reviews"]["nodes"]] == [
            r["id"] for r in repo.reviews[n]]
        for review in node["reviews"]["nodes"]:
            assert review["state"] in ("APPROVED", "COMMENTED")
            assert review["commit"]["oid"] == f"{n:04x}" * 10
            assert review["authorAssociation"] == "MEMBER"
        commits = node["commits"]
        assert commits["totalCount"] == len(repo.pr_commits[n])
        first = commits["nodes"][0]["commit"]
        assert first["oid"] == repo.pr_commits[n][0]["sha"]
        assert first["author"]["user"]["login"] == repo.pr_commits[n][0]["author"]["login"]
        assert first["committer"] == {"name": "GitHub", "email": "noreply@github.com"}
        assert [f["changeType"] for f in node["files"]["nodes"]] == [
            "ADDED", "DELETED", "RENAMED"][: len(repo.pr_files[n])]
        assert [lab["name"] for lab in node["labels"]["nodes"]] == [
            lab["name"] for lab in pull["labels"]]
        assert [a["login"] for a in node["assignees"]["nodes"]] == [
            a["login"] for a in pull["assignees"]]
        requested = [r["requestedReviewer"] for r in node["reviewRequests"]["nodes"]]
        expected = [{"__typename": "User", "login": u["login"], "databaseId": u["id"]}
                    for u in pull["requested_reviewers"]]
        expected += [{"__typename": "Team", "slug": "core-team", "databaseId": 4242,
                      "name": "Core team"} for _ in pull["requested_teams"]]
        assert requested == expected
    # 50 ids x 6 connections = 300 requests -> 3 points; nodes: 50 + 50 x 6 x 100.
    assert body["data"]["rateLimit"]["cost"] == 3
    assert body["data"]["rateLimit"]["nodeCount"] == 50 + 50 * 6 * 100
    assert response.headers["x-ratelimit-resource"] == "graphql"
    assert response.headers["x-ratelimit-used"] == "3"


def test_aliased_pull_requests_and_the_enterprise_path(client: httpx.Client,
                                                       dataset: Dataset) -> None:
    numbers = [p["number"] for p in repo_of(dataset).pulls[:3]]
    fields = " ".join(f"pr{n}: pullRequest(number: {n}) {{ number title }}" for n in numbers)
    query = f'{{ repository(owner: "{OWNER}", name: "{NAME}") {{ nameWithOwner {fields} }} }}'
    data = gql(client, query, path="/api/graphql").json()["data"]["repository"]
    assert data["nameWithOwner"] == f"{OWNER}/{NAME}"
    assert [data[f"pr{n}"]["number"] for n in numbers] == numbers


def test_commits_beyond_100_page_with_after(client: httpx.Client, dataset: Dataset) -> None:
    query = """query($owner: String!, $name: String!, $n: Int!, $after: String) {
      repository(owner: $owner, name: $name) { pullRequest(number: $n) {
        commits(first: 100, after: $after) { totalCount
          pageInfo { hasNextPage endCursor } edges { cursor node { commit { oid } } } } } } }"""
    oids: list[str] = []
    after = None
    pages = 0
    while True:
        body = gql(client, query, owner=OWNER, name=NAME, n=BIG_PR, after=after).json()
        commits = body["data"]["repository"]["pullRequest"]["commits"]
        assert commits["totalCount"] == 250
        oids += [edge["node"]["commit"]["oid"] for edge in commits["edges"]]
        pages += 1
        assert commits["pageInfo"]["endCursor"] == commits["edges"][-1]["cursor"]
        if not commits["pageInfo"]["hasNextPage"]:
            break
        after = commits["pageInfo"]["endCursor"]
    assert pages == 3
    assert oids == [c["sha"] for c in repo_of(dataset).pr_commits[BIG_PR]]


def test_unknown_numbers_and_ids_are_null_with_not_found(client: httpx.Client,
                                                         dataset: Dataset) -> None:
    query = f'{{ repository(owner: "{OWNER}", name: "{NAME}") {{ pullRequest(number: 99999) {{ id }} }} }}'
    body = gql(client, query).json()
    assert body["data"] == {"repository": {"pullRequest": None}}
    assert body["errors"][0]["type"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["repository", "pullRequest"]
    assert body["errors"][0]["message"] == (
        "Could not resolve to a PullRequest with the number of 99999.")
    ids = [repo_of(dataset).pulls[0]["node_id"], "bm9wZQ=="]
    body = gql(client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=ids).json()
    assert body["data"]["nodes"] == [{"id": ids[0]}, None]
    assert body["errors"][0]["path"] == ["nodes", 1]


def test_database_ids_beyond_32_bits_need_full_database_id(client: httpx.Client,
                                                          dataset: Dataset) -> None:
    # GraphQL's Int is 32-bit; GitHub's PR ids are past 2**31, hence BigInt fullDatabaseId.
    pull = repo_of(dataset).pulls[0]
    assert pull["id"] > 2**31
    query = "query($id: ID!) { node(id: $id) { ... on PullRequest { databaseId fullDatabaseId } } }"
    body = gql(client, query, id=pull["node_id"]).json()
    assert body["data"]["node"] == {"databaseId": None, "fullDatabaseId": str(pull["id"])}
    assert body["errors"][0]["path"] == ["node", "databaseId"]
    assert "32-bit" in body["errors"][0]["message"]


def test_fields_the_fake_does_not_model_answer_null_or_empty(client: httpx.Client,
                                                             dataset: Dataset) -> None:
    node_id = repo_of(dataset).pulls[0]["node_id"]
    query = """query($id: ID!) { node(id: $id) { ... on PullRequest { number viewerCanUpdate
      milestone { title } closingIssuesReferences(first: 5) { totalCount nodes { number } }
      timelineItems(first: 5) { totalCount } } } }"""
    body = gql(client, query, id=node_id).json()
    assert "errors" not in body
    node = body["data"]["node"]
    assert node["viewerCanUpdate"] is False and node["milestone"] is None
    assert node["closingIssuesReferences"] == {"totalCount": 0, "nodes": []}


# -- validation ------------------------------------------------------------------------------

REPO = f'repository(owner: "{OWNER}", name: "{NAME}")'


@pytest.mark.parametrize(("query", "variables", "message"), [
    (f"{{ {REPO} {{ pullRequest(number: 1) {{ nope }} }} }}", {},
     "Field 'nope' doesn't exist on type 'PullRequest'"),
    (f"{{ {REPO} {{ pullRequest {{ id }} }} }}", {},
     "Field 'pullRequest' is missing required arguments: number"),
    (f"{{ {REPO} {{ pullRequest(number: 1) {{ reviews {{ totalCount }} }} }} }}", {},
     "You must provide a `first` or `last` value to properly paginate the `reviews` connection."),
    (f"{{ {REPO} {{ pullRequests(first: 101) {{ totalCount }} }} }}", {},
     "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of "
     "100 records."),
    ("query($n: Int!) { " + REPO + " { pullRequest(number: $n) { id } } }", {"n": "seven"},
     "Variable $n of type Int! was provided invalid value"),
    (f'{{ {REPO} {{ pullRequests(first: "ten") {{ totalCount }} }} }}', {},
     "Argument 'first' on Field 'pullRequests' has an invalid value (\"ten\"). "
     "Expected type 'Int'."),
    ('{ node(id: "x") { ... on PullRequestt { id } } }', {},
     "No such type PullRequestt, so it can't be a fragment condition"),
])
def test_queries_the_real_schema_rejects_answer_200_with_errors(
        client: httpx.Client, forge: FakeForge, query: str, variables: dict,
        message: str) -> None:
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert [e["message"] for e in body["errors"]] == [message]
    assert body["errors"][0]["locations"][0]["line"] >= 1
    assert response.headers["x-ratelimit-used"] == "0"  # rejected queries cost nothing


def test_node_limit_of_500000(client: httpx.Client) -> None:
    query = f"""{{ {REPO} {{ pullRequests(first: 50) {{ nodes {{ reviews(first: 100) {{
      nodes {{ comments(first: 100) {{ totalCount }} }} }} }} }} }} }}"""
    errors = gql(client, query).json()["errors"]
    assert errors[0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "505,050" in errors[0]["message"] and "500,000" in errors[0]["message"]


# -- cost and the graphql bucket -------------------------------------------------------------

def test_a_simple_query_costs_one_point(client: httpx.Client) -> None:
    query = f"{{ {REPO} {{ pullRequest(number: 1) {{ title }} }} rateLimit {{ cost used }} }}"
    response = gql(client, query)
    assert response.json()["data"]["rateLimit"] == {"cost": 1, "used": 1}
    assert response.headers["x-ratelimit-remaining"] == "4999"


def test_a_nested_50_by_100_query_costs_what_githubs_formula_gives(client: httpx.Client) -> None:
    query = f"""{{ {REPO} {{ pullRequests(first: 50) {{ nodes {{ number
      commits(first: 100) {{ totalCount }} files(first: 100) {{ totalCount }}
      reviews(first: 100) {{ nodes {{ comments(first: 10) {{ totalCount }} }} }} }} }} }}
      rateLimit {{ cost nodeCount remaining }} }}"""
    # Requests: 1 (pullRequests) + 50 x 3 (commits, files, reviews of each PR)
    # + 50 x 100 (comments of each review) = 5,151 -> /100 = 51.51 -> 52 points.
    expected_cost = round((1 + 50 * 3 + 50 * 100) / 100)
    # Nodes: 50 + 3 x (50 x 100) + 50 x 100 x 10.
    expected_nodes = 50 + 3 * 50 * 100 + 50 * 100 * 10
    response = gql(client, query)
    rate = response.json()["data"]["rateLimit"]
    assert expected_cost == 52
    assert rate == {"cost": 52, "nodeCount": expected_nodes, "remaining": 5000 - 52}
    assert response.headers["x-ratelimit-used"] == "52"


def test_the_graphql_bucket_is_separate_from_core_and_runs_out(client: httpx.Client,
                                                               forge: FakeForge) -> None:
    forge.graphql_rate_limit = 3
    query = "{ viewer { login } }"
    for remaining in ("2", "1", "0"):
        response = gql(client, query)
        assert response.status_code == 200 and "errors" not in response.json()
        assert response.headers["x-ratelimit-remaining"] == remaining
    response = gql(client, query)
    assert response.status_code == 200
    error = response.json()["errors"][0]
    assert error["type"] == "RATE_LIMITED"
    assert error["message"].startswith("API rate limit exceeded for user ID ")
    assert response.headers["x-ratelimit-remaining"] == "0"
    assert response.headers["x-ratelimit-resource"] == "graphql"
    rest = client.get(f"/repos/{OWNER}/{NAME}")
    assert rest.status_code == 200
    assert rest.headers["x-ratelimit-resource"] == "core"
    assert rest.headers["x-ratelimit-remaining"] == "4999"


def test_anonymous_calls_are_refused(forge: FakeForge) -> None:
    response = httpx.post(f"{forge.base_url}/graphql", json={"query": "{ viewer { login } }"},
                          trust_env=False)
    assert response.status_code == 401
    assert response.json()["message"] == "This endpoint requires you to be authenticated."


# -- faults ----------------------------------------------------------------------------------

def test_queries_above_the_node_knob_answer_502(client: httpx.Client, forge: FakeForge,
                                               dataset: Dataset) -> None:
    forge.graphql_max_nodes_before_502 = 10_000
    ids = [p["node_id"] for p in repo_of(dataset).pulls[:50]]
    big = gql(client, BATCH, ids=ids)  # 30,050 nodes
    assert big.status_code == 502
    assert big.json()["errors"][0]["message"].startswith("Something went wrong while executing")
    small = gql(client, BATCH, ids=ids[:10])  # 6,010 nodes
    assert small.status_code == 200 and len(small.json()["data"]["nodes"]) == 10
    assert small.json()["data"]["rateLimit"]["used"] == 1  # the 502 cost nothing


def test_fail_next_applies_to_graphql(client: httpx.Client, forge: FakeForge) -> None:
    forge.fail_next("/graphql", 504)
    assert gql(client, "{ viewer { login } }").status_code == 504
    assert gql(client, "{ viewer { login } }").status_code == 200
