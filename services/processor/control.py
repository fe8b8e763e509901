"""What people asked for through the REST API (or the CLI), recorded in stream order.

Registrations and the API's control events go through one loop, in the order they were
published: a repository removed and registered again in the same batch ends up active, as it
would one message at a time. Every statement is an idempotent set, so a redelivered or
replayed request changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from services.processor.jobs import register_repos
from shared.events import v1

Request = v1.RepoRegistered | v1.RepoRemoved | v1.RepoPrioritized | v1.GroupAdded | v1.GroupRemoved | v1.GroupPrioritized
REQUEST_TYPES = (v1.RepoRegistered, v1.RepoRemoved, v1.RepoPrioritized, v1.GroupAdded, v1.GroupRemoved,
                 v1.GroupPrioritized)


async def apply_requests(conn: asyncpg.Connection, events: Sequence[Request]) -> list[v1.RepoAdded]:
    added: list[v1.RepoAdded] = []
    for e in events:
        if isinstance(e, v1.RepoRegistered):
            added.extend(await register_repos(conn, [e]))
        elif isinstance(e, v1.RepoRemoved):
            await conn.execute(
                "UPDATE data.repos SET state = 'removed', state_reason = 'removed through the API'"
                " WHERE repo_id = $1", e.repo_id)
        elif isinstance(e, v1.RepoPrioritized):
            await conn.execute("UPDATE data.repos SET priority = $2 WHERE repo_id = $1", e.repo_id, e.priority)
        elif isinstance(e, v1.GroupAdded):
            await conn.execute(
                "INSERT INTO data.repo_groups (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET removed_at = NULL",
                e.name)
        elif isinstance(e, v1.GroupRemoved):
            await conn.execute(
                "UPDATE data.repo_groups SET removed_at = coalesce(removed_at, $2) WHERE repo_group_id = $1",
                e.group_id, e.requested_at)
            await conn.execute(
                "UPDATE data.repos SET state = 'removed', state_reason = 'its group was removed through the API'"
                " WHERE repo_group_id = $1", e.group_id)
        elif isinstance(e, v1.GroupPrioritized):
            await conn.execute("UPDATE data.repo_groups SET priority = $2 WHERE repo_group_id = $1",
                               e.group_id, e.priority)
            await conn.execute("UPDATE data.repos SET priority = $2 WHERE repo_group_id = $1",
                               e.group_id, e.priority)
    return added
