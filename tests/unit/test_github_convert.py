"""GitHub wire shapes → v1 structs, against GitHub's documented examples and hand-made edge cases.

Also covers the pure HTTP helpers and the token pool's bookkeeping that the client relies on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from shared.errors import (
    AuthError,
    BlockedError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    TransientError,
)
from shared.events.v1 import Comment, Issue, PullRequest, RepoMeta, encoder
from shared.forge.github import wire
from shared.forge.github.convert import (
    convert_comments,
    convert_issue,
    convert_issues,
    convert_pulls,
    convert_repo,
    convert_user,
    parent_number,
)
from shared.forge.github.gqlconvert import git_user
from shared.forge.github.gqlwire import GqlGitActor
from shared.forge.http import backoff_delay, error_for_status, parse_link_header
from shared.forge.ratelimit import TokenPool, token_label

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "github" / "examples"
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def example(name: str) -> bytes:
    return (EXAMPLES / f"{name}.json").read_bytes()


def user_json(login: str, type_: str = "User", id_: int = 7) -> dict[str, object]:
    return {"login": login, "id": id_, "node_id": "N", "type": type_, "site_admin": False}


def issue_json(number: int, **extra: object) -> dict[str, object]:
    return {"id": 100 + number, "number": number, "title": f"t{number}", "state": "open", **extra}


# ------------------------------------------------------------------ documented examples


def test_issue_example() -> None:
    issue = convert_issue(msgspec.json.decode(example("issue"), type=wire.WireIssue))
    assert issue.platform_id == 1 and issue.number == 1347
    assert issue.title == "Found a bug" and issue.state == "open" and issue.locked
    assert issue.author is not None and issue.author.login == "octocat" and issue.author.kind == "User"
    assert issue.closed_by is not None and issue.closed_by.platform_id == 1
    assert [u.login for u in issue.assignees] == ["octocat"]
    assert [(lb.name, lb.color, lb.platform_id) for lb in issue.labels] == [("bug", "f29513", 208045946)]
    assert issue.milestone == "v1.0"
    assert issue.created_at == datetime(2011, 4, 22, 13, 33, 48, tzinfo=UTC)
    # The example carries a pull_request marker: as an issues-list item it is a PR, not an issue.
    assert convert_issues([msgspec.json.decode(example("issue"), type=wire.WireIssue)]) == []


def test_pull_request_simple_items_example() -> None:
    pulls = convert_pulls(wire.pulls_decoder.decode(example("pull-request-simple-items")))
    assert len(pulls) == 1
    pull = pulls[0]
    assert (pull.platform_id, pull.number, pull.state) == (1, 1347, "open")
    assert pull.merged_at == datetime(2011, 1, 26, 19, 1, 12, tzinfo=UTC)
    assert pull.merge_commit_sha == "e5bd3914e2e596debea16f433f57875b5b90bcd6"
    assert (pull.head_ref, pull.head_sha, pull.head_repo) == (
        "new-topic",
        "6dcb09b5b57875f334f61aebed695e2e4193db5e",
        "octocat/Hello-World",
    )
    assert (pull.base_ref, pull.base_sha) == ("master", "6dcb09b5b57875f334f61aebed695e2e4193db5e")
    assert [u.login for u in pull.requested_reviewers] == ["other_user"]
    assert pull.author_association == "OWNER" and pull.draft is False and pull.milestone == "v1.0"


def test_issue_comment_items_example() -> None:
    comments = convert_comments(wire.comments_decoder.decode(example("issue-comment-items")))
    assert comments == [
        Comment(
            platform_id=1,
            parent_number=1347,
            node_id="MDEyOklzc3VlQ29tbWVudDE=",
            body="Me too",
            author=comments[0].author,
            author_association="collaborator",
            html_url="https://github.com/octocat/Hello-World/issues/1347#issuecomment-1",
            created_at=datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC),
            updated_at=datetime(2011, 4, 14, 16, 0, 49, tzinfo=UTC),
        )
    ]
    assert comments[0].author is not None and comments[0].author.login == "octocat"


def test_full_repository_example() -> None:
    repo = convert_repo(wire.repo_decoder.decode(example("full-repository")))
    assert (repo.platform_id, repo.owner, repo.name) == (1296269, "octocat", "Hello-World")
    assert repo.license == "MIT"
    assert (repo.stars, repo.forks, repo.watchers, repo.open_issues) == (80, 9, 42, 0)
    assert repo.default_branch == "master" and repo.homepage == "https://github.com"
    assert repo.clone_url == "https://github.com/octocat/Hello-World.git"
    assert repo.owner_user is not None and repo.owner_user.login == "octocat"
    assert repo.pushed_at == datetime(2011, 1, 26, 19, 6, 43, tzinfo=UTC)
    assert not (repo.is_fork or repo.is_archived or repo.is_disabled)


def test_simple_user_items_example() -> None:
    users = [convert_user(u) for u in wire.users_decoder.decode(example("simple-user-items"))]
    assert [(u.platform_id, u.login, u.kind) for u in users if u] == [(1, "octocat", "User")]


def test_converted_structs_encode_on_the_wire() -> None:
    repo = convert_repo(wire.repo_decoder.decode(example("full-repository")))
    assert msgspec.json.decode(encoder.encode(repo), type=RepoMeta) == repo


# ------------------------------------------------------------------ edge cases


@pytest.mark.parametrize(
    ("login", "type_", "kind"),
    [
        ("octocat", "User", "User"),
        ("github", "Organization", "Organization"),
        ("dependabot[bot]", "Bot", "Bot"),
        ("renovate[bot]", "User", "Bot"),
        ("some-app", "Bot", "Bot"),
        ("ghost", "User", "Ghost"),
        ("mona", None, "User"),
    ],
)
def test_user_kinds(login: str, type_: str | None, kind: str) -> None:
    payload = {"login": login, "id": 1} | ({"type": type_} if type_ else {})
    user = convert_user(msgspec.convert(payload, wire.WireUser))
    assert user is not None and user.kind == kind


def test_nulls_and_missing_fields_are_tolerated() -> None:
    body = msgspec.json.encode(
        [
            issue_json(
                1,
                user=None,
                closed_by=None,
                assignees=None,
                labels=[{"name": "x", "color": None, "description": None}],
                milestone=None,
                body=None,
                node_id=None,
                future_field={"nested": [1, 2]},
            ),
            issue_json(2),
        ]
    )
    issues = convert_issues(wire.issues_decoder.decode(body))
    assert [i.number for i in issues] == [1, 2]
    assert issues[0].author is None and issues[0].assignees == [] and issues[0].labels[0].color == ""
    assert issues[1] == Issue(platform_id=102, number=2, title="t2", state="open")


def test_issues_list_drops_pull_requests() -> None:
    body = msgspec.json.encode([issue_json(1), issue_json(2, pull_request={"url": "u"}), issue_json(3)])
    assert [i.number for i in convert_issues(wire.issues_decoder.decode(body))] == [1, 3]


def test_closed_and_merged_pull_with_deleted_fork() -> None:
    body = msgspec.json.encode(
        [
            {
                "id": 9,
                "number": 5,
                "title": "t",
                "state": "closed",
                "draft": None,
                "user": user_json("ghost", id_=10137),
                "merged_at": "2020-02-02T00:00:00Z",
                "closed_at": "2020-02-02T00:00:00Z",
                "head": {"ref": "feature", "sha": "a" * 40, "repo": None},
                "base": {"ref": "main", "sha": "b" * 40, "repo": {"id": 1, "name": "r", "full_name": "o/r"}},
            }
        ]
    )
    (pull,) = convert_pulls(wire.pulls_decoder.decode(body))
    assert isinstance(pull, PullRequest)
    assert pull.state == "closed" and pull.merged_at == datetime(2020, 2, 2, tzinfo=UTC)
    assert pull.head_repo is None and pull.head_ref == "feature" and pull.base_ref == "main"
    assert pull.author is not None and pull.author.kind == "Ghost" and pull.draft is False


@pytest.mark.parametrize(
    ("license_json", "expected"),
    [
        ({"key": "mit", "spdx_id": "MIT"}, "MIT"),
        ({"key": "other", "spdx_id": "NOASSERTION"}, "other"),
        ({"key": "apache-2.0", "spdx_id": None}, "apache-2.0"),
        (None, None),
    ],
)
def test_license(license_json: dict[str, object] | None, expected: str | None) -> None:
    payload = {"id": 1, "name": "r", "owner": user_json("o"), "license": license_json}
    assert convert_repo(msgspec.convert(payload, wire.WireRepo)).license == expected


def test_parent_number() -> None:
    assert parent_number("https://api.github.com/repos/o/r/issues/42") == 42
    with pytest.raises(FatalError):
        parent_number("https://api.github.com/repos/o/r/issues/")


# ------------------------------------------------------------------ http helpers


def test_parse_link_header() -> None:
    value = (
        '<https://api.github.com/repositories/1000/issues?per_page=3&page=1>; rel="prev", '
        '<https://api.github.com/repositories/1000/issues?per_page=3&page=3>; rel="next", '
        '<https://api.github.com/repositories/1000/issues?per_page=3&page=5>; rel="last"'
    )
    links = parse_link_header(value)
    assert links["next"].endswith("page=3") and links["prev"].endswith("page=1") and set(links) == {"prev", "next", "last"}
    assert parse_link_header(None) == {} and parse_link_header("") == {}
    assert parse_link_header("<a>; rel=next, <b>; rel=\"last first\"") == {"next": "a", "last": "b", "first": "b"}


@pytest.mark.parametrize(
    ("status", "headers", "body", "kind"),
    [
        (200, {}, b"[]", None),
        (404, {}, b'{"message":"Not Found"}', NotFoundError),
        (410, {}, b"", NotFoundError),
        (451, {}, b'{"message":"Repository access blocked","block":{"reason":"dmca"}}', BlockedError),
        (403, {}, b'{"message":"Repository access blocked","block":{"reason":"tos"}}', BlockedError),
        (401, {}, b'{"message":"Bad credentials"}', AuthError),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1704070800"}, b"{}", RateLimitedError),
        (403, {"retry-after": "30"}, b"{}", RateLimitedError),
        (403, {}, b'{"message":"You have exceeded a secondary rate limit."}', RateLimitedError),
        (429, {}, b"", RateLimitedError),
        (403, {}, b'{"message":"Resource not accessible by integration"}', FatalError),
        (422, {}, b'{"message":"Validation Failed"}', FatalError),
        (500, {}, b"oops", TransientError),
        (502, {}, b"<html>", TransientError),
    ],
)
def test_status_table(status: int, headers: dict[str, str], body: bytes, kind: type | None) -> None:
    error = error_for_status(status, headers, body, what="github.com/o/r", noun="repository", now=NOW)
    if kind is None:
        assert error is None
        return
    assert type(error) is kind and error.status == status
    assert str(error).startswith("github.com/o/r: repository ") and f"HTTP {status}" in str(error)


def test_rate_limit_retry_at() -> None:
    after = error_for_status(429, {"retry-after": "30"}, b"", what="w", now=NOW)
    assert isinstance(after, RateLimitedError) and after.retry_at == datetime(2024, 1, 1, 0, 0, 30, tzinfo=UTC)
    reset = error_for_status(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1704070800"}, b"", what="w", now=NOW)
    assert isinstance(reset, RateLimitedError) and reset.retry_at == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)


def test_backoff_is_exponential_jittered_and_capped() -> None:
    assert [backoff_delay(n, rand=lambda: 0.0) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert [backoff_delay(n, rand=lambda: 1.0) for n in range(4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_delay(30, cap=60.0, rand=lambda: 1.0) == 60.0


# ------------------------------------------------------------------ token pool bookkeeping


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_pool_prefers_the_token_with_most_budget() -> None:
    pool = TokenPool(["tok-a", "tok-b"], clock=Clock())
    pool.update("tok-a", {"x-ratelimit-remaining": "10", "x-ratelimit-reset": "2000", "x-ratelimit-resource": "core"})
    pool.update("tok-b", {"x-ratelimit-remaining": "900", "x-ratelimit-reset": "2000", "x-ratelimit-resource": "core"})
    assert pool.choose("core").token == "tok-b"
    # Buckets are separate: search budget of tok-b says nothing about core.
    pool.update("tok-b", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1500", "x-ratelimit-resource": "search"})
    assert pool.choose("core").token == "tok-b" and pool.choose("search").token == "tok-a"


def test_pool_waits_until_the_earliest_reset_then_recovers() -> None:
    clock = Clock()
    pool = TokenPool(["tok-a", "tok-b"], clock=clock)
    pool.spend("tok-a", "core", 1_300.0)
    pool.spend("tok-b", "core", 1_100.0)
    choice = pool.choose("core")
    assert choice.token == "tok-b" and 100.0 <= choice.wait <= 102.0
    clock.now = 1_101.0
    assert pool.choose("core").wait == 0 and pool.choose("core").token == "tok-b"


def test_pool_retires_refused_tokens_by_label() -> None:
    seen: list[str] = []
    pool = TokenPool(["tok-a", "tok-b"], on_retire=seen.append)
    pool.retire("tok-a")
    assert seen == [token_label("tok-a")] and seen[0].startswith("tok#") and "tok-a" not in seen[0]
    assert pool.choose("core").token == "tok-b" and pool.retired == 1
    pool.retire("tok-b")
    with pytest.raises(AuthError) as info:
        pool.choose("core")
    assert "tok-a" not in str(info.value) and "tok-b" not in str(info.value)


def test_anonymous_pool() -> None:
    pool = TokenPool([])
    assert pool.anonymous and pool.choose("core").token is None and token_label(None) == "anonymous"
    pool.retire(None)
    assert pool.choose("core").token is None


@pytest.mark.parametrize(
    ("email", "kind"),
    [
        ("49699333+dependabot[bot]@users.noreply.github.com", "Bot"),
        ("49699333+dependabot[bot]@users.noreply.ghe.example.com", "Bot"),  # an Enterprise server's domain
        ("49699333+dependabot[bot]@example.com", "User"),
        ("1+dependabot[bot]@users.noreply.github.com", "User"),  # another account's id
    ],
)
def test_an_apps_commits_are_told_by_its_noreply_address_on_any_host(email: str, kind: str) -> None:
    actor = {"__typename": "User", "login": "dependabot", "databaseId": 49699333, "id": "U_1", "avatarUrl": "", "url": ""}
    user = git_user(msgspec.convert({"name": "dependabot[bot]", "email": email, "user": actor}, GqlGitActor))
    assert user is not None and user.kind == kind
