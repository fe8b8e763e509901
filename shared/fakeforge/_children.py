"""Generated children of a repository: reviews, review comments, PR commits and files,
issue events, releases, contributors, community profile, clone traffic."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.fakeforge import _shapes as shapes
from shared.fakeforge._gencommon import (
    _BOT_COMMENT,
    _SUBJECTS,
    _fmt,
    _parse,
    _People,
    _sha,
)
from shared.fakeforge.dataset import Json, RepoData


@dataclass(frozen=True)
class ChildSpec:
    n_review_comments: int
    reviews_per_pull: tuple[int, int]
    commits_per_pull: tuple[int, int]
    files_per_pull: tuple[int, int]
    events_per_issue: tuple[int, int]
    n_releases: int
    big_prs: int
    big_pr_size: int
    huge_bodies: int


# Id ranges per kind, far apart so that no two kinds of child share an id.
_REVIEW, _REVIEW_COMMENT, _EVENT, _RELEASE = (k * 10**14 for k in (1, 2, 3, 4))
_REVIEW_STATES = ["APPROVED"] * 4 + ["COMMENTED"] * 4 + ["CHANGES_REQUESTED"] * 2 + ["DISMISSED"]
_REVIEW_BODIES = ["", "LGTM 👍", "A few nits, otherwise fine.", "Please add a test for this.",
                  "Ça me semble bon — merci !", "Needs a rebase on main."]
_COMMIT_MESSAGES = [
    "Fix off-by-one in {s}", "Add tests for {s}\n\nCovers the empty and the huge case.",
    "WIP", "Apply review suggestions\n\nCo-authored-by: Zoë Ångström-Núñez <zoe@example.org>",
    "Refactor {s} ✨", "Merge branch 'main' into feature", "Update docs for {s} (日本語)",
]
_FILES = ["src/watershed/collector.py", "src/watershed/cursor.py", "src/watershed/git_log.py",
          "tests/test_collector.py", "docs/日本語.md", "README.md", "pyproject.toml",
          "assets/logo.png", "src/watershed/ratelimit.py", ".github/workflows/ci.yml",
          "CHANGELOG.md", "src/watershed/émoji_🎉.py"]
_REVIEW_COMMENT_BODIES = ["Could this be a constant?", "Nit: typo here.", "Why not `asyncio.timeout`?",
                          "```suggestion\nreturn None\n```", "👀", "Same as above."]
_UNLINKED = ("Zoë Ångström-Núñez", "zoe@example.org")
_HUGE_LINE = "ünïcödé log line 🌊 with enough padding to be a realistic stack trace line\n"


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    return low + timedelta(seconds=rng.uniform(0, max(0.0, (high - low).total_seconds())))


def _window(item: Json) -> tuple[datetime, datetime]:
    """An issue's or PR's activity window: children never postdate its updated_at."""
    return _parse(item["created_at"]), _parse(item["closed_at"] or item["updated_at"])


def add_children(rng: random.Random, repo: RepoData, people: _People, spec: ChildSpec,
                 t0: datetime, t1: datetime) -> list[Json]:
    """Fills repo's children and the PRs' single-PR fields; returns the org's members."""
    pulls = {pull["number"]: pull for pull in repo.pulls}
    big = set(rng.sample(sorted(pulls), min(spec.big_prs, len(pulls))))

    def count(number: int, bounds: tuple[int, int]) -> int:
        return spec.big_pr_size if number in big else rng.randint(*bounds)

    reviews: list[tuple[datetime, int, Json]] = []
    for number, pull in sorted(pulls.items()):
        repo.pr_commits[number] = _pr_commits(rng, repo, people, pull,
                                              count(number, spec.commits_per_pull))
        repo.pr_files[number] = _pr_files(rng, repo.full_name, pull,
                                          count(number, spec.files_per_pull))
        reviews += _pr_reviews(rng, people, pull, repo.pr_commits[number],
                               count(number, spec.reviews_per_pull))
    # Ids grow with time, as GitHub's do.
    for index, (_, number, review) in enumerate(sorted(reviews, key=lambda r: r[:2])):
        _set_id(repo.full_name, review, _REVIEW + repo.repository["id"] * 10**5 + index,
                "PullRequestReview", f"pull/{number}#pullrequestreview-")
    repo.reviews = {number: sorted((r for _, n, r in reviews if n == number),
                                   key=lambda r: r["id"]) for number in sorted(pulls)}
    targets = [n for n in sorted(pulls) if repo.reviews[n]]
    picks = rng.choices(targets, k=spec.n_review_comments) if targets else []
    picks += [n for n in sorted(big) for _ in range(spec.big_pr_size)]
    repo.review_comments = _review_comments(rng, repo, people, picks)
    repo.issue_events = _events(rng, repo, people, spec.events_per_issue)
    repo.releases = _releases(rng, repo.full_name, people, spec.n_releases, t0, t1)
    repo.contributors = _contributors(rng, repo, people)
    repo.community_profile = _community_profile(rng, repo, t1)
    repo.clone_traffic = _clone_traffic(rng, t1)
    for pull in pulls.values():
        _add_pull_details(rng, repo, pull)
    _add_huge_bodies(rng, repo, spec.huge_bodies)
    return sorted((u for u in people.humans if rng.random() < 0.6), key=lambda u: u["id"])


def child_users(repo: RepoData) -> list[Json]:
    found: list[Json | None] = []
    for review in (r for items in repo.reviews.values() for r in items):
        found.append(review["user"])
    for commit in (c for items in repo.pr_commits.values() for c in items):
        found += [commit["author"], commit["committer"]]
    for event in repo.issue_events:
        found += [event["actor"], event.get("assignee"), event.get("assigner")]
    found += [c["user"] for c in repo.review_comments]
    found += [r["author"] for r in repo.releases]
    found += [p["merged_by"] for p in repo.pulls]
    return [user for user in found if user is not None]


def _set_id(full_name: str, item: Json, item_id: int, kind: str, html_suffix: str) -> None:
    item["id"] = item_id
    item["node_id"] = shapes.legacy_node_id(kind, item_id)
    if "html_url" in item:
        item["html_url"] = f"{shapes.WEB}/{full_name}/{html_suffix}{item_id}"
        item["_links"]["html"]["href"] = item["html_url"]


def _association(rng: random.Random, user: Json | None) -> str:
    if user is None or user["login"] == "ghost":
        return "NONE"
    return rng.choice(["OWNER", "MEMBER", "CONTRIBUTOR", "COLLABORATOR", "NONE"])


def _identity(user: Json | None) -> tuple[str, str]:
    if user is None:
        return _UNLINKED
    return (user["login"].replace("-", " ").title(),
            f"{user['id']}+{user['login']}@users.noreply.github.com")


def _pr_commits(rng: random.Random, repo: RepoData, people: _People, pull: Json,
                n: int) -> list[Json]:
    opened, closed = _window(pull)
    moments = sorted(_between(rng, opened - timedelta(days=3), closed) for _ in range(n))
    api = f"{shapes.API}/repos/{repo.full_name}"
    parent = pull["base"]["sha"]
    commits: list[Json] = []
    for index, moment in enumerate(moments):
        # The PR's head is its last commit.
        sha = pull["head"]["sha"] if index == n - 1 else _sha(repo.full_name, pull["number"],
                                                             "commit", index)
        user = pull["user"]
        if user is not None and user["type"] != "Bot" and rng.random() < 0.2:
            user = rng.choice(people.humans)
        if rng.random() < 0.1:
            user = None  # an email GitHub cannot link to an account
        name, email = _identity(user)
        signature = {"name": name, "email": email, "date": _fmt(moment)}
        tree = _sha(sha, "tree")
        message = rng.choice(_COMMIT_MESSAGES).format(s=rng.choice(_SUBJECTS))
        commits.append({
            "sha": sha,
            "node_id": shapes.legacy_node_id("Commit", repo.repository["id"]) + sha[:8],
            "commit": {
                "author": signature, "committer": dict(signature), "message": message,
                "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
                "url": f"{api}/git/commits/{sha}", "comment_count": 0,
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None},
            },
            "url": f"{api}/commits/{sha}",
            "html_url": f"{shapes.WEB}/{repo.full_name}/commit/{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "author": user,
            "committer": user,
            "parents": [{"sha": parent, "url": f"{api}/commits/{parent}",
                         "html_url": f"{shapes.WEB}/{repo.full_name}/commit/{parent}"}],
        })
        parent = sha
    return commits


# One drawn rename in this many stays one (~1 file in 144, a pull request in 20 with a rename):
# renames are rare on GitHub, and each pull request with one costs a REST request for its
# previous paths. Decided by a hash, not the generator's random stream, which stays as it was.
_RENAME_ONE_IN = 16


def _stays_renamed(full_name: str, number: int, filename: str) -> bool:
    return int(_sha(full_name, number, filename, "rename")[:8], 16) % _RENAME_ONE_IN == 0


def _pr_files(rng: random.Random, full_name: str, pull: Json, n: int) -> list[Json]:
    names = rng.sample(_FILES, n) if n <= len(_FILES) else _FILES + [
        f"src/generated/part_{i // 100}/module_{i}.py" for i in range(n - len(_FILES))]
    head = pull["head"]["sha"]
    files: list[Json] = []
    for filename in names:
        status = rng.choice(["modified"] * 5 + ["added"] * 2 + ["removed", "renamed"])
        additions = 0 if status == "removed" else rng.randrange(0 if status == "renamed" else 1,
                                                                200)
        deletions = 0 if status == "added" else rng.randrange(0, 80)
        if status == "renamed" and not _stays_renamed(full_name, pull["number"], filename):
            status = "modified"
        entry: Json = {
            "sha": _sha(full_name, pull["number"], filename),
            "filename": filename,
            "status": status,
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{shapes.WEB}/{full_name}/blob/{head}/{filename}",
            "raw_url": f"{shapes.WEB}/{full_name}/raw/{head}/{filename}",
            "contents_url": f"{shapes.API}/repos/{full_name}/contents/{filename}?ref={head}",
        }
        if not filename.endswith(".png") and additions + deletions:
            # GitHub leaves `patch` out for binary files and huge diffs.
            entry["patch"] = f"@@ -1,{deletions} +1,{additions} @@\n-old line\n+new line 🌊"
        if status == "renamed":
            entry["previous_filename"] = f"old/{filename}"
        files.append(entry)
    return files


def _pr_reviews(rng: random.Random, people: _People, pull: Json, commits: list[Json],
                n: int) -> list[tuple[datetime, int, Json]]:
    opened, closed = _window(pull)
    number = pull["number"]
    url = pull["url"]
    reviews: list[tuple[datetime, int, Json]] = []
    for _ in range(n):
        moment = _between(rng, opened, closed)
        roll = rng.random()
        user: Json | None = rng.choice(people.humans)
        if roll < 0.05:
            user = None
        elif roll < 0.1:
            user = people.ghost
        elif roll < 0.15:
            user = people.actions
        state = "COMMENTED" if user is people.actions else rng.choice(_REVIEW_STATES)
        html = f"{pull['html_url']}#pullrequestreview-0"  # ids are set once all are known
        reviews.append((moment, number, {
            "id": 0, "node_id": "", "user": user,
            "body": _BOT_COMMENT if user is people.actions else rng.choice(_REVIEW_BODIES),
            "state": state, "html_url": html, "pull_request_url": url,
            "author_association": _association(rng, user),
            "_links": {"html": {"href": html}, "pull_request": {"href": url}},
            "submitted_at": _fmt(moment),
            "commit_id": rng.choice(commits)["sha"] if commits else pull["head"]["sha"],
        }))
    return reviews


def _review_comments(rng: random.Random, repo: RepoData, people: _People,
                     picks: list[int]) -> list[Json]:
    pulls = {pull["number"]: pull for pull in repo.pulls}
    planned: list[tuple[datetime, int]] = []
    for number in picks:
        opened, closed = _window(pulls[number])
        planned.append((_between(rng, opened, closed), number))
    api = f"{shapes.API}/repos/{repo.full_name}"
    comments: list[Json] = []
    threads: dict[int, list[Json]] = {}
    for index, (moment, number) in enumerate(sorted(planned)):
        pull = pulls[number]
        comment_id = _REVIEW_COMMENT + repo.repository["id"] * 10**5 + index
        url = f"{api}/pulls/comments/{comment_id}"
        html = f"{pull['html_url']}#discussion_r{comment_id}"
        earlier = threads.setdefault(number, [])
        parent = rng.choice(earlier) if earlier and rng.random() < 0.3 else None
        review = rng.choice(repo.reviews[number]) if repo.reviews.get(number) else None
        files = repo.pr_files[number]
        path = parent["path"] if parent else rng.choice(files)["filename"]
        line = parent["line"] if parent else rng.randrange(1, 300)
        user = rng.choice(people.humans) if index % 23 != 4 else None
        edited = _between(rng, moment, _window(pull)[1]) if rng.random() < 0.1 else moment
        head = pull["head"]["sha"]
        comment: Json = {
            "url": url, "pull_request_review_id": review["id"] if review else None,
            "id": comment_id, "node_id": shapes.legacy_node_id("PullRequestReviewComment",
                                                                comment_id),
            "diff_hunk": f"@@ -{line},6 +{line},7 @@ def collect():\n     pass\n+    return 1",
            "path": path, "position": 3, "original_position": 3, "commit_id": head,
            "original_commit_id": head, "user": user,
            "body": rng.choice(_REVIEW_COMMENT_BODIES), "created_at": _fmt(moment),
            "updated_at": _fmt(edited), "html_url": html, "pull_request_url": pull["url"],
            "author_association": _association(rng, user),
            "_links": {"self": {"href": url}, "html": {"href": html},
                       "pull_request": {"href": pull["url"]}},
            "reactions": shapes.reactions_json(url, {}),
            "start_line": None, "original_start_line": None, "start_side": None,
            "line": line, "original_line": line, "side": "RIGHT", "subject_type": "line",
        }
        if parent is not None:
            comment["in_reply_to_id"] = parent["id"]
        earlier.append(comment)
        comments.append(comment)
    return comments


def _events(rng: random.Random, repo: RepoData, people: _People,
            bounds: tuple[int, int]) -> list[Json]:
    pulls = {pull["number"]: pull for pull in repo.pulls}
    planned: list[tuple[datetime, int, int, Json]] = []
    for issue in repo.issues:
        pull = pulls.get(issue["number"])
        for seq, (moment, event) in enumerate(_issue_events(rng, repo, people, issue, pull,
                                                            rng.randint(*bounds))):
            planned.append((moment, issue["number"], seq, {**event, "issue": issue}))
    api = f"{shapes.API}/repos/{repo.full_name}"
    events: list[Json] = []
    for index, (moment, _, _, event) in enumerate(sorted(planned, key=lambda e: e[:3])):
        event_id = _EVENT + repo.repository["id"] * 10**5 + index
        commit_id = event.pop("commit_id", None)
        events.append({
            "id": event_id, "node_id": shapes.legacy_node_id("IssueEvent", event_id),
            "url": f"{api}/issues/events/{event_id}", "actor": event.pop("actor"),
            "event": event.pop("event"), "commit_id": commit_id,
            "commit_url": f"{api}/commits/{commit_id}" if commit_id else None,
            "created_at": _fmt(moment), **event, "performed_via_github_app": None,
        })
        # the embedded issue goes last, as GitHub sends it
        events[-1]["issue"] = events[-1].pop("issue")
    return events


def _issue_events(rng: random.Random, repo: RepoData, people: _People, issue: Json,
                  pull: Json | None, wanted: int) -> list[tuple[datetime, Json]]:
    opened, closed = _window(issue)

    def actor() -> Json | None:
        return None if rng.random() < 0.06 else rng.choice(people.humans)

    def label(spec: Json) -> Json:
        return {"name": spec["name"], "color": spec["color"]}

    def at(moment: datetime) -> datetime:
        return min(max(moment, opened), closed)

    required: list[tuple[datetime, Json]] = []
    if issue["closed_at"] is not None:
        if pull is not None and pull["merged_at"] is not None:
            required.append((closed, {"event": "merged", "actor": issue["closed_by"],
                                      "commit_id": pull["merge_commit_sha"]}))
        required.append((closed, {"event": "closed", "actor": issue["closed_by"]}))
    elif issue["state_reason"] == "reopened":
        shut = _between(rng, opened, closed)
        required += [(shut, {"event": "closed", "actor": actor()}),
                     (_between(rng, shut, closed), {"event": "reopened", "actor": actor()})]
    if issue["locked"]:
        required.append((_between(rng, opened, closed), {"event": "locked", "actor": actor(),
                                                         "lock_reason": "too heated"}))
    for spec in issue["labels"]:
        labeller = issue["user"] if issue["user"] is people.dependabot else actor()
        required.append((at(opened + timedelta(seconds=5)),
                         {"event": "labeled", "actor": labeller, "label": label(spec)}))
    for user in issue["assignees"]:
        required.append((_between(rng, opened, closed), {"event": "assigned", "actor": actor(),
                                                         "assignee": user, "assigner": actor()}))
    chosen = required[:wanted]
    fillers = ["renamed", "referenced", "milestoned", "unlabeled", "unassigned"]
    fillers += ["head_ref_deleted"] if pull is not None and pull["merged_at"] else ["transferred"]
    while len(chosen) < wanted:
        kind = rng.choice(fillers)
        event: Json = {"event": kind, "actor": actor()}
        if kind == "renamed":
            event["rename"] = {"from": f"Draft: {issue['title']}", "to": issue["title"]}
        elif kind == "referenced":
            event["commit_id"] = _sha(repo.full_name, issue["number"], "ref", len(chosen))
        elif kind == "milestoned":
            event["milestone"] = {"title": rng.choice(["v1.0", "v2.0 🚀", "Backlog"])}
        elif kind == "unlabeled":
            event["label"] = label(rng.choice(repo.labels))
        elif kind == "unassigned":
            user = rng.choice(people.humans)
            event.update(assignee=user, assigner=actor())
        moment = closed if kind == "head_ref_deleted" else _between(rng, opened, closed)
        chosen.append((moment, event))
    return chosen


def _releases(rng: random.Random, full_name: str, people: _People, n: int, t0: datetime,
              t1: datetime) -> list[Json]:
    api = f"{shapes.API}/repos/{full_name}"
    moments = sorted(_between(rng, t0, t1) for _ in range(n))
    releases: list[Json] = []
    for index, moment in enumerate(moments):
        release_id = _RELEASE + index
        tag = f"v0.{index + 1}.0" + ("-rc.1" if index == n - 2 else "")
        author = people.actions if index % 3 == 2 else rng.choice(people.humans)
        url = f"{api}/releases/{release_id}"
        assets = [{
            "url": f"{api}/releases/assets/{release_id * 10 + a}",
            "browser_download_url": f"{shapes.WEB}/{full_name}/releases/download/{tag}/"
                                    f"watershed-{tag}.{kind}",
            "id": release_id * 10 + a,
            "node_id": shapes.legacy_node_id("ReleaseAsset", release_id * 10 + a),
            "name": f"watershed-{tag}.{kind}", "label": None, "state": "uploaded",
            "content_type": "application/gzip", "size": rng.randrange(10_000, 2_000_000),
            "download_count": rng.randrange(0, 500), "created_at": _fmt(moment),
            "updated_at": _fmt(moment), "uploader": author,
        } for a, kind in enumerate(["tar.gz", "whl"][: rng.randrange(0, 3)])]
        releases.append({
            "url": url, "html_url": f"{shapes.WEB}/{full_name}/releases/tag/{tag}",
            "assets_url": f"{url}/assets",
            "upload_url": f"https://uploads.github.com/repos/{full_name}/releases/{release_id}"
                          "/assets{?name,label}",
            "tarball_url": f"{api}/tarball/{tag}", "zipball_url": f"{api}/zipball/{tag}",
            "id": release_id, "node_id": shapes.legacy_node_id("Release", release_id),
            "tag_name": tag, "target_commitish": "main",
            "name": f"{tag} 🚀" if index % 2 else tag,
            "body": f"## What's changed\n\n* Fixes in {rng.choice(_SUBJECTS)}\n",
            "draft": False, "prerelease": "-rc" in tag, "created_at": _fmt(moment),
            "published_at": _fmt(moment + timedelta(minutes=5)), "author": author,
            "assets": assets,
        })
    # GitHub lists releases newest first.
    return releases[::-1]


def _contributors(rng: random.Random, repo: RepoData, people: _People) -> list[Json]:
    counts: dict[int, int] = {}
    users: dict[int, Json] = {}
    for commit in (c for items in repo.pr_commits.values() for c in items):
        if commit["author"] is not None:
            users[commit["author"]["id"]] = commit["author"]
            counts[commit["author"]["id"]] = counts.get(commit["author"]["id"], 0) + 1
    for user in [*people.humans, people.actions]:
        if rng.random() < 0.7:
            users[user["id"]] = user
            counts[user["id"]] = counts.get(user["id"], 0) + rng.randrange(1, 60)
    ranked = sorted(users, key=lambda uid: (-counts[uid], uid))
    return [{**users[uid], "contributions": counts[uid]} for uid in ranked]


def _community_profile(rng: random.Random, repo: RepoData, t1: datetime) -> Json:
    from shared.fakeforge.dataset import COMMUNITY_FILES

    api = f"{shapes.API}/repos/{repo.full_name}"
    html = f"{shapes.WEB}/{repo.full_name}/blob/main"
    files: dict[str, Json | None] = {}
    for key, path in COMMUNITY_FILES.items():
        present = key in ("readme", "license") or rng.random() < 0.7
        entry: Json | None = {"url": f"{api}/contents/{path}", "html_url": f"{html}/{path}"}
        if key == "license":
            entry = {key: repo.repository["license"][key] for key in
                     ("name", "key", "spdx_id", "url", "node_id")} | {
                "html_url": f"{html}/LICENSE"}
        elif key == "code_of_conduct" and present:
            entry = {"name": "Contributor Covenant", "key": "contributor_covenant",
                     "url": "https://api.github.com/codes_of_conduct/contributor_covenant",
                     "html_url": f"{html}/{path}"}
        files[key] = entry if present else None
    scored = ("readme", "contributing", "code_of_conduct", "license", "issue_template",
              "pull_request_template")
    score = sum(files[key] is not None for key in scored) + 1  # +1: the description
    return {"health_percentage": round(100 * score / (len(scored) + 1)),
            "description": repo.repository["description"], "documentation": None,
            "files": files, "updated_at": _fmt(t1), "content_reports_enabled": False}


def _clone_traffic(rng: random.Random, t1: datetime) -> Json:
    last = t1.replace(hour=0, minute=0, second=0)
    counts = [rng.randrange(0, 40) for _ in range(14)]
    uniques = [rng.randrange(0, count + 1) for count in counts]
    days = [{"timestamp": _fmt(last - timedelta(days=13 - d)), "count": counts[d],
             "uniques": uniques[d]} for d in range(14)]
    return {"count": sum(counts), "uniques": max(uniques) + rng.randrange(0, 5), "clones": days}


def _add_pull_details(rng: random.Random, repo: RepoData, pull: Json) -> None:
    number = pull["number"]
    issue = next(i for i in repo.issues if i["number"] == number)
    files = repo.pr_files[number]
    merged = pull["merged_at"] is not None
    is_open = pull["state"] == "open"
    mergeable = rng.choice([True, True, False, None]) if is_open else None
    state = "unknown" if not is_open else "draft" if pull["draft"] else {
        True: rng.choice(["clean", "unstable", "blocked"]), False: "dirty",
        None: "unknown"}[mergeable]
    pull.update({
        "merged": merged, "mergeable": mergeable,
        "rebaseable": mergeable if mergeable is None else rng.random() < 0.8,
        "mergeable_state": state, "merged_by": issue["closed_by"] if merged else None,
        "comments": issue["comments"],
        "review_comments": sum(c["pull_request_url"] == pull["url"]
                               for c in repo.review_comments),
        "maintainer_can_modify": False, "commits": len(repo.pr_commits[number]),
        "additions": sum(f["additions"] for f in files),
        "deletions": sum(f["deletions"] for f in files), "changed_files": len(files),
    })


def _add_huge_bodies(rng: random.Random, repo: RepoData, n: int) -> None:
    body = _HUGE_LINE * (100 * 1024 // len(_HUGE_LINE.encode()) + 1)
    pools = [repo.plain_issues, repo.comments, repo.review_comments]
    for index in range(n):
        pool = pools[index % 3] or repo.comments
        if pool:
            rng.choice(pool)["body"] = body
