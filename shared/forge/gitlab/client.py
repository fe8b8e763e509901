"""GitLab REST v4 client: the I/O edge for GitLab's groups. The request loop (tokens, retries,
rate limits from ``RateLimit-*`` and ``Retry-After``, Link paging) is
:class:`shared.forge.rest.RestClient`'s; conversion is in :mod:`convert`.

- :meth:`GitLabClient.get_group`: ``GET /groups/:id`` (``:id`` the URL-encoded full path),
  which says whether the group exists and gives its stable numeric id;
- :meth:`GitLabClient.iter_group_projects`: ``GET /groups/:id/projects`` with
  ``include_subgroups=true`` (every project of every subgroup) and ``with_shared=false`` (not
  the projects of other groups shared with this one), archived ones included, ordered by id,
  paged by ``Link`` (``X-Next-Page`` as the fallback).

Tokens go in ``PRIVATE-TOKEN``; without one, public groups list anonymously (GitLab answers a
private group with a 404 then).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from shared.errors import NotFoundError
from shared.events.v1 import RepoMeta
from shared.forge.gitlab import wire
from shared.forge.gitlab.convert import convert_projects
from shared.forge.rest import USER_AGENT, RestClient


@dataclass(frozen=True)
class Group:
    full_path: str  # as GitLab spells it
    platform_id: int


class GitLabClient(RestClient):
    forge = "GitLab"

    def _headers(self, token: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token is not None:
            headers["PRIVATE-TOKEN"] = token
        return headers

    def _group_path(self, full_path: str) -> str:
        return f"/groups/{quote(full_path, safe='')}"

    async def get_group(self, full_path: str) -> Group:
        what = f"{self.host}/{full_path}"
        try:
            data, _ = await self._get(self._group_path(full_path), {"with_projects": "false"}, wire.group_decoder,
                                      what, "group")
        except NotFoundError as exc:
            hint = "" if not self.pool.anonymous else "; a private group needs a token"
            raise NotFoundError(f"{exc.message} (a project or a user's namespace is no group{hint})",
                                status=exc.status) from None
        return Group(full_path=data.full_path, platform_id=data.id)

    async def iter_group_projects(self, group: Group) -> AsyncIterator[list[RepoMeta]]:
        """Every project of the group and its subgroups, one list per page."""
        params = {"include_subgroups": "true", "with_shared": "false", "order_by": "id", "sort": "asc",
                  "per_page": str(self.per_page)}
        what = f"{self.host}/{group.full_path}"
        async for page in self._pages(f"{self._group_path(group.full_path)}/projects", params, wire.projects_decoder,
                                      what, "projects"):
            yield convert_projects(page)
