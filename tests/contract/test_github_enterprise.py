"""GitHubClient and GraphQLClient on an Enterprise-shaped API over real HTTP: the fake forge
serving REST under /api/v3 and GraphQL at /api/graphql only, as GitHub Enterprise Server does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from shared.errors import NotFoundError
from shared.fakeforge import SAMPLE_REPO, Dataset, FakeForge, load_sample_dataset
from shared.forge.github import GitHubClient, GraphQLClient, Listing

TOKEN = "ghe-contract-token-0001"
HOST = "ghe.example.test"
OWNER, NAME = SAMPLE_REPO.split("/")


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return load_sample_dataset()


@pytest.fixture
def forge(dataset: Dataset) -> Iterator[FakeForge]:
    with FakeForge(dataset, api_prefix="/api/v3", tokens={TOKEN}) as running:
        yield running


@pytest.fixture
async def client(forge: FakeForge) -> AsyncIterator[GitHubClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:
        yield GitHubClient(forge.api_url, [TOKEN], client=http, host=HOST, per_page=20)


async def test_rest_pages_stay_under_the_prefix(client: GitHubClient, forge: FakeForge, dataset: Dataset) -> None:
    meta, _ = await client.get_repo_conditional(OWNER, NAME, None)
    assert meta is not None and meta.name == NAME
    pages = [page async for page in client.iter_stream(OWNER, NAME, "issues", Listing())]
    assert len(pages) > 1, "the next pages must be asked under /api/v3 too"
    assert {i.number for p in pages for i in p} == {i["number"] for i in dataset.repositories[SAMPLE_REPO].plain_issues}
    pulls = [page async for page in client.iter_stream(OWNER, NAME, "pull_requests", Listing())]
    assert len(pulls) > 1, "the Link header's next page must be followed under /api/v3"
    assert forge.requests and all(r.path.startswith("/api/v3/") for r in forge.requests)
    assert {r.token for r in forge.requests} == {TOKEN} and {r.status for r in forge.requests} == {200}


async def test_graphql_goes_to_api_graphql(client: GitHubClient, forge: FakeForge) -> None:
    gql = GraphQLClient(client)
    assert gql.url == f"{forge.base_url}/api/graphql"
    counts = await gql.repo_counts(OWNER, NAME)
    assert counts["open_issues"] is not None
    assert [(r.method, r.path, r.status) for r in forge.requests] == [("POST", "/api/graphql", 200)]
    assert client.counts.graphql == 1


async def test_messages_name_the_repositorys_host_not_the_api(client: GitHubClient) -> None:
    with pytest.raises(NotFoundError) as info:
        await client.get_repo(OWNER, "missing")
    assert f"{HOST}/{OWNER}/missing" in info.value.message
    assert "127.0.0.1" not in info.value.message and TOKEN not in info.value.message
