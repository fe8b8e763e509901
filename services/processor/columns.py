"""Column-major rows and the per-batch contributor index, shared by the row builders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from shared.affiliations import Matcher
from shared.events import v1
from shared.ids import contributor_id
from shared.text import clean


@dataclass
class Columns:
    """Column-major rows: ``names`` and one list per name."""

    names: tuple[str, ...]
    data: list[list[object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.data:
            self.data = [[] for _ in self.names]

    def add(self, *values: object) -> None:
        for column, value in zip(self.data, values, strict=True):
            column.append(value)

    def __len__(self) -> int:
        return len(self.data[0]) if self.data else 0


class ContributorIndex:
    """Collects every user seen in a batch; one row per user, ids derived, not looked up."""

    def __init__(self) -> None:
        self._users: dict[uuid.UUID, tuple[str, v1.User]] = {}

    def see(self, platform: str, user: v1.User | None) -> uuid.UUID | None:
        if user is None:
            return None
        cid = contributor_id(platform, user.platform_id)
        known = self._users.get(cid)
        # Richer records (with name/email) win over the bare ones embedded in lists.
        if known is None or (user.name or user.email or user.created_at) and not (known[1].name or known[1].email):
            self._users[cid] = (platform, user)
        return cid

    def columns(self, affiliations: Matcher | None = None) -> Columns:
        cols = Columns(("cntrb_id", "platform", "platform_user_id", "login", "node_id", "kind", "name",
                        "email", "avatar_url", "html_url", "created_at", "affiliation"))
        for cid, (platform, u) in self._users.items():
            email = clean(u.email)
            cols.add(cid, platform, u.platform_id, clean(u.login), u.node_id or None, u.kind, clean(u.name),
                     email, u.avatar_url or None, u.html_url or None, u.created_at,
                     affiliations.current(email) if affiliations is not None and email else None)
        return cols
