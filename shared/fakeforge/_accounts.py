"""Account routes of the fake forge: an account, what it owns, and its public events.

    GET /users/{login}                   a user or an organization (``type`` says which)
    GET /orgs/{org}/repos                an organization's repositories (type, sort, direction)
    GET /users/{login}/repos             a user's repositories (type=owner|all|member)
    GET /users/{login}/events/public     public events, newest first, at most 300

Pure: the Api (``_api.py``) pages the lists; the server adds ETags and rate limits.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shared.fakeforge import _paging as paging
from shared.fakeforge._paging import QueryPairs
from shared.fakeforge._shapes import API
from shared.fakeforge.dataset import Dataset, Json

ORG_REPOS_PATH = re.compile(r"^/orgs/(?P<login>[^/]+)/repos$")
USER_REPOS_PATH = re.compile(r"^/users/(?P<login>[^/]+)/repos$")
USER_EVENTS_PATH = re.compile(r"^/users/(?P<login>[^/]+)/events/public$")
# GitHub: "Only events created within the past 90 days will be included ... not more than 300".
EVENTS_CAP = 300
# Keys of the full repository object that GitHub's repository lists leave out.
_NOT_LISTED = ("network_count", "subscribers_count", "organization", "parent", "source", "temp_clone_token")
EVENT_TYPES = ("PushEvent", "IssuesEvent", "IssueCommentEvent", "PullRequestEvent", "PullRequestReviewEvent",
               "WatchEvent", "ForkEvent", "CreateEvent", "ReleaseEvent")


def find_account(dataset: Dataset, login: str) -> Json | None:
    """A known account: a repository owner, a participant, or an organization member."""
    wanted = login.lower()
    for repo in dataset.repositories.values():
        owner = repo.repository["owner"]
        if owner["login"].lower() == wanted:
            return owner  # type: ignore[no-any-return]
    return next((u for u in dataset.distinct_users().values() if u["login"].lower() == wanted), None)


def listed_repo(repository: Json) -> Json:
    return {key: value for key, value in repository.items() if key not in _NOT_LISTED}


def owned_repos(dataset: Dataset, login: str, query: QueryPairs, *, organization: bool) -> list[Json] | None:
    """The account's repositories sorted as asked; None when the account is unknown (404)."""
    account = find_account(dataset, login)
    if account is None or (account.get("type") == "Organization") != organization:
        return None
    if organization:
        paging.choice(query, "type", ("all", "public", "private", "forks", "sources", "member"), "all")
        default_sort = "created"
    else:
        paging.choice(query, "type", ("all", "owner", "member"), "owner")
        default_sort = "full_name"
    sort = paging.choice(query, "sort", ("created", "updated", "pushed", "full_name"), default_sort)
    # GitHub: "Default: asc when using full_name, otherwise desc".
    direction = paging.choice(query, "direction", ("asc", "desc"), "asc" if sort == "full_name" else "desc")
    wanted = login.lower()
    repos = [listed_repo(r.repository) for r in dataset.repositories.values()
             if r.repository["owner"]["login"].lower() == wanted]
    keys: dict[str, Callable[[Json], Any]] = {
        "created": lambda r: (r["created_at"], r["id"]), "updated": lambda r: (r["updated_at"], r["id"]),
        "pushed": lambda r: (r["pushed_at"] or "", r["id"]), "full_name": lambda r: r["full_name"].lower(),
    }
    return sorted(repos, key=keys[sort], reverse=direction == "desc")


def public_events(dataset: Dataset, login: str) -> list[Json] | None:
    if find_account(dataset, login) is None:
        return None
    return dataset.find_user_events(login)[:EVENTS_CAP]


# ------------------------------------------------------------------ generation


def event_json(event_id: int, kind: str, actor: Json, repo_full_name: str, repo_id: int, created_at: str) -> Json:
    """GitHub's event shape (``/users/{login}/events/public``)."""
    owner = repo_full_name.split("/", 1)[0]
    event: Json = {
        "id": str(event_id),
        "type": kind,
        "actor": {"id": actor["id"], "login": actor["login"], "display_login": actor["login"], "gravatar_id": "",
                  "url": f"{API}/users/{actor['login']}", "avatar_url": actor.get("avatar_url", "")},
        "repo": {"id": repo_id, "name": repo_full_name, "url": f"{API}/repos/{repo_full_name}"},
        "payload": {"action": "started"} if kind == "WatchEvent" else {},
        "public": True,
        "created_at": created_at,
    }
    if owner.endswith("-org"):
        event["org"] = {"id": repo_id // 7, "login": owner, "gravatar_id": "", "url": f"{API}/orgs/{owner}",
                        "avatar_url": ""}
    return event


def generate_public_events(seed: int, actor: Json, count: int, *, end: str = "2025-05-31T18:00:00Z",
                           elsewhere: int = 5) -> list[Json]:
    """``count`` public events of ``actor``, newest first, spread over repositories of other
    accounts (``elsewhere`` of them) in the 90 days before ``end``."""
    rng = random.Random(f"{seed}:{actor['login']}:events")
    repos = [(f"{rng.choice(('open', 'ext', 'lab'))}{i}-org/project-{rng.randrange(1000)}", 500_000_000 + rng.randrange(10**8))
             for i in range(elsewhere)]
    newest = datetime.fromisoformat(end.replace("Z", "+00:00"))
    moments = sorted((newest - timedelta(seconds=rng.uniform(0, 90 * 86400)) for _ in range(count)), reverse=True)
    events = []
    for moment in moments:
        name, repo_id = rng.choice(repos)
        events.append(event_json(30_000_000_000 + rng.randrange(10**9), rng.choice(EVENT_TYPES), actor, name, repo_id,
                                 moment.strftime("%Y-%m-%dT%H:%M:%SZ")))
    return events
