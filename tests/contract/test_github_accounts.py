"""Account reads (an organization's or user's repositories, a person's public events): the
GitHub client against the fake forge over real HTTP, and the fake's shapes against GitHub's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.errors import NotFoundError
from shared.fakeforge import Dataset, FakeForge, generate_dataset, generate_public_events
from shared.fakeforge._accounts import listed_repo
from shared.fakeforge._shapes import user_json
from shared.forge.github import GitHubClient, Listing
from shared.forge.github.accounts import EVENTS_MAX_PAGES, EVENTS_PAGE, AccountsClient

REFERENCE = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "examples"  # copies: runs from a clone
TOKEN = "ghp_accountsContractToken000000000000000"
ALICE = user_json("alice-dev", 4242)


def org_dataset(names: list[str]) -> Dataset:
    dataset = Dataset()
    for i, name in enumerate(names):
        dataset.merge(generate_dataset(30 + i, "acme", name, n_users=2, n_issues=1, n_pulls=0, n_comments=0,
                                       n_releases=0))
    return dataset


@pytest.fixture
async def setup() -> AsyncIterator[tuple[FakeForge, AccountsClient]]:
    dataset = org_dataset(["zeta", "alpha", "Mid", "beta", "omega"])
    dataset.rename_repo("acme/omega", "alice-dev/omega", owner=ALICE)  # transferred to a user
    with FakeForge(dataset) as forge:
        client = GitHubClient(forge.base_url, [TOKEN], per_page=2)
        try:
            yield forge, AccountsClient(client)
        finally:
            await client.aclose()


async def listing(accounts: AccountsClient, login: str, etag: str | None = None) -> tuple[list[str], Listing]:
    account = await accounts.get_account(login)
    seen = Listing(sent_etag=etag)
    names = [f"{r.owner}/{r.name}" async for page in accounts.iter_repos(account, seen) for r in page]
    return names, seen


async def test_an_organization_lists_its_repositories_by_name_over_pages(setup: tuple[FakeForge, AccountsClient]) -> None:
    forge, accounts = setup
    account = await accounts.get_account("ACME")
    assert (account.login, account.kind, account.is_organization) == ("acme", "Organization", True)
    names, _ = await listing(accounts, "acme")
    assert names == ["acme/alpha", "acme/beta", "acme/Mid", "acme/zeta"]
    asked = [r for r in forge.requests if r.path == "/orgs/acme/repos"]
    assert len(asked) == 2  # two pages of two, by Link
    assert asked[0].query == {"type": "all", "sort": "full_name", "direction": "asc", "per_page": "2"}


async def test_a_user_lists_the_repositories_it_owns(setup: tuple[FakeForge, AccountsClient]) -> None:
    forge, accounts = setup
    assert (await accounts.get_account("alice-dev")).is_organization is False
    names, _ = await listing(accounts, "alice-dev")
    assert names == ["alice-dev/omega"]
    assert [r.query["type"] for r in forge.requests if r.path == "/users/alice-dev/repos"] == ["owner"]


async def test_unknown_accounts_are_not_found(setup: tuple[FakeForge, AccountsClient]) -> None:
    _, accounts = setup
    with pytest.raises(NotFoundError):
        await accounts.get_account("nobody-here")


async def test_an_unchanged_one_page_listing_is_a_free_304(setup: tuple[FakeForge, AccountsClient]) -> None:
    forge, accounts = setup
    accounts.client.per_page = 100
    names, first = await listing(accounts, "acme")
    assert len(names) == 4 and first.etag
    again, second = await listing(accounts, "acme", etag=first.etag)
    assert again == [] and second.not_modified
    assert forge.requests[-1].status == 304
    # A repository created meanwhile changes the page: read in full again.
    forge.dataset.merge(generate_dataset(99, "acme", "new-one", n_users=1, n_issues=0, n_pulls=0, n_comments=0,
                                         n_releases=0))
    changed, third = await listing(accounts, "acme", etag=first.etag)
    assert "acme/new-one" in changed and not third.not_modified


async def test_renames_keep_the_id_and_deleted_repositories_leave_the_listing(
        setup: tuple[FakeForge, AccountsClient]) -> None:
    forge, accounts = setup
    before = {r.name: r.platform_id async for page in accounts.iter_repos(await accounts.get_account("acme"),
                                                                            Listing()) for r in page}
    forge.dataset.rename_repo("acme/beta", "acme/gamma")
    forge.dataset.remove_repo("acme/zeta")
    after = {r.name: r.platform_id async for page in accounts.iter_repos(await accounts.get_account("acme"),
                                                                           Listing()) for r in page}
    assert set(after) == {"alpha", "gamma", "Mid"}
    assert after["gamma"] == before["beta"]


async def test_public_events_are_read_newest_first_capped_and_conditionally(
        setup: tuple[FakeForge, AccountsClient]) -> None:
    forge, accounts = setup
    forge.dataset.user_events["alice-dev"] = generate_public_events(5, ALICE, 350)
    accounts.client.per_page = 100
    events = await accounts.public_events("Alice-Dev", None)
    assert len(events.items) == EVENTS_PAGE * EVENTS_MAX_PAGES == 300
    assert [e.created_at for e in events.items] == sorted((e.created_at for e in events.items), reverse=True)
    first = events.items[0]
    raw = forge.dataset.user_events["alice-dev"][0]
    assert (first.platform_id, first.type, first.repo_name, first.repo_platform_id) == (
        int(raw["id"]), raw["type"], raw["repo"]["name"], raw["repo"]["id"])
    assert first.actor is not None and first.actor.login == "alice-dev"
    again = await accounts.public_events("alice-dev", events.etag)
    assert again.not_modified and again.items == []
    gone = await accounts.public_events("nobody-here", None)
    assert gone.missing and gone.items == []
    quiet = await accounts.public_events("acme", None)  # an account with no events
    assert quiet.items == [] and not quiet.missing


def test_listed_repositories_have_the_shape_of_github_repository_lists() -> None:
    full = json.loads((REFERENCE / "full-repository.json").read_text())
    dataset = org_dataset(["one"])
    item = listed_repo(dataset.repositories["acme/one"].repository)
    # What the collector reads is there; what only the single-repository view has is not.
    assert {"id", "node_id", "name", "full_name", "owner", "html_url", "fork", "archived", "pushed_at"} <= set(item)
    assert not {"network_count", "subscribers_count", "organization"} & set(item)
    # Every key is one GitHub documents for repositories (the 2020 example lacks a few newer ones).
    newer = {"topics", "visibility", "license", "language", "forks", "open_issues", "watchers", "allow_forking",
             "is_template", "web_commit_signoff_required", "has_discussions", "permissions"}
    assert set(item) <= set(full) | newer


def test_events_have_github_s_event_shape() -> None:
    (event,) = generate_public_events(1, ALICE, 1)
    assert set(event) >= {"id", "type", "actor", "repo", "payload", "public", "created_at"}
    assert isinstance(event["id"], str) and event["id"].isdigit()
    assert set(event["actor"]) == {"id", "login", "display_login", "gravatar_id", "url", "avatar_url"}
    assert set(event["repo"]) == {"id", "name", "url"} and "/" in event["repo"]["name"]
