"""The GitHub REST shapes we read, as msgspec structs.

Only the fields Watershed uses are declared; msgspec ignores the rest, so GitHub adding
fields never breaks decoding. Fields GitHub may omit (older GHES versions, the 2020-era
documented examples) have defaults, and fields GitHub sends as null are optional.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Base of GitHub REST shapes."""


class WireUser(Wire):
    login: str
    id: int
    node_id: str | None = None
    type: str | None = None
    avatar_url: str | None = None
    html_url: str | None = None
    name: str | None = None  # only on full user objects
    email: str | None = None
    created_at: datetime | None = None


class WireLabel(Wire):
    name: str
    id: int | None = None
    color: str | None = None
    description: str | None = None


class WireMilestone(Wire):
    title: str | None = None
    number: int | None = None


class WireLicense(Wire):
    key: str | None = None
    spdx_id: str | None = None
    name: str | None = None


class WirePullMarker(Wire):
    """The ``pull_request`` member that marks an issues-list item as a pull request."""

    url: str | None = None
    merged_at: datetime | None = None


class WireRepo(Wire):
    id: int
    name: str
    full_name: str | None = None
    owner: WireUser | None = None
    node_id: str | None = None
    description: str | None = None
    homepage: str | None = None
    default_branch: str | None = None
    language: str | None = None
    license: WireLicense | None = None
    fork: bool = False
    archived: bool = False
    disabled: bool = False
    stargazers_count: int = 0
    forks_count: int = 0
    watchers_count: int = 0
    subscribers_count: int | None = None  # only on the single-repository endpoint
    open_issues_count: int = 0
    html_url: str | None = None
    clone_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pushed_at: datetime | None = None


class WireIssue(Wire):
    id: int
    number: int
    title: str
    state: str
    node_id: str | None = None
    body: str | None = None
    state_reason: str | None = None
    locked: bool = False
    user: WireUser | None = None
    closed_by: WireUser | None = None
    assignees: list[WireUser] | None = None
    labels: list[WireLabel] = []
    milestone: WireMilestone | None = None
    comments: int = 0
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    pull_request: WirePullMarker | None = None


class WireTeam(Wire):
    id: int
    slug: str
    name: str | None = None


class WireBranch(Wire):
    """A pull request's ``head`` or ``base``; ``repo`` is null once the fork is deleted."""

    ref: str | None = None
    sha: str | None = None
    label: str | None = None
    repo: WireRepo | None = None


class WirePull(Wire):
    id: int
    number: int
    title: str
    state: str
    node_id: str | None = None
    body: str | None = None
    draft: bool | None = None
    locked: bool = False
    user: WireUser | None = None
    author_association: str | None = None
    assignees: list[WireUser] | None = None
    requested_reviewers: list[WireUser] | None = None
    labels: list[WireLabel] = []
    milestone: WireMilestone | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merge_commit_sha: str | None = None
    head: WireBranch | None = None
    base: WireBranch | None = None
    requested_teams: list[WireTeam] | None = None


class WireComment(Wire):
    id: int
    issue_url: str
    node_id: str | None = None
    body: str | None = None
    user: WireUser | None = None
    author_association: str | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WirePullDetail(WirePull):
    """The single pull request view: what the list leaves out."""

    merged_by: WireUser | None = None
    mergeable: bool | None = None
    mergeable_state: str | None = None
    commits: int | None = None
    changed_files: int | None = None


class WireReview(Wire):
    id: int
    state: str
    node_id: str | None = None
    user: WireUser | None = None
    body: str | None = None
    commit_id: str | None = None
    html_url: str | None = None
    author_association: str | None = None
    submitted_at: datetime | None = None


class WireGitActor(Wire):
    name: str | None = None
    email: str | None = None
    date: datetime | None = None


class WireGitCommit(Wire):
    message: str = ""
    author: WireGitActor | None = None
    committer: WireGitActor | None = None


class WirePrCommit(Wire):
    sha: str
    commit: WireGitCommit
    author: WireUser | None = None
    committer: WireUser | None = None


class WirePrFile(Wire):
    filename: str
    previous_filename: str | None = None
    status: str | None = None
    additions: int | None = None
    deletions: int | None = None


class WireReviewComment(Wire):
    id: int
    pull_request_url: str
    node_id: str | None = None
    pull_request_review_id: int | None = None
    in_reply_to_id: int | None = None
    path: str | None = None
    diff_hunk: str | None = None
    line: int | None = None
    original_line: int | None = None
    commit_id: str | None = None
    original_commit_id: str | None = None
    body: str | None = None
    user: WireUser | None = None
    author_association: str | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class WireEventIssue(Wire):
    number: int
    pull_request: WirePullMarker | None = None


class WireRename(Wire):
    from_: str | None = msgspec.field(default=None, name="from")
    to: str | None = None


class WireIssueEvent(Wire):
    """An entry of ``/issues/events``: the repository-level list names its issue."""

    id: int
    event: str
    node_id: str | None = None
    actor: WireUser | None = None
    created_at: datetime | None = None
    commit_id: str | None = None
    label: WireLabel | None = None
    assignee: WireUser | None = None
    rename: WireRename | None = None
    issue: WireEventIssue | None = None


class WireRelease(Wire):
    id: int
    tag_name: str
    node_id: str | None = None
    name: str | None = None
    body: str | None = None
    draft: bool = False
    prerelease: bool = False
    author: WireUser | None = None
    target_commitish: str | None = None
    html_url: str | None = None
    created_at: datetime | None = None
    published_at: datetime | None = None


class WireContributor(WireUser):
    contributions: int = 0


class WireCommunityProfile(Wire):
    health_percentage: int | None = None
    # readme, contributing, code_of_conduct, code_of_conduct_file, license, ...: null when absent.
    files: dict[str, dict[str, object] | None] = {}


class WireTrafficDay(Wire):
    timestamp: datetime
    count: int = 0
    uniques: int = 0


class WireCloneTraffic(Wire):
    count: int = 0
    uniques: int = 0
    clones: list[WireTrafficDay] = []


class WireContent(Wire):
    """Only whether the path exists matters; a directory answers with a list instead."""

    path: str | None = None


repo_decoder = msgspec.json.Decoder(WireRepo)
issues_decoder = msgspec.json.Decoder(list[WireIssue])
pulls_decoder = msgspec.json.Decoder(list[WirePull])
comments_decoder = msgspec.json.Decoder(list[WireComment])
users_decoder = msgspec.json.Decoder(list[WireUser])
review_comments_decoder = msgspec.json.Decoder(list[WireReviewComment])
issue_events_decoder = msgspec.json.Decoder(list[WireIssueEvent])
releases_decoder = msgspec.json.Decoder(list[WireRelease])
contributors_decoder = msgspec.json.Decoder(list[WireContributor])
community_decoder = msgspec.json.Decoder(WireCommunityProfile)
clone_traffic_decoder = msgspec.json.Decoder(WireCloneTraffic)
content_decoder = msgspec.json.Decoder(WireContent | list[WireContent])
pull_detail_decoder = msgspec.json.Decoder(WirePullDetail)
reviews_decoder = msgspec.json.Decoder(list[WireReview])
pr_commits_decoder = msgspec.json.Decoder(list[WirePrCommit])
commit_decoder = msgspec.json.Decoder(WirePrCommit)
pr_files_decoder = msgspec.json.Decoder(list[WirePrFile])
