"""GitLab REST shapes → v1 structs. Pure: no I/O, no clock.

A project is named as :func:`shared.forge.urls.parse_repo_url` names GitLab repositories:
``owner`` is its namespace's full path (``gnome/world``), ``name`` its path, so that the
listing's URL ``https://host/owner/name`` (lower case) is the one ``add-repo`` gives it.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.events.v1 import RepoMeta
from shared.forge.gitlab.wire import WireProject
from shared.forge.urls import is_gitlab_path


def project_names(wire: WireProject) -> tuple[str, str] | None:
    """(owner, name) of the project; None when its path is not one GitLab makes (then it
    cannot be a repository URL either, and the listing leaves it out)."""
    owner, _, name = wire.path_with_namespace.rpartition("/")
    if not owner or name != wire.path or not is_gitlab_path(wire.path_with_namespace):
        return None
    return owner, name


def convert_project(wire: WireProject) -> RepoMeta | None:
    names = project_names(wire)
    if names is None:
        return None
    owner, name = names
    return RepoMeta(
        platform_id=wire.id,
        owner=owner,
        name=name,
        description=wire.description,
        default_branch=wire.default_branch or "",
        license=wire.license.key if wire.license and wire.license.key else None,
        is_fork=wire.forked_from_project is not None,
        is_archived=wire.archived,
        stars=wire.star_count,
        forks=wire.forks_count,
        open_issues=wire.open_issues_count or 0,
        html_url=wire.web_url or "",
        clone_url=wire.http_url_to_repo or "",
        created_at=wire.created_at,
        updated_at=wire.updated_at or wire.last_activity_at,
        pushed_at=wire.last_activity_at,
    )


def convert_projects(wires: Iterable[WireProject]) -> list[RepoMeta]:
    return [meta for meta in map(convert_project, wires) if meta is not None]
