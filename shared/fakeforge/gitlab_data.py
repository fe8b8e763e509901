"""What the fake GitLab serves: groups (nested by full path) and projects, which a test changes
while the server runs: add, rename, transfer, share, archive, delete.

GitLab's identities hold: a group's or project's numeric id never changes, paths are
case-insensitive, a project's full path is its namespace's full path and its own path.
Thread-safe: the test mutates it while the server's threads read it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Json = dict[str, Any]
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_GROUP_ID = 1000
FIRST_PROJECT_ID = 5000


@dataclass
class Group:
    id: int
    full_path: str
    visibility: str = "public"

    @property
    def path(self) -> str:
        return self.full_path.rsplit("/", 1)[-1]

    @property
    def parent_path(self) -> str | None:
        return self.full_path.rsplit("/", 1)[0] if "/" in self.full_path else None


@dataclass
class Project:
    id: int
    namespace: str  # the group's full path
    path: str
    archived: bool = False
    visibility: str = "public"
    forked_from: int | None = None
    shared_with: set[str] = field(default_factory=set)  # full paths of groups it is shared with
    description: str | None = None

    @property
    def full_path(self) -> str:
        return f"{self.namespace}/{self.path}"


def _under(path: str, group: str) -> bool:
    path, group = path.lower(), group.lower()
    return path == group or path.startswith(group + "/")


class GitLabDataset:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.groups: dict[int, Group] = {}
        self.projects: dict[int, Project] = {}
        self._next_group = FIRST_GROUP_ID
        self._next_project = FIRST_PROJECT_ID

    # -- lookups ---------------------------------------------------------------------------

    def group(self, ident: str) -> Group | None:
        """A group by numeric id or full path (any case)."""
        with self.lock:
            if ident.isdigit():
                return self.groups.get(int(ident))
            return next((g for g in self.groups.values() if g.full_path.lower() == ident.lower()), None)

    def project(self, full_path: str) -> Project | None:
        with self.lock:
            return next((p for p in self.projects.values() if p.full_path.lower() == full_path.lower()), None)

    def _project(self, full_path: str) -> Project:
        found = self.project(full_path)
        if found is None:
            raise KeyError(f"no project {full_path}")
        return found

    def group_projects(self, group: Group, *, include_subgroups: bool, with_shared: bool,
                       archived: bool | None, anonymous: bool) -> list[Project]:
        """What ``GET /groups/:id/projects`` lists, unsorted."""
        with self.lock:
            def in_scope(path: str) -> bool:
                return _under(path, group.full_path) if include_subgroups else path.lower() == group.full_path.lower()

            found = []
            for p in self.projects.values():
                own = in_scope(p.namespace)
                shared = with_shared and any(in_scope(g) for g in p.shared_with)
                if not (own or shared):
                    continue
                if archived is not None and p.archived != archived:
                    continue
                if anonymous and (p.visibility != "public" or not self._visible(p.namespace)):
                    continue
                found.append(p)
            return found

    def _visible(self, full_path: str) -> bool:
        return all(g.visibility == "public" for g in self.groups.values() if _under(full_path, g.full_path))

    def visible_group(self, group: Group) -> bool:
        with self.lock:
            return self._visible(group.full_path)

    # -- changes ---------------------------------------------------------------------------

    def add_group(self, full_path: str, *, visibility: str = "public") -> Group:
        """The group, created with every missing parent."""
        with self.lock:
            existing = self.group(full_path)
            if existing is not None:
                return existing
            parent = full_path.rsplit("/", 1)[0] if "/" in full_path else None
            if parent is not None:
                self.add_group(parent)
            group = Group(self._next_group, full_path, visibility)
            self._next_group += 1
            self.groups[group.id] = group
            return group

    def add_project(self, full_path: str, **fields: Any) -> Project:
        with self.lock:
            namespace, _, path = full_path.rpartition("/")
            if self.project(full_path) is not None:
                raise ValueError(f"{full_path} exists")
            self.add_group(namespace)
            project = Project(self._next_project, namespace, path, **fields)
            self._next_project += 1
            self.projects[project.id] = project
            return project

    def rename_project(self, full_path: str, new_path: str) -> Project:
        """A new path in the same namespace; the id stays."""
        with self.lock:
            project = self._project(full_path)
            project.path = new_path
            return project

    def transfer_project(self, full_path: str, namespace: str) -> Project:
        """Into another group (created if missing); the id stays."""
        with self.lock:
            project = self._project(full_path)
            self.add_group(namespace)
            project.namespace = namespace
            return project

    def share_project(self, full_path: str, group: str) -> None:
        with self.lock:
            self.add_group(group)
            self._project(full_path).shared_with.add(group)

    def remove_project(self, full_path: str) -> None:
        with self.lock:
            del self.projects[self._project(full_path).id]

    def remove_group(self, full_path: str) -> None:
        """The group, its subgroups and their projects."""
        with self.lock:
            for g in [g for g in self.groups.values() if _under(g.full_path, full_path)]:
                del self.groups[g.id]
            for p in [p for p in self.projects.values() if _under(p.namespace, full_path)]:
                del self.projects[p.id]

    def __iter__(self) -> Iterator[Project]:
        with self.lock:
            return iter(list(self.projects.values()))


# ------------------------------------------------------------------ GitLab's JSON


def _time(seed: int) -> str:
    return (_EPOCH + timedelta(hours=seed)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def namespace_json(group: Group, web: str, dataset: GitLabDataset) -> Json:
    parent = dataset.group(group.parent_path) if group.parent_path else None
    return {"id": group.id, "name": group.path.title(), "path": group.path, "kind": "group",
            "full_path": group.full_path, "parent_id": parent.id if parent else None, "avatar_url": None,
            "web_url": f"{web}/groups/{group.full_path}"}


def group_json(group: Group, web: str, dataset: GitLabDataset) -> Json:
    parent = dataset.group(group.parent_path) if group.parent_path else None
    return {"id": group.id, "web_url": f"{web}/groups/{group.full_path}", "name": group.path.title(),
            "path": group.path, "description": "", "visibility": group.visibility, "full_name": group.full_path,
            "full_path": group.full_path, "parent_id": parent.id if parent else None, "created_at": _time(group.id)}


def project_json(project: Project, web: str, dataset: GitLabDataset) -> Json:
    group = dataset.group(project.namespace)
    assert group is not None, project.namespace
    full = project.full_path
    data: Json = {
        "id": project.id, "description": project.description, "name": project.path.replace("-", " ").title(),
        "name_with_namespace": full.replace("/", " / "), "path": project.path, "path_with_namespace": full,
        "created_at": _time(project.id), "updated_at": _time(project.id + 5), "default_branch": "main",
        "tag_list": [], "topics": [], "ssh_url_to_repo": f"git@{web.split('://', 1)[-1]}:{full}.git",
        "http_url_to_repo": f"{web}/{full}.git", "web_url": f"{web}/{full}", "readme_url": None,
        "avatar_url": None, "forks_count": project.id % 7, "star_count": project.id % 11,
        "last_activity_at": _time(project.id + 10), "namespace": namespace_json(group, web, dataset),
        "archived": project.archived, "visibility": project.visibility, "open_issues_count": project.id % 5,
        "empty_repo": False, "issues_enabled": True, "merge_requests_enabled": True,
    }
    if project.forked_from is not None:
        data["forked_from_project"] = {"id": project.forked_from}
    return data
