"""The fake forge's dataset: what the server serves, how it is stored, and the bundled sample.

A Dataset maps full_name -> RepoData (repository JSON plus its issues, pulls, issue comments,
labels and participating users, all in GitHub's REST shapes). Pull requests appear both in
`pulls` and, with a `pull_request` key, in `issues`, exactly as GitHub lists them. `renames`,
`missing` and `blocked` describe the error scenarios (301, 404, 451).

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


@dataclass
class RepoData:
    repository: Json
    users: list[Json] = field(default_factory=list)
    labels: list[Json] = field(default_factory=list)
    issues: list[Json] = field(default_factory=list)
    pulls: list[Json] = field(default_factory=list)
    comments: list[Json] = field(default_factory=list)

    @property
    def full_name(self) -> str:
        return str(self.repository["full_name"])

    @property
    def plain_issues(self) -> list[Json]:
        return [issue for issue in self.issues if "pull_request" not in issue]


@dataclass
class Dataset:
    repositories: dict[str, RepoData] = field(default_factory=dict)
    renames: dict[str, str] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)

    def add(self, repo: RepoData) -> None:
        self.repositories[repo.full_name] = repo

    def merge(self, other: Dataset) -> None:
        self.repositories.update(other.repositories)
        self.renames.update(other.renames)
        self.missing |= other.missing
        self.blocked |= other.blocked

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
        return {user["id"]: user for repo in self.repositories.values() for user in repo.users}

    def to_json(self) -> Json:
        return {
            "format": _FORMAT_VERSION,
            "repositories": {
                name: _compact_repo(repo) for name, repo in sorted(self.repositories.items())
            },
            "renames": dict(sorted(self.renames.items())),
            "missing": sorted(self.missing),
            "blocked": sorted(self.blocked),
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

    return {
        "repository": repo.repository,
        "users": repo.users,
        "labels": repo.labels,
        **{part: compact(getattr(repo, part)) for part in ("issues", "pulls", "comments")},
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

    return RepoData(
        repository=repository, users=body["users"], labels=body["labels"],
        **{part: expand(body[part]) for part in ("issues", "pulls", "comments")},
    )


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
                                   n_pulls=2, n_comments=6))
    dataset.renames[f"{owner}/old-sample"] = SAMPLE_REPO
    dataset.missing.add(f"{owner}/deleted")
    dataset.blocked.add(f"{owner}/dmca-takedown")
    return dataset


def generate_dataset(seed: int, owner: str = "watershed-demo", name: str = "sample", *,
                     n_users: int = 15, n_issues: int = 40, n_pulls: int = 25,
                     n_comments: int = 150, start: str = "2019-03-01T09:00:00Z",
                     end: str = "2025-05-31T18:00:00Z") -> Dataset:
    """Deterministic dataset with one repository; see _generator.generate_repo for contents."""
    from shared.fakeforge._generator import generate_repo

    dataset = Dataset()
    dataset.add(generate_repo(seed, owner, name, n_users=n_users, n_issues=n_issues,
                              n_pulls=n_pulls, n_comments=n_comments, start=start, end=end))
    return dataset
