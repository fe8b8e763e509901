"""The fake forge's dataset: what the server serves, how it is stored, and the bundled sample.

A Dataset maps full_name -> RepoData (repository JSON plus its issues, pulls, issue comments,
labels and participating users, and the children of those: reviews, review comments, PR commits
and files, issue events, releases, contributors, community profile, clone traffic; all in
GitHub's REST shapes). Pull requests appear both in `pulls` and, with a `pull_request` key, in
`issues`, exactly as GitHub lists them. `pulls` items are the full single-PR objects
(`merged_by`, `commits`, `additions`...); the /pulls list endpoint drops PULL_DETAIL_KEYS, as
GitHub's list does. Children keyed by PR number are `dict[int, list[Json]]` in memory and use
string keys on disk. `renames`, `missing` and `blocked` describe the error scenarios (301, 404,
451); `org_members` maps an organization login to its members (simple users);
`user_events` maps a login to its public events, newest first.

The deterministic generator lives in _generator.py and is re-exported here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

Json = dict[str, Any]

SAMPLE_REPO = "watershed-demo/sample"
SAMPLE_SEED = 20240601
_FORMAT_VERSION = 1
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

# Keys of the single-PR object (GET /pulls/{n}) that GitHub's /pulls list leaves out.
PULL_DETAIL_KEYS = ("merged", "mergeable", "rebaseable", "mergeable_state", "merged_by",
                    "comments", "review_comments", "maintainer_can_modify", "commits",
                    "additions", "deletions", "changed_files")
# community_profile["files"] key -> repository path served by GET /contents/{path}. GitHub's
# profile has no security/changelog entries; ours adds them so presence can be looked up.
COMMUNITY_FILES = {
    "readme": "README.md",
    "contributing": "CONTRIBUTING.md",
    "code_of_conduct": "CODE_OF_CONDUCT.md",
    "security": "SECURITY.md",
    "changelog": "CHANGELOG.md",
    "license": "LICENSE",
    "issue_template": ".github/ISSUE_TEMPLATE.md",
    "pull_request_template": ".github/PULL_REQUEST_TEMPLATE.md",
}
_LIST_PARTS = ("issues", "pulls", "comments", "review_comments", "issue_events", "releases",
               "contributors")
_BY_PULL_PARTS = ("reviews", "pr_commits", "pr_files")


@dataclass
class RepoData:
    repository: Json
    users: list[Json] = field(default_factory=list)
    labels: list[Json] = field(default_factory=list)
    issues: list[Json] = field(default_factory=list)
    pulls: list[Json] = field(default_factory=list)
    comments: list[Json] = field(default_factory=list)
    review_comments: list[Json] = field(default_factory=list)
    reviews: dict[int, list[Json]] = field(default_factory=dict)
    pr_commits: dict[int, list[Json]] = field(default_factory=dict)
    pr_files: dict[int, list[Json]] = field(default_factory=dict)
    issue_events: list[Json] = field(default_factory=list)
    releases: list[Json] = field(default_factory=list)
    contributors: list[Json] = field(default_factory=list)
    community_profile: Json | None = None
    clone_traffic: Json | None = None

    @property
    def full_name(self) -> str:
        return str(self.repository["full_name"])

    @property
    def plain_issues(self) -> list[Json]:
        return [issue for issue in self.issues if "pull_request" not in issue]

    def issue(self, number: int) -> Json | None:
        return next((i for i in self.issues if i["number"] == number), None)

    def pull(self, number: int) -> Json | None:
        return next((p for p in self.pulls if p["number"] == number), None)

    def community_file_text(self, key: str) -> str | None:
        """The text of a community file (COMMUNITY_FILES key) if the profile lists it."""
        files = (self.community_profile or {}).get("files", {})
        if files.get(key) is None:
            return None
        title = COMMUNITY_FILES[key].rsplit("/", 1)[-1].removesuffix(".md")
        return f"# {title}\n\n{title.replace('_', ' ').title()} for {self.full_name} 🌊.\n"


@dataclass
class Dataset:
    repositories: dict[str, RepoData] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    org_members: dict[str, list[Json]] = field(default_factory=dict)
    # login -> public events, newest first (GET /users/{login}/events/public)
    user_events: dict[str, list[Json]] = field(default_factory=dict)

    def add(self, repo: RepoData) -> None:
        self.repositories[repo.full_name] = repo

    def rename_repo(self, old: str, new: str, owner: Json | None = None) -> RepoData:
        """Rename (or, with another ``owner``, transfer) a repository as GitHub does: same id,
        new name; the old name redirects."""
        repo = self.repositories.pop(self.find(old).full_name)  # type: ignore[union-attr]
        new_owner, name = new.split("/", 1)
        if owner is not None:
            repo.repository["owner"] = owner
        elif repo.repository["owner"]["login"].lower() != new_owner.lower():
            raise ValueError(f"moving {old} to {new} needs the new owner's account")
        repo.repository.update(name=name, full_name=new, html_url=f"https://github.com/{new}",
                               clone_url=f"https://github.com/{new}.git")
        self.add(repo)
        self.renames[old] = new
        return repo

    def remove_repo(self, full_name: str) -> None:
        """Delete a repository: gone from listings, 404 by name."""
        self.repositories.pop(self.find(full_name).full_name)  # type: ignore[union-attr]
        self.missing.add(full_name)

    def find_user_events(self, login: str) -> list[Json]:
        wanted = login.lower()
        return next((events for name, events in self.user_events.items() if name.lower() == wanted), [])

    def merge(self, other: Dataset) -> None:
        self.repositories.update(other.repositories)
        self.renames.update(other.renames)
        self.missing |= other.missing
        self.blocked |= other.blocked
        for org, members in other.org_members.items():
            # Generated repositories draw their people independently, so the same login can
            # come with another id; the members already known win.
            known = {member["login"].lower(): member for member in members}
            known.update((m["login"].lower(), m) for m in self.org_members.get(org, []))
            self.org_members[org] = sorted(known.values(), key=lambda m: m["id"])

    def find_org_members(self, org: str) -> list[Json] | None:
        wanted = org.lower()
        return next((m for name, m in self.org_members.items() if name.lower() == wanted), None)

    def find(self, full_name: str) -> RepoData | None:
        # GitHub resolves owner/name case-insensitively.
        wanted = full_name.lower()
        return next((r for name, r in self.repositories.items() if name.lower() == wanted), None)

    def find_by_id(self, repo_id: int) -> RepoData | None:
        return next((r for r in self.repositories.values() if r.repository["id"] == repo_id), None)

    def rename_target(self, full_name: str) -> RepoData | None:
        """The repository a renamed full_name now points to, following chains of renames."""
        lowered = {old.lower(): new for old, new in self.renames.items()}
        name = full_name.lower()
        for _ in range(len(lowered)):
            if name not in lowered:
                break
            name = lowered[name].lower()
            target = self.find(name)
            if target is not None and name not in lowered:
                return target
        return None

    def is_missing(self, full_name: str) -> bool:
        return full_name.lower() in {name.lower() for name in self.missing}

    def is_blocked(self, full_name: str) -> bool:
        return full_name.lower() in {name.lower() for name in self.blocked}

    def distinct_users(self) -> dict[int, Json]:
        found = {user["id"]: user for repo in self.repositories.values() for user in repo.users}
        for members in self.org_members.values():
            for member in members:
                found.setdefault(member["id"], member)
        return found

    def to_json(self) -> Json:
        return {
            "format": _FORMAT_VERSION,
            "repositories": {
                name: _compact_repo(repo) for name, repo in sorted(self.repositories.items())
            },
            "renames": dict(sorted(self.renames.items())),
            "missing": sorted(self.missing),
            "blocked": sorted(self.blocked),
            "org_members": dict(sorted(self.org_members.items())),
            # Written only when there are some: the sample file stays as it was.
            **({"user_events": dict(sorted(self.user_events.items()))} if self.user_events else {}),
        }

    @classmethod
    def from_json(cls, data: Json) -> Dataset:
        if data.get("format") != _FORMAT_VERSION:
            raise ValueError(f"unsupported fakeforge dataset format: {data.get('format')!r}")
        repos = {name: _expand_repo(body) for name, body in data["repositories"].items()}
        return cls(
            repositories=repos,
            renames=dict(data.get("renames", {})),
            missing=set(data.get("missing", [])),
            blocked=set(data.get("blocked", [])),
            org_members=dict(data.get("org_members", {})),
            user_events=dict(data.get("user_events", {})),
        )


# On disk, every embedded copy of a participating user or of the repository itself is replaced
# by a reference ({"$user": id} / {"$repo": true}); embedded copies made the sample file 4x
# larger. In memory the data is always fully expanded, as GitHub sends it.

def _compact_repo(repo: RepoData) -> Json:
    users = {user["id"]: user for user in repo.users}

    def compact(value: Any) -> Any:
        if isinstance(value, list):
            return [compact(item) for item in value]
        if not isinstance(value, dict):
            return value
        if value == repo.repository:
            return {"$repo": True}
        if "login" in value and users.get(value.get("id")) == value:
            return {"$user": value["id"]}
        return {key: compact(item) for key, item in value.items()}

    # An issue event embeds its whole issue; on disk it points at it by number.
    events = [{**event, "issue": {"$issue": event["issue"]["number"]}} if "issue" in event
              else event for event in repo.issue_events]
    return {
        "repository": repo.repository,
        "users": repo.users,
        "labels": repo.labels,
        **{part: compact(getattr(repo, part)) for part in _LIST_PARTS if part != "issue_events"},
        "issue_events": compact(events),
        **{part: {str(number): compact(items) for number, items in
                  sorted(getattr(repo, part).items())} for part in _BY_PULL_PARTS},
        "community_profile": repo.community_profile,
        "clone_traffic": repo.clone_traffic,
    }


def _expand_repo(body: Json) -> RepoData:
    repository: Json = body["repository"]
    users = {user["id"]: user for user in body["users"]}

    def expand(value: Any) -> Any:
        if isinstance(value, list):
            return [expand(item) for item in value]
        if not isinstance(value, dict):
            return value
        if value.keys() == {"$repo"}:
            return repository
        if value.keys() == {"$user"}:
            return users[value["$user"]]
        return {key: expand(item) for key, item in value.items()}

    # Datasets written before the children existed have none of these parts.
    parts = {part: expand(body.get(part, [])) for part in _LIST_PARTS}
    issues = {issue["number"]: issue for issue in parts["issues"]}
    parts["issue_events"] = [
        {**event, "issue": issues[event["issue"]["$issue"]]} if "issue" in event else event
        for event in parts["issue_events"]]
    by_pull: dict[str, dict[int, list[Json]]] = {
        part: {int(number): expand(items) for number, items in body.get(part, {}).items()}
        for part in _BY_PULL_PARTS}
    return RepoData(repository=repository, users=body["users"], labels=body["labels"],
                    issues=parts["issues"], pulls=parts["pulls"], comments=parts["comments"],
                    review_comments=parts["review_comments"],
                    issue_events=parts["issue_events"], releases=parts["releases"],
                    contributors=parts["contributors"], reviews=by_pull["reviews"],
                    pr_commits=by_pull["pr_commits"], pr_files=by_pull["pr_files"],
                    community_profile=body.get("community_profile"),
                    clone_traffic=body.get("clone_traffic"))


def encode_json(value: Any, *, indent: int | None = None) -> bytes:
    """UTF-8 JSON as GitHub sends it: non-ASCII raw, control characters and lone surrogates
    escaped (a lone surrogate cannot be encoded as UTF-8, GitHub emits it as \\udXXX)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=(",", ":") if indent
                      is None else None)
    text = _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text.encode("utf-8")


def load_dataset(path: Path | str) -> Dataset:
    return Dataset.from_json(json.loads(Path(path).read_bytes()))


def save_dataset(dataset: Dataset, path: Path | str) -> None:
    # Indented so that a regenerated sample shows up as a readable diff.
    Path(path).write_bytes(encode_json(dataset.to_json(), indent=1) + b"\n")


def sample_dataset_path() -> Path:
    return Path(str(resources.files("shared.fakeforge") / "data" / "sample.json"))


def load_sample_dataset() -> Dataset:
    return load_dataset(sample_dataset_path())


def build_sample_dataset() -> Dataset:
    """Regenerates what data/sample.json holds (python -m shared.fakeforge --write-sample)."""
    owner, name = SAMPLE_REPO.split("/")
    dataset = generate_dataset(SAMPLE_SEED, owner, name, n_users=15, n_issues=40, n_pulls=25,
                               n_comments=150)
    dataset.merge(generate_dataset(SAMPLE_SEED + 1, owner, "tiny", n_users=4, n_issues=3,
                                   n_pulls=2, n_comments=6, n_releases=1))
    dataset.renames[f"{owner}/old-sample"] = SAMPLE_REPO
    dataset.missing.add(f"{owner}/deleted")
    dataset.blocked.add(f"{owner}/dmca-takedown")
    return dataset


def generate_dataset(seed: int, owner: str = "watershed-demo", name: str = "sample", *,
                     n_users: int = 15, n_issues: int = 40, n_pulls: int = 25,
                     n_comments: int = 150, start: str = "2019-03-01T09:00:00Z",
                     end: str = "2025-05-31T18:00:00Z", n_review_comments: int | None = None,
                     reviews_per_pull: tuple[int, int] = (0, 4),
                     commits_per_pull: tuple[int, int] = (1, 8),
                     files_per_pull: tuple[int, int] = (1, 12),
                     events_per_issue: tuple[int, int] = (3, 6), n_releases: int = 5,
                     big_prs: int = 0, big_pr_size: int = 120,
                     huge_bodies: int = 0) -> Dataset:
    """Deterministic dataset with one repository; see _generator.generate_repo for contents.

    Children: each PR gets a number of reviews, commits and files drawn from the inclusive
    `*_per_pull` ranges, except `big_prs` PRs, which get exactly `big_pr_size` of each plus
    `big_pr_size` review comments on top of the `n_review_comments` (default 2 per PR) spread
    over PRs that have reviews. Every issue and PR gets `events_per_issue` events.
    `huge_bodies` items (issues, comments, review comments in turn) get ~100 KB bodies.
    """
    from shared.fakeforge._generator import ChildSpec, generate_repo

    spec = ChildSpec(
        n_review_comments=2 * n_pulls if n_review_comments is None else n_review_comments,
        reviews_per_pull=reviews_per_pull, commits_per_pull=commits_per_pull,
        files_per_pull=files_per_pull, events_per_issue=events_per_issue,
        n_releases=n_releases, big_prs=big_prs, big_pr_size=big_pr_size,
        huge_bodies=huge_bodies)
    dataset = Dataset()
    repo, members = generate_repo(seed, owner, name, n_users=n_users, n_issues=n_issues,
                                  n_pulls=n_pulls, n_comments=n_comments, start=start, end=end,
                                  children=spec)
    dataset.add(repo)
    dataset.org_members[owner] = members
    return dataset
