"""Deterministic generation of one repository's worth of GitHub data.

Everything derives from random.Random(f"{seed}:{owner}/{name}") (string seeds hash with
SHA-512, so results do not depend on PYTHONHASHSEED or the platform). The data is meant to
hurt a collector in the ways real GitHub data does: bots, the deleted "ghost" user, null
users, unicode and emoji, a NUL byte, a lone surrogate, PRs mixed into the issues list,
forks whose head repo was deleted, and timestamps spread over years.

The children (reviews, review comments, PR commits and files, issue events, releases,
contributors, community profile, clone traffic, org members) draw from a second generator,
seeded f"{seed}:{owner}/{name}:children", so adding them left the issues, pulls and comments
of every seed exactly as they were.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.fakeforge import _shapes as shapes
from shared.fakeforge._children import (
    ChildSpec,
    add_children,
    child_users,
)
from shared.fakeforge._gencommon import (
    _BODIES,
    _BOT_COMMENT,
    _ISSUE_TITLES,
    _LABELS,
    _PR_TITLES,
    _SUBJECTS,
    _fmt,
    _parse,
    _People,
    _people,
    _sha,
    _UniqueClock,
)
from shared.fakeforge.dataset import Json, RepoData


@dataclass
class _Context:
    rng: random.Random
    full_name: str
    repo_id: int
    people: _People
    labels: list[Json]
    clock: _UniqueClock
    # number -> latest comment, edit or close: an item's updated_at must not precede it.
    last_activity: dict[int, datetime]


def generate_repo(seed: int, owner: str, name: str, *, n_users: int, n_issues: int,
                  n_pulls: int, n_comments: int, start: str, end: str,
                  children: ChildSpec) -> tuple[RepoData, list[Json]]:
    """The repository and the members of its owner organization."""
    rng = random.Random(f"{seed}:{owner}/{name}")
    full_name = f"{owner}/{name}"
    t0, t1 = _parse(start), _parse(end)
    people = _people(rng, owner, n_users)
    repo_id = 100_000_000 + rng.randrange(100_000_000)
    labels = [shapes.label_json(full_name, repo_id * 10 + i, *spec)
              for i, spec in enumerate(_LABELS)]
    ctx = _Context(rng, full_name, repo_id, people, labels, _UniqueClock(t1), {})

    n_items = n_issues + n_pulls
    span = (t1 - t0 - timedelta(days=30)).total_seconds()
    created = sorted(t0 + timedelta(seconds=rng.uniform(0, span)) for _ in range(n_items))
    pull_numbers = set(rng.sample(range(1, n_items + 1), n_pulls))
    created_at = {n: ctx.clock.take(created[n - 1]) for n in range(1, n_items + 1)}
    comments = _comments(ctx, created_at, n_comments, _UniqueClock(t1))
    comment_count = {n: 0 for n in created_at}
    for comment in comments:
        comment_count[int(comment["issue_url"].rsplit("/", 1)[1])] += 1

    issues: list[Json] = []
    pulls: list[tuple[int, Json, str | None, bool]] = []
    for number in range(1, n_items + 1):
        issue, merged_at = _item(ctx, number, number in pull_numbers, created_at[number],
                                 comment_count[number])
        issues.append(issue)
        if "pull_request" in issue:
            pulls.append((number, issue, merged_at, issue["draft"]))

    open_count = sum(1 for issue in issues if issue["state"] == "open")
    last_push = max(_parse(i["updated_at"]) for i in issues) if issues else t1
    repository = shapes.repo_json(
        repo_id, people.org, name, description=f"Sample data for Watershed — {name} 🌊",
        fork=False, created_at=_fmt(t0 - timedelta(days=20)), updated_at=_fmt(t1),
        pushed_at=_fmt(last_push), open_issues=open_count, stargazers=rng.randrange(5, 500),
        forks=rng.randrange(0, 40), language="Python", topics=["community-health", "demo"])
    pull_json = [_pull(rng, full_name, repository, people, *entry) for entry in pulls]

    repo = RepoData(repository=repository, labels=labels, issues=issues, pulls=pull_json,
                    comments=comments)
    child_rng = random.Random(f"{seed}:{owner}/{name}:children")
    members = add_children(child_rng, repo, people, children, t0, t1)

    seen: dict[int, Json] = {}
    for item in issues + comments:
        for user in [item.get("user"), item.get("closed_by"), *item.get("assignees", [])]:
            if user is not None:
                seen[user["id"]] = user
    for pull in pull_json:
        for user in pull["requested_reviewers"]:
            seen[user["id"]] = user
    for user in child_users(repo):
        seen.setdefault(user["id"], user)
    repo.users = sorted(seen.values(), key=lambda u: u["id"])
    return repo, members


def _comments(ctx: _Context, created_at: dict[int, datetime], n_comments: int,
              clock: _UniqueClock) -> list[Json]:
    rng, people = ctx.rng, ctx.people
    targets = rng.choices(sorted(created_at), k=n_comments)
    delays = [timedelta(minutes=rng.expovariate(1 / (60 * 24 * 5)) + 1) for _ in targets]
    # Ids grow with creation time, as GitHub's do.
    timeline = sorted((created_at[number] + delay, number)
                      for number, delay in zip(targets, delays, strict=True))
    comments: list[Json] = []
    for index, (moment, number) in enumerate(timeline):
        when = clock.take(moment)
        edited = clock.take(when + timedelta(hours=rng.uniform(1, 72))) \
            if rng.random() < 0.1 else when
        author: Json | None
        if index == 3:
            author = None
        elif index % 17 == 5:
            author = people.ghost
        elif rng.random() < 0.12:
            author = people.actions
        else:
            author = rng.choice(people.humans)
        body = _BOT_COMMENT if author is people.actions else rng.choice(_BODIES).format(n=number)
        if index == 7:
            body = "Pasted from a terminal:\u0000 the NUL byte must survive or be cleaned"
        comments.append(shapes.comment_json(
            ctx.full_name, ctx.repo_id * 10_000 + index + 1, number, body=body, user=author,
            created_at=_fmt(when), updated_at=_fmt(edited),
            author_association="NONE" if author is None else rng.choice(
                ["OWNER", "MEMBER", "CONTRIBUTOR", "NONE"]),
            reactions={"+1": rng.randrange(3)} if rng.random() < 0.3 else {}))
        ctx.last_activity[number] = max(ctx.last_activity.get(number, when), edited)
    return comments


def _item(ctx: _Context, number: int, is_pull: bool, opened: datetime,
          comments: int) -> tuple[Json, str | None]:
    """The issue JSON (with a pull_request key for PRs) and, for PRs, merged_at."""
    rng, people = ctx.rng, ctx.people
    subject = rng.choice(_SUBJECTS)
    author: Json | None = rng.choice(people.humans)
    if is_pull and rng.random() < 0.2:
        author = people.dependabot
    title = rng.choice(_PR_TITLES if is_pull else _ISSUE_TITLES).format(s=subject)
    body: str | None = rng.choice(_BODIES).format(n=max(1, number - 1)) or None
    picked = rng.sample(ctx.labels[:7] + ctx.labels[8:], rng.randrange(0, 3))
    if author is people.dependabot:
        title = f"Bump httpx from 0.{number}.0 to 0.{number}.1"
        body = "Bumps [httpx](https://github.com/encode/httpx).\n\n---\n<details>…</details>"
        picked = [ctx.labels[7]]
    # Fixed numbers carry the edge cases, so every generated repo has them.
    if number == 2:
        author = people.ghost
    elif number == 5:
        author = None
    elif number == 3:
        body = "Binary paste:\u0000\u0001 end"
    elif number == 4:
        body = "Broken emoji from a truncating client: \ud83d (lone high surrogate)"
    assignees = rng.sample(people.humans, min(len(people.humans), rng.randrange(0, 3)))

    state, state_reason, closed_at, closed_by = "open", None, None, None
    merged_at, draft = None, False
    roll = rng.random()
    if roll < (0.7 if is_pull else 0.6):
        state = "closed"
        closed = ctx.clock.take(opened + timedelta(hours=rng.uniform(1, 24 * 90)))
        closed_at = _fmt(closed)
        ctx.last_activity[number] = max(ctx.last_activity.get(number, closed), closed)
        closed_by = rng.choice(people.humans)
        if is_pull:
            merged_at = closed_at if rng.random() < 0.8 else None
        else:
            state_reason = "completed" if rng.random() < 0.75 else "not_planned"
    elif not is_pull and roll < 0.7:
        state_reason = "reopened"
    elif is_pull:
        draft = rng.random() < 0.3
    touched = opened + timedelta(hours=rng.uniform(0, 24 * 30))
    updated = ctx.clock.take(max(touched, ctx.last_activity.get(number, opened))
                             + timedelta(seconds=1))
    issue = shapes.issue_json(
        ctx.full_name, ctx.repo_id * 1000 + number, number, title=title, body=body, user=author,
        labels=picked, assignees=assignees, state=state, state_reason=state_reason,
        locked=number == 6, comments=comments, created_at=_fmt(opened),
        updated_at=_fmt(updated), closed_at=closed_at, closed_by=closed_by,
        author_association="NONE" if author in (None, people.ghost) else rng.choice(
            ["OWNER", "MEMBER", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR"]),
        reactions={"heart": rng.randrange(2), "rocket": rng.randrange(2)},
        pull={"merged_at": merged_at} if is_pull else None, draft=draft)
    return issue, merged_at


def _pull(rng: random.Random, full_name: str, repository: Json, people: _People, number: int,
          issue: Json, merged_at: str | None, draft: bool) -> Json:
    author = issue["user"]
    base_sha = _sha(full_name, number, "base")
    head_sha = _sha(full_name, number, "head")
    head_repo: Json | None
    if author is not None and author["type"] == "Bot":
        ref, head_repo, head_owner = f"dependabot/pip/httpx-0.{number}.1", repository, \
            repository["owner"]
    elif author is None or number % 7 == 0:
        # A fork deleted after the PR was opened: GitHub keeps the PR, head.repo is null.
        ref, head_repo, head_owner = f"patch-{number}", None, author
    elif rng.random() < 0.3:
        ref, head_owner = ("main" if number % 2 else f"fix-{number}"), author
        head_repo = shapes.repo_json(
            repository["id"] + number, author, repository["name"], description=None, fork=True,
            created_at=issue["created_at"], updated_at=issue["created_at"],
            pushed_at=issue["created_at"], open_issues=0, stargazers=0, forks=0,
            language="Python", topics=[])
    else:
        ref, head_repo, head_owner = f"feature/{number}-work", repository, repository["owner"]
    reviewers = [] if issue["state"] == "closed" else [
        user for user in rng.sample(people.humans, min(2, len(people.humans)))
        if author is None or user["id"] != author["id"]][: rng.randrange(0, 3)]
    merge_sha = None if issue["state"] == "closed" and merged_at is None and number % 2 else \
        _sha(full_name, number, "merge")
    owner_login = head_owner["login"] if head_owner is not None else "ghost"
    return shapes.pull_json(
        full_name, repository["id"] * 100 + number, number, issue=issue, merged_at=merged_at,
        merge_commit_sha=merge_sha, draft=draft, requested_reviewers=reviewers,
        head=shapes.branch_json(owner_login, ref, head_sha, head_owner, head_repo),
        base=shapes.branch_json(repository["owner"]["login"], "main", base_sha,
                                repository["owner"], repository))


# -- children of issues and pull requests ------------------------------------------------------
# Shape builders live next to the generation here rather than in _shapes.py only because this
# change was scoped to dataset/_generator/_api; they are pure, like those in _shapes.py.
