"""GitLabClient listing a group's projects: against the fake GitLab over real HTTP (paging by Link
or X-Next-Page, subgroups, shared and private projects, tokens, a missing group) and on
``httpx.MockTransport`` for GitLab's rate limits and server errors, with a fake clock."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest

from shared.errors import AuthError, NotFoundError, TransientError
from shared.fakeforge import FakeGitLab, GitLabDataset, create_sample_git_repo
from shared.forge.gitlab import GitLabClient, convert_project
from shared.forge.gitlab.wire import WireProject
from tests.contract.test_github_client import FakeTime

TOKEN = "glpat-contractT0kenValue0000"
HOST = "gitlab.example.test"


def dataset() -> GitLabDataset:
    data = GitLabDataset()
    data.add_project("acme/zeta")
    data.add_project("acme/tools/Linter")
    data.add_project("acme/tools/deep/parser", archived=True)
    data.add_project("acme/alpha", forked_from=1)
    data.add_project("acme/secret", visibility="private")
    data.add_project("other/shared-in")
    data.share_project("other/shared-in", "acme")  # another group's project, shared with acme
    data.add_project("acme-two/unrelated")  # a group whose path starts like acme's
    return data


@pytest.fixture
async def forge() -> AsyncIterator[FakeGitLab]:
    with FakeGitLab(dataset(), tokens={TOKEN}, web_url=f"https://{HOST}") as fake:
        yield fake


def client_for(forge: FakeGitLab, tokens: list[str] | None = None, **kwargs: object) -> GitLabClient:
    return GitLabClient(forge.api_url, [TOKEN] if tokens is None else tokens, host=HOST, **kwargs)  # type: ignore[arg-type]


async def paths(client: GitLabClient, group: str) -> list[str]:
    found = await client.get_group(group)
    return [f"{r.owner}/{r.name}" async for page in client.iter_group_projects(found) for r in page]


@pytest.mark.parametrize("link_headers", [True, False])
async def test_a_group_lists_every_project_of_its_subgroups_over_pages(link_headers: bool) -> None:
    with FakeGitLab(dataset(), tokens={TOKEN}, link_headers=link_headers) as forge:
        async with client_for(forge, per_page=2) as client:
            group = await client.get_group("ACME")
            assert group.full_path == "acme" and group.platform_id >= 1000
            listed = [r async for page in client.iter_group_projects(group) for r in page]
        asked = [r for r in forge.requests if r.path == "/api/v4/groups/acme/projects"]
        assert len(asked) == 3  # five projects in pages of two, by Link or by X-Next-Page
        assert asked[0].query == {"include_subgroups": "true", "with_shared": "false", "order_by": "id",
                                  "sort": "asc", "per_page": "2"}
        assert all(r.token == TOKEN for r in forge.requests)
    # Archived, forked and private (with a token) projects are listed; shared-in ones are not.
    assert [f"{r.owner}/{r.name}" for r in listed] == [
        "acme/zeta", "acme/tools/Linter", "acme/tools/deep/parser", "acme/alpha", "acme/secret"]
    assert [r.platform_id for r in listed] == sorted(r.platform_id for r in listed)
    parser, alpha = listed[2], listed[3]
    assert parser.is_archived and alpha.is_fork and not listed[0].is_fork
    assert listed[1].html_url == f"https://{HOST}/acme/tools/Linter"
    assert listed[1].clone_url == f"https://{HOST}/acme/tools/Linter.git"


async def test_a_subgroup_is_a_group_by_its_full_path(forge: FakeGitLab) -> None:
    async with client_for(forge) as client:
        assert await paths(client, "acme/tools") == ["acme/tools/Linter", "acme/tools/deep/parser"]
    assert any(r.path == "/api/v4/groups/acme%2Ftools" for r in forge.requests)


async def test_renames_and_transfers_keep_the_id(forge: FakeGitLab) -> None:
    async with client_for(forge) as client:
        before = {r.name: r.platform_id async for page in client.iter_group_projects(await client.get_group("acme"))
                  for r in page}
        forge.dataset.rename_project("acme/zeta", "zeta-2")
        forge.dataset.transfer_project("acme/alpha", "acme/tools")
        forge.dataset.transfer_project("acme/tools/Linter", "elsewhere")
        forge.dataset.remove_project("acme/secret")
        after = {f"{r.owner}/{r.name}": r.platform_id
                 async for page in client.iter_group_projects(await client.get_group("acme")) for r in page}
    assert after == {"acme/zeta-2": before["zeta"], "acme/tools/alpha": before["alpha"],
                     "acme/tools/deep/parser": before["parser"]}


async def test_anonymous_requests_see_public_projects_and_no_private_group(forge: FakeGitLab) -> None:
    forge.dataset.add_group("hidden", visibility="private")
    forge.dataset.add_project("hidden/thing")
    async with client_for(forge, tokens=[]) as client:
        assert "acme/secret" not in await paths(client, "acme")
        with pytest.raises(NotFoundError) as info:
            await client.get_group("hidden")
    assert "a private group needs a token" in info.value.message
    assert all(r.token is None for r in forge.requests)


async def test_a_missing_group_is_not_found_with_a_clear_message_and_no_token(forge: FakeGitLab) -> None:
    async with client_for(forge) as client:
        with pytest.raises(NotFoundError) as info:
            await client.get_group("acme/zeta")  # a project, not a group
    message = info.value.message
    assert message.startswith(f"{HOST}/acme/zeta: group not found (HTTP 404): 404 Group Not Found")
    assert "no group" in message and TOKEN not in message
    assert info.value.status == 404


async def test_a_refused_token_is_retired_and_the_next_one_used(forge: FakeGitLab) -> None:
    async with client_for(forge, tokens=["glpat-revoked-0000000000", TOKEN]) as client:
        assert len(await paths(client, "acme")) == 5
        assert client.pool.retired == 1
    async with client_for(forge, tokens=["glpat-revoked-0000000000"]) as client:
        with pytest.raises(AuthError) as info:
            await client.get_group("acme")
    assert "glpat-revoked" not in info.value.message


async def test_git_follows_the_project_through_renames(forge: FakeGitLab, tmp_path: Path) -> None:
    forge.add_git_repo("acme/zeta", create_sample_git_repo(tmp_path / "sample"))
    assert httpx.get(f"{forge.git_url}/acme/zeta.git/info/refs").status_code == 200
    forge.dataset.rename_project("acme/zeta", "zeta-2")
    assert httpx.get(f"{forge.git_url}/acme/zeta-2.git/info/refs").status_code == 200
    assert httpx.get(f"{forge.git_url}/acme/zeta.git/info/refs").status_code == 404


# ------------------------------------------------------------------ rate limits and failures


def mock_client(responses: list[httpx.Response]) -> tuple[GitLabClient, FakeTime, list[httpx.Request]]:
    fake = FakeTime()
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responses.pop(0)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = GitLabClient("https://gitlab.com/api/v4", [TOKEN], client=http, sleep=fake.sleep, clock=fake.clock,
                          rand=lambda: 0.5)
    return client, fake, seen


GROUP = {"id": 9, "full_path": "gnome"}


async def test_a_429_waits_for_retry_after_and_the_token_goes_in_private_token() -> None:
    client, fake, seen = mock_client([
        httpx.Response(429, text="Retry later", headers={"retry-after": "30", "ratelimit-remaining": "0"}),
        httpx.Response(200, json=GROUP, headers={"ratelimit-remaining": "1999",
                                                 "ratelimit-reset": str(int(FakeTime().now) + 90)}),
    ])
    group = await client.get_group("gnome")
    assert group.platform_id == 9 and client.host == "gitlab.com"
    assert fake.sleeps and 30 <= sum(fake.sleeps) <= 32  # the Retry-After, plus the pool's margin
    assert all(r.headers["private-token"] == TOKEN and "authorization" not in r.headers for r in seen)
    budget = client.pool.budget(TOKEN, "core")  # fed by GitLab's RateLimit-* headers
    assert (budget.remaining, budget.reset_at) == (1999, int(FakeTime().now) + 90)


async def test_server_errors_are_retried_with_backoff_then_given_up() -> None:
    client, fake, seen = mock_client([httpx.Response(502, json={"message": "502 Bad Gateway"})] * 3
                                     + [httpx.Response(200, json=GROUP)])
    assert (await client.get_group("gnome")).full_path == "gnome"
    assert len(seen) == 4 and fake.sleeps == [0.75, 1.5, 3.0]
    client, fake, seen = mock_client([httpx.Response(503, json={"message": "503"})] * 5)
    with pytest.raises(TransientError, match="gave up after 5 attempts"):
        await client.get_group("gnome")


def test_projects_convert_to_repository_facts() -> None:
    wire = json.dumps({"id": 7, "path": "Linter", "path_with_namespace": "acme/tools/Linter",
                       "namespace": {"id": 3, "full_path": "acme/tools"}, "archived": True, "star_count": 4,
                       "last_activity_at": "2025-01-02T03:04:05.000Z", "description": "lint"})
    meta = convert_project(msgspec.json.decode(wire, type=WireProject))
    assert meta is not None
    assert (meta.platform_id, meta.owner, meta.name, meta.is_archived, meta.stars, meta.description) == (
        7, "acme/tools", "Linter", True, 4, "lint")
    assert meta.pushed_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    # A path GitLab would not make cannot become a repository URL: left out.
    odd = msgspec.json.decode(json.dumps({"id": 8, "path": "x y", "path_with_namespace": "acme/x y"}), type=WireProject)
    assert convert_project(odd) is None
