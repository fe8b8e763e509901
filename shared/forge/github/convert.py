"""GitHub REST shapes → v1 wire-contract structs. Pure: structs in, structs out."""

from __future__ import annotations

from collections.abc import Iterable

from shared.errors import FatalError
from shared.events.v1 import (
    CloneDay,
    Comment,
    Contribution,
    Issue,
    IssueEvent,
    Label,
    PullRequest,
    Release,
    RepoInfo,
    RepoMeta,
    ReviewComment,
    Team,
    User,
)
from shared.forge.github.wire import (
    WireBranch,
    WireCloneTraffic,
    WireComment,
    WireCommunityProfile,
    WireContributor,
    WireIssue,
    WireIssueEvent,
    WireLabel,
    WireLicense,
    WirePull,
    WireRelease,
    WireRepo,
    WireReviewComment,
    WireTeam,
    WireUser,
)

# GitHub reassigns the content of deleted accounts to this placeholder user.
GHOST_LOGIN = "ghost"
# "Other" licenses carry this SPDX id; the key ("other") says the same without pretending to be SPDX.
_NO_SPDX = "NOASSERTION"


def user_kind(wire: WireUser) -> str:
    if wire.login == GHOST_LOGIN:
        return "Ghost"
    # Apps act as "login[bot]"; some endpoints report them with type "User".
    if wire.type == "Bot" or wire.login.endswith("[bot]"):
        return "Bot"
    return wire.type or "User"


def convert_user(wire: WireUser | None) -> User | None:
    if wire is None:
        return None
    return User(
        platform_id=wire.id,
        login=wire.login,
        node_id=wire.node_id or "",
        kind=user_kind(wire),
        name=wire.name,
        email=wire.email,
        avatar_url=wire.avatar_url or "",
        html_url=wire.html_url or "",
        created_at=wire.created_at,
    )


def convert_users(wires: Iterable[WireUser] | None) -> list[User]:
    return [user for user in (convert_user(w) for w in wires or ()) if user is not None]


def convert_label(wire: WireLabel) -> Label:
    return Label(name=wire.name, platform_id=wire.id, color=wire.color or "", description=wire.description)


def license_id(wire: WireLicense | None) -> str | None:
    if wire is None:
        return None
    if wire.spdx_id and wire.spdx_id != _NO_SPDX:
        return wire.spdx_id
    return wire.key


def convert_repo(wire: WireRepo) -> RepoMeta:
    owner_login = wire.owner.login if wire.owner else (wire.full_name or "/").split("/", 1)[0]
    return RepoMeta(
        platform_id=wire.id,
        owner=owner_login,
        name=wire.name,
        node_id=wire.node_id or "",
        description=wire.description,
        homepage=wire.homepage or None,
        default_branch=wire.default_branch or "",
        language=wire.language,
        license=license_id(wire.license),
        is_fork=wire.fork,
        is_archived=wire.archived,
        is_disabled=wire.disabled,
        stars=wire.stargazers_count,
        forks=wire.forks_count,
        # GitHub's "watchers_count" is the star count kept for compatibility; people
        # watching the repository are "subscribers_count", when the endpoint sends it.
        watchers=wire.subscribers_count if wire.subscribers_count is not None else wire.watchers_count,
        open_issues=wire.open_issues_count,
        html_url=wire.html_url or "",
        clone_url=wire.clone_url or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        pushed_at=wire.pushed_at,
        owner_user=convert_user(wire.owner),
    )


def convert_issue(wire: WireIssue) -> Issue:
    return Issue(
        platform_id=wire.id,
        number=wire.number,
        title=wire.title,
        state=wire.state,
        node_id=wire.node_id or "",
        body=wire.body,
        state_reason=wire.state_reason,
        locked=wire.locked,
        author=convert_user(wire.user),
        closed_by=convert_user(wire.closed_by),
        assignees=convert_users(wire.assignees),
        labels=[convert_label(label) for label in wire.labels],
        milestone=wire.milestone.title if wire.milestone else None,
        comments=wire.comments,
        html_url=wire.html_url or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        closed_at=wire.closed_at,
    )


def convert_issues(wires: Iterable[WireIssue]) -> list[Issue]:
    """Issues of an issues-list page; the pull requests GitHub lists there too are dropped."""
    return [convert_issue(w) for w in wires if w.pull_request is None]


def _repo_name(branch: WireBranch | None) -> str | None:
    if branch is None or branch.repo is None:
        return None
    if branch.repo.full_name:
        return branch.repo.full_name
    return f"{branch.repo.owner.login}/{branch.repo.name}" if branch.repo.owner else None


def convert_pull(wire: WirePull) -> PullRequest:
    head, base = wire.head, wire.base
    return PullRequest(
        platform_id=wire.id,
        number=wire.number,
        title=wire.title,
        state=wire.state,
        node_id=wire.node_id or "",
        body=wire.body,
        draft=bool(wire.draft),
        locked=wire.locked,
        author=convert_user(wire.user),
        author_association=wire.author_association,
        assignees=convert_users(wire.assignees),
        requested_reviewers=convert_users(wire.requested_reviewers),
        labels=[convert_label(label) for label in wire.labels],
        milestone=wire.milestone.title if wire.milestone else None,
        html_url=wire.html_url or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at,
        closed_at=wire.closed_at,
        merged_at=wire.merged_at,
        merge_commit_sha=wire.merge_commit_sha,
        head_ref=head.ref if head else None,
        head_sha=head.sha if head else None,
        head_repo=_repo_name(head),
        base_ref=base.ref if base else None,
        base_sha=base.sha if base else None,
    )


def convert_pulls(wires: Iterable[WirePull]) -> list[PullRequest]:
    return [convert_pull(w) for w in wires]


def parent_number(issue_url: str) -> int:
    """The issue or pull request number at the end of a comment's ``issue_url`` (or ``pull_request_url``)."""
    last = issue_url.rstrip("/").rsplit("/", 1)[-1]
    if not last.isdigit():
        raise FatalError(f"comment issue_url {issue_url[:200]!r} does not end in an issue number")
    return int(last)


def convert_comment(wire: WireComment) -> Comment:
    return Comment(
        platform_id=wire.id,
        parent_number=parent_number(wire.issue_url),
        node_id=wire.node_id or "",
        body=wire.body,
        author=convert_user(wire.user),
        author_association=wire.author_association,
        html_url=wire.html_url or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at,
    )


def convert_comments(wires: Iterable[WireComment]) -> list[Comment]:
    return [convert_comment(w) for w in wires]


def convert_teams(wires: Iterable[WireTeam] | None) -> list[Team]:
    return [Team(platform_id=t.id, slug=t.slug, name=t.name or "") for t in wires or ()]


def convert_review_comment(wire: WireReviewComment) -> ReviewComment:
    return ReviewComment(
        platform_id=wire.id,
        pr_number=parent_number(wire.pull_request_url),
        node_id=wire.node_id or "",
        review_id=wire.pull_request_review_id,
        in_reply_to=wire.in_reply_to_id,
        path=wire.path,
        diff_hunk=wire.diff_hunk,
        line=wire.line,
        original_line=wire.original_line,
        commit_sha=wire.commit_id,
        original_commit_sha=wire.original_commit_id,
        body=wire.body,
        author=convert_user(wire.user),
        author_association=wire.author_association,
        html_url=wire.html_url or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at,
    )


def convert_review_comments(wires: Iterable[WireReviewComment]) -> list[ReviewComment]:
    return [convert_review_comment(w) for w in wires]


def convert_issue_events(wires: Iterable[WireIssueEvent]) -> list[IssueEvent]:
    """Events of the repository-level list; an event whose issue GitHub no longer names is dropped."""
    events = []
    for w in wires:
        if w.issue is None:
            continue
        events.append(IssueEvent(
            platform_id=w.id,
            issue_number=w.issue.number,
            event=w.event,
            node_id=w.node_id or "",
            is_pull_request=w.issue.pull_request is not None,
            actor=convert_user(w.actor),
            created_at=w.created_at,
            commit_sha=w.commit_id,
            label=w.label.name if w.label else None,
            assignee=convert_user(w.assignee),
            rename_from=w.rename.from_ if w.rename else None,
            rename_to=w.rename.to if w.rename else None,
        ))
    return events


def convert_releases(wires: Iterable[WireRelease]) -> list[Release]:
    return [
        Release(
            platform_id=w.id,
            tag_name=w.tag_name,
            node_id=w.node_id or "",
            name=w.name,
            body=w.body,
            draft=w.draft,
            prerelease=w.prerelease,
            author=convert_user(w.author),
            target_commitish=w.target_commitish,
            html_url=w.html_url or "",
            created_at=w.created_at,
            published_at=w.published_at,
        )
        for w in wires
    ]


def convert_contributors(wires: Iterable[WireContributor]) -> list[Contribution]:
    contributions = []
    for w in wires:
        user = convert_user(w)
        if user is not None:
            contributions.append(Contribution(user=user, contributions=w.contributions))
    return contributions


def convert_clone_traffic(wire: WireCloneTraffic) -> list[CloneDay]:
    return [CloneDay(day=d.timestamp, count=d.count, uniques=d.uniques) for d in wire.clones]


# Files the profile may report beyond README/CONTRIBUTING/CODE_OF_CONDUCT; when it leaves one
# out, the caller probes the repository's contents for it.
PROBED_FILES = {"security": "SECURITY.md", "changelog": "CHANGELOG.md"}


def community_files(wire: WireCommunityProfile) -> dict[str, bool]:
    """Which community files the profile reports (GitHub looks in the root, docs/ and .github/)."""
    files = wire.files
    found = {
        "readme": files.get("readme") is not None,
        "contributing": files.get("contributing") is not None,
        "code_of_conduct": files.get("code_of_conduct") is not None or files.get("code_of_conduct_file") is not None,
    }
    found.update({key: files[key] is not None for key in PROBED_FILES if key in files})
    return found


def convert_repo_info(
    repo: RepoMeta,
    counts: dict[str, int | None],
    profile: WireCommunityProfile | None,
    probed: dict[str, bool] | None = None,
) -> RepoInfo:
    """A snapshot from the repository, the GraphQL counts, the community profile and the file
    probes (``probed``: :data:`PROBED_FILES` key → exists) for what the profile did not say."""
    files = {**(probed or {}), **(community_files(profile) if profile is not None else {})}
    return RepoInfo(
        stars=repo.stars,
        forks=repo.forks,
        watchers=repo.watchers,
        open_issues=counts.get("open_issues"),
        closed_issues=counts.get("closed_issues"),
        open_pull_requests=counts.get("open_pull_requests"),
        closed_pull_requests=counts.get("closed_pull_requests"),
        merged_pull_requests=counts.get("merged_pull_requests"),
        commit_count=counts.get("commit_count"),
        license=repo.license,
        default_branch=repo.default_branch or None,
        is_archived=repo.is_archived,
        is_disabled=repo.is_disabled,
        has_readme=files.get("readme"),
        has_contributing=files.get("contributing"),
        has_code_of_conduct=files.get("code_of_conduct"),
        has_security=files.get("security"),
        has_changelog=files.get("changelog"),
        health_percentage=profile.health_percentage if profile is not None else None,
    )
