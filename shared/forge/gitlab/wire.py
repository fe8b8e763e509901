"""The GitLab REST v4 shapes we read, as msgspec structs.

Only the fields Watershed uses are declared; msgspec ignores the rest, so GitLab adding
fields never breaks decoding. Fields GitLab leaves out of some answers (``simple=true``,
anonymous requests, older versions) have defaults.
"""

from __future__ import annotations

from datetime import datetime

import msgspec


class Wire(msgspec.Struct, frozen=True, kw_only=True):
    """Base of GitLab REST shapes."""


class WireNamespace(Wire):
    id: int
    full_path: str
    path: str = ""
    kind: str = ""  # group | user


class WireForkedFrom(Wire):
    id: int


class WireLicense(Wire):
    key: str | None = None


class WireProject(Wire):
    """An item of ``GET /groups/:id/projects``."""

    id: int
    path: str
    path_with_namespace: str
    namespace: WireNamespace | None = None
    description: str | None = None
    default_branch: str | None = None
    web_url: str | None = None
    http_url_to_repo: str | None = None
    star_count: int = 0
    forks_count: int = 0
    open_issues_count: int | None = None  # absent when issues are turned off
    archived: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_activity_at: datetime | None = None
    forked_from_project: WireForkedFrom | None = None
    license: WireLicense | None = None


class WireGroup(Wire):
    """``GET /groups/:id``."""

    id: int
    full_path: str
    name: str | None = None
    web_url: str | None = None


projects_decoder = msgspec.json.Decoder(list[WireProject])
group_decoder = msgspec.json.Decoder(WireGroup)
