"""JSON shape builders for GitHub REST objects.

Pure functions: given plain values they return dicts shaped like GitHub's REST responses
(checked against shared/reference/github/examples). The generator in dataset.py decides the
values; this module only knows the shapes, so a shape fix never touches generation logic.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

API = "https://api.github.com"
WEB = "https://github.com"

Json = dict[str, Any]


def legacy_node_id(kind: str, number: int) -> str:
    # GitHub's legacy global ids are base64("<len(kind):02d>:<kind><id>"); clients sometimes
    # decode them, so fake ones must decode the same way.
    raw = f"{len(kind):02d}:{kind}{number}"
    return base64.b64encode(raw.encode()).decode()


def user_json(login: str, user_id: int, *, kind: str = "User") -> Json:
    """Simple-user shape; kind is GitHub's `type`: User, Bot or Organization."""
    url = f"{API}/users/{quote(login)}"
    bot = kind == "Bot"
    return {
        "login": login,
        "id": user_id,
        "node_id": legacy_node_id(kind, user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{WEB}/apps/{login.removesuffix('[bot]')}" if bot else f"{WEB}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "site_admin": False,
    }


def label_json(full_name: str, label_id: int, name: str, color: str, description: str | None,
               default: bool) -> Json:
    return {
        "id": label_id,
        "node_id": legacy_node_id("Label", label_id),
        "url": f"{API}/repos/{full_name}/labels/{quote(name)}",
        "name": name,
        "color": color,
        "default": default,
        "description": description,
    }


def repo_json(repo_id: int, owner: Json, name: str, *, description: str | None, fork: bool,
              created_at: str, updated_at: str, pushed_at: str, open_issues: int,
              stargazers: int, forks: int, language: str | None, topics: list[str]) -> Json:
    full_name = f"{owner['login']}/{name}"
    api = f"{API}/repos/{full_name}"
    html = f"{WEB}/{full_name}"
    templated = {
        "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}", "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}", "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "contributors_url": "/contributors",
        "deployments_url": "/deployments", "downloads_url": "/downloads", "events_url": "/events",
        "forks_url": "/forks", "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}", "git_tags_url": "/git/tags{/sha}",
        "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}", "languages_url": "/languages", "merges_url": "/merges",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}", "releases_url": "/releases{/id}",
        "stargazers_url": "/stargazers", "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers", "subscription_url": "/subscription", "tags_url": "/tags",
        "teams_url": "/teams", "trees_url": "/git/trees{/sha}", "hooks_url": "/hooks",
    }
    repo: Json = {
        "id": repo_id,
        "node_id": legacy_node_id("Repository", repo_id),
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": owner,
        "html_url": html,
        "description": description,
        "fork": fork,
        "url": api,
    }
    repo.update({key: api + suffix for key, suffix in templated.items()})
    repo.update({
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"{html}.git",
        "svn_url": html,
        "mirror_url": None,
        "homepage": None,
        "language": language,
        "forks_count": forks,
        "stargazers_count": stargazers,
        "watchers_count": stargazers,
        "size": 1024,
        "default_branch": "main",
        "open_issues_count": open_issues,
        "is_template": False,
        "topics": topics,
        "has_issues": True,
        "has_projects": True,
        "has_wiki": False,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "public",
        "pushed_at": pushed_at,
        "created_at": created_at,
        "updated_at": updated_at,
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT",
                    "url": f"{API}/licenses/mit", "node_id": "MDc6TGljZW5zZW1pdA=="},
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "forks": forks,
        "open_issues": open_issues,
        "watchers": stargazers,
        "network_count": forks,
        "subscribers_count": max(1, stargazers // 4),
    })
    return repo


def reactions_json(item_api_url: str, counts: dict[str, int]) -> Json:
    keys = ("+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes")
    body: Json = {"url": f"{item_api_url}/reactions", "total_count": sum(counts.values())}
    body.update({key: counts.get(key, 0) for key in keys})
    return body


def issue_json(full_name: str, issue_id: int, number: int, *, title: str, body: str | None,
               user: Json | None, labels: list[Json], assignees: list[Json], state: str,
               state_reason: str | None, locked: bool, comments: int, created_at: str,
               updated_at: str, closed_at: str | None, closed_by: Json | None,
               author_association: str, reactions: dict[str, int],
               pull: Json | None = None, draft: bool | None = None) -> Json:
    api = f"{API}/repos/{full_name}"
    url = f"{api}/issues/{number}"
    issue: Json = {
        "url": url,
        "repository_url": api,
        "labels_url": f"{url}/labels{{/name}}",
        "comments_url": f"{url}/comments",
        "events_url": f"{url}/events",
        "html_url": f"{WEB}/{full_name}/{'pull' if pull else 'issues'}/{number}",
        "id": issue_id,
        "node_id": legacy_node_id("Issue", issue_id),
        "number": number,
        "title": title,
        "user": user,
        "labels": labels,
        "state": state,
        "locked": locked,
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "milestone": None,
        "comments": comments,
        "created_at": created_at,
        "updated_at": updated_at,
        "closed_at": closed_at,
        "author_association": author_association,
        "active_lock_reason": "too heated" if locked else None,
    }
    if pull is not None:
        issue["draft"] = bool(draft)
        issue["pull_request"] = {
            "url": f"{api}/pulls/{number}",
            "html_url": f"{WEB}/{full_name}/pull/{number}",
            "diff_url": f"{WEB}/{full_name}/pull/{number}.diff",
            "patch_url": f"{WEB}/{full_name}/pull/{number}.patch",
            "merged_at": pull["merged_at"],
        }
    issue.update({
        "body": body,
        "closed_by": closed_by,
        "reactions": reactions_json(url, reactions),
        "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None,
        "state_reason": state_reason,
    })
    return issue


def branch_json(label_owner: str, ref: str, sha: str, user: Json | None, repo: Json | None) -> Json:
    return {"label": f"{label_owner}:{ref}", "ref": ref, "sha": sha, "user": user, "repo": repo}


def pull_json(full_name: str, pull_id: int, number: int, *, issue: Json, merged_at: str | None,
              merge_commit_sha: str | None, draft: bool, requested_reviewers: list[Json],
              head: Json, base: Json) -> Json:
    api = f"{API}/repos/{full_name}"
    url = f"{api}/pulls/{number}"
    html = f"{WEB}/{full_name}/pull/{number}"
    statuses = f"{api}/statuses/{head['sha']}"
    return {
        "url": url,
        "id": pull_id,
        "node_id": legacy_node_id("PullRequest", pull_id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{number}",
        "number": number,
        "state": issue["state"],
        "locked": issue["locked"],
        "title": issue["title"],
        "user": issue["user"],
        "body": issue["body"],
        "created_at": issue["created_at"],
        "updated_at": issue["updated_at"],
        "closed_at": issue["closed_at"],
        "merged_at": merged_at,
        "merge_commit_sha": merge_commit_sha,
        "assignee": issue["assignee"],
        "assignees": issue["assignees"],
        "requested_reviewers": requested_reviewers,
        "requested_teams": [],
        "labels": issue["labels"],
        "milestone": None,
        "draft": draft,
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{number}/comments",
        "statuses_url": statuses,
        "head": head,
        "base": base,
        "_links": {
            "self": {"href": url},
            "html": {"href": html},
            "issue": {"href": f"{api}/issues/{number}"},
            "comments": {"href": f"{api}/issues/{number}/comments"},
            "review_comments": {"href": f"{url}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{url}/commits"},
            "statuses": {"href": statuses},
        },
        "author_association": issue["author_association"],
        "auto_merge": None,
        "active_lock_reason": issue["active_lock_reason"],
    }


def comment_json(full_name: str, comment_id: int, issue_number: int, *, body: str,
                 user: Json | None, created_at: str, updated_at: str, author_association: str,
                 reactions: dict[str, int]) -> Json:
    api = f"{API}/repos/{full_name}"
    url = f"{api}/issues/comments/{comment_id}"
    return {
        "url": url,
        "html_url": f"{WEB}/{full_name}/issues/{issue_number}#issuecomment-{comment_id}",
        "issue_url": f"{api}/issues/{issue_number}",
        "id": comment_id,
        "node_id": legacy_node_id("IssueComment", comment_id),
        "user": user,
        "created_at": created_at,
        "updated_at": updated_at,
        "author_association": author_association,
        "body": body,
        "reactions": reactions_json(url, reactions),
        "performed_via_github_app": None,
    }
