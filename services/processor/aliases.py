"""Commit emails and their accounts (the resolver's ``AliasesObserved``) into
``data.contributor_aliases``.

A found account is never replaced by "no account", and a weaker source never replaces a
stronger one for another account (a noreply address names its account outright; a public
email may be stale). Times come from the event, so a replay writes the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from services.processor.columns import Columns, ContributorIndex
from shared.events import v1

# Higher wins when two sources disagree about an address.
_RANK = {"noreply": 4, "commit_lookup": 3, "pr_commit": 3, "public_email": 2, "none": 0}

_UPSERT = """
INSERT INTO data.contributor_aliases AS a (namespace, email, cntrb_id, source, checked_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[])
ON CONFLICT (namespace, email) DO UPDATE SET cntrb_id = excluded.cntrb_id, source = excluded.source,
    checked_at = excluded.checked_at
WHERE (a.cntrb_id IS NULL AND (excluded.cntrb_id IS NOT NULL OR excluded.checked_at > a.checked_at))
   OR (excluded.cntrb_id IS NOT NULL AND excluded.cntrb_id <> a.cntrb_id
       AND data.alias_rank(excluded.source) >= data.alias_rank(a.source))
"""


def rank(source: str) -> int:
    return _RANK.get(source, 1)


def see_aliases(events: Iterable[Any], people: ContributorIndex) -> None:
    for event in events:
        if isinstance(event, v1.AliasesObserved):
            for alias in event.items:
                people.see(alias.namespace, alias.user)


async def apply_aliases(conn: asyncpg.Connection, events: Iterable[Any], people: ContributorIndex) -> int:
    """Write the batch's aliases (after its contributors); the newest finding per address wins."""
    latest: dict[tuple[str, str], v1.Alias] = {}
    for event in events:
        if isinstance(event, v1.AliasesObserved):
            for alias in event.items:
                key = (alias.namespace, alias.email.lower())
                known = latest.get(key)
                if known is None or _better(alias, known):
                    latest[key] = alias
    if not latest:
        return 0
    rows = Columns(("namespace", "email", "cntrb_id", "source", "checked_at"))
    for (namespace, email), alias in latest.items():
        rows.add(namespace, email, people.see(namespace, alias.user), alias.source, alias.checked_at)
    status = await conn.execute(_UPSERT, *rows.data)
    return int(status.rsplit(" ", 1)[1])


def _better(new: v1.Alias, old: v1.Alias) -> bool:
    if (new.user is None) != (old.user is None):
        return new.user is not None
    if rank(new.source) != rank(old.source):
        return rank(new.source) > rank(old.source)
    return new.checked_at > old.checked_at
