"""The fake GitLab behaves as GitLab's REST v4 does for groups: defaults (no subgroups, shared
projects included, created_at desc, 20 a page), filters, paging headers, tokens in either
header, 401, private groups, and 429 with Retry-After once the minute's quota is spent."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.fakeforge import FakeGitLab, GitLabDataset

TOKEN = "glpat-fakeUnitToken"


@pytest.fixture
def forge() -> Iterator[FakeGitLab]:
    data = GitLabDataset()
    for i in range(23):
        data.add_project(f"grp/p{i:02d}", archived=i % 10 == 0)
    data.add_project("grp/sub/inner")
    data.add_project("other/shared")
    data.share_project("other/shared", "grp")
    with FakeGitLab(data, tokens={TOKEN}) as fake:
        yield fake


def get(forge: FakeGitLab, path: str, headers: dict[str, str] | None = None, **params: str) -> httpx.Response:
    return httpx.get(f"{forge.api_url}{path}", params=params,
                     headers={"PRIVATE-TOKEN": TOKEN} if headers is None else headers)


def names(response: httpx.Response) -> list[str]:
    return [p["path_with_namespace"] for p in response.json()]


def test_defaults_are_gitlabs(forge: FakeGitLab) -> None:
    first = get(forge, "/groups/grp/projects")
    assert first.status_code == 200 and len(first.json()) == 20
    assert (first.headers["x-total"], first.headers["x-total-pages"], first.headers["x-next-page"]) == ("24", "2", "2")
    assert names(first)[0] == "other/shared"  # shared projects included, newest first
    assert "grp/sub/inner" not in names(first) + names(get(forge, "/groups/grp/projects", page="2"))
    assert 'rel="next"' in first.headers["link"]
    last = get(forge, "/groups/grp/projects", page="2")
    assert last.headers["x-next-page"] == "" and 'rel="next"' not in last.headers.get("link", "")


def test_filters_and_orders(forge: FakeGitLab) -> None:
    everything = get(forge, "/groups/grp/projects", include_subgroups="true", with_shared="false", order_by="id",
                     sort="asc", per_page="100")
    assert names(everything)[0] == "grp/p00" and names(everything)[-1] == "grp/sub/inner"
    assert len(names(everything)) == 24
    archived = get(forge, "/groups/grp/projects", archived="true", with_shared="false")
    assert sorted(names(archived)) == ["grp/p00", "grp/p10", "grp/p20"]
    assert get(forge, "/groups/grp/projects", order_by="stars").status_code == 400


def test_groups_by_path_or_id_and_tokens_in_either_header(forge: FakeGitLab) -> None:
    group = get(forge, "/groups/grp%2Fsub").json()
    assert group["full_path"] == "grp/sub" and group["parent_id"] is not None
    assert get(forge, f"/groups/{group['id']}", headers={"Authorization": f"Bearer {TOKEN}"}).json() == group
    assert get(forge, "/groups/GRP%2FSub").json()["id"] == group["id"]
    assert get(forge, "/groups/nope").json() == {"message": "404 Group Not Found"}
    assert get(forge, "/groups/grp", headers={"PRIVATE-TOKEN": "wrong"}).status_code == 401
    assert [r.token for r in forge.requests[:2]] == [TOKEN, TOKEN]


def test_private_groups_are_hidden_from_anonymous_requests(forge: FakeGitLab) -> None:
    forge.dataset.add_group("grp/hidden", visibility="private")
    forge.dataset.add_project("grp/hidden/x")
    assert get(forge, "/groups/grp%2Fhidden", headers={}).status_code == 404
    assert "grp/hidden/x" not in names(get(forge, "/groups/grp/projects", headers={}, include_subgroups="true",
                                            per_page="100"))
    assert get(forge, "/groups/grp%2Fhidden").status_code == 200


def test_the_minutes_quota_then_429_with_retry_after(forge: FakeGitLab) -> None:
    forge.rate_limit = 2
    assert get(forge, "/groups/grp").headers["ratelimit-remaining"] == "1"
    assert get(forge, "/groups/grp").headers["ratelimit-remaining"] == "0"
    limited = get(forge, "/groups/grp")
    assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["ratelimit-remaining"] == "0" and int(limited.headers["ratelimit-reset"]) > 0
