"""What the API's mutations do: publish the control events and jobs the CLI would, never write.

Adding, recollecting, prioritizing and priorities go through the scheduler's own control
(the requests behind ``watershed add-repo``, ``collect``, ``recollect``, ``prioritize`` and
``set-repo``/``set-group``); removing and groups are control events on the STAGING stream
that the processor records. Where the answer needs the
recorded row (a new repository's id, a new group), the request waits for it, as ``collect`` does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Protocol

import asyncpg

from services.scheduler.web import reads
from services.scheduler.web import schemas as s
from services.scheduler.web.router import HttpError
from shared.errors import WatershedError
from shared.events import subjects, v1
from shared.events.jetstream import Publisher
from shared.forge.urls import RepoRef
from shared.settings import Settings

RECORD_TIMEOUT_S = 30.0


class Control(Protocol):
    async def collect(self, request: v1.CollectRequest) -> v1.CollectReply: ...

    async def prioritize(self, request: v1.PrioritizeRequest) -> v1.CollectReply: ...

    async def settings_change(self, request: v1.SettingsRequest) -> v1.SettingsReply: ...


class Backend(Protocol):
    """What the control plane needs of the scheduler it runs in."""

    settings: Settings
    pool: asyncpg.Pool | None
    control: Control

    def publisher(self) -> Publisher: ...


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _publish(backend: Backend, subject: str, event: v1.Struct, msg_id: str | None = None) -> None:
    publisher = backend.publisher()
    await publisher.send(subject, event, msg_id=msg_id)
    await publisher.flush()


async def _wait_for(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = asyncio.get_running_loop().time() + RECORD_TIMEOUT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise HttpError(503, "Not recorded in time", f"{what} was published but not recorded within"
                            f" {RECORD_TIMEOUT_S:.0f}s; is the processor running?")
        await asyncio.sleep(0.05)


def parse_url(backend: Backend, text: str) -> RepoRef:
    try:
        return backend.settings.repo_ref(text)
    except (WatershedError, ValueError) as exc:
        raise HttpError(422, "Not a repository URL", str(exc)) from None


async def _repo_row(conn: asyncpg.Pool | asyncpg.Connection, repo_id: int) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT repo_id, url, state FROM data.repos WHERE repo_id = $1", repo_id)
    if row is None:
        raise HttpError(404, "No such repository", f"There is no repository {repo_id}.")
    return row


def _reply_target(reply: v1.CollectReply) -> v1.CollectTarget:
    (target,) = reply.targets
    if target.repo_id is None:
        # The URL was checked before, so what is left is the processor not answering in time.
        raise HttpError(503, "Not recorded in time", target.error or "the repository was not registered")
    return target


async def add_repo(backend: Backend, pool: asyncpg.Pool, body: s.RepoCreate) -> s.RepoAdded:
    ref = parse_url(backend, body.url)
    existing = await pool.fetchrow("SELECT repo_id, state FROM data.repos WHERE url = $1", ref.url)
    restored = existing is not None and existing["state"] == "removed"
    if restored:
        # Registered again: the processor makes it active (in this group). The message id names
        # this request, so it is no duplicate of the first registration.
        now = _now()
        event = v1.RepoRegistered(url=ref.url, platform=ref.platform, host=ref.host, owner=ref.owner, name=ref.name,
                                  group=body.group, registered_at=now)
        await _publish(backend, subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_REPO_KEY,
                                                       "registered"),
                       event, msg_id=f"{v1.msg_id(event)}:{int(now.timestamp() * 1_000_000)}")

        async def active() -> bool:
            return await pool.fetchval("SELECT state FROM data.repos WHERE url = $1", ref.url) != "removed"

        await _wait_for(active, f"The registration of {ref.url}")
    reply = await backend.control.collect(v1.CollectRequest(urls=[ref.url], dispatch=body.collect, group=body.group))
    target = _reply_target(reply)
    assert target.repo_id is not None
    return s.RepoAdded(url=target.url, repo_id=target.repo_id, created=target.created, restored=restored,
                       jobs=target.jobs)


async def remove_repo(backend: Backend, pool: asyncpg.Pool, repo_id: int) -> s.Accepted:
    row = await _repo_row(pool, repo_id)
    await _publish(backend, subjects.event_subject(subjects.SOURCE_CONTROL, repo_id, "removed"),
                   v1.RepoRemoved(repo_id=repo_id, requested_at=_now()))
    return s.Accepted(detail=f"{row['url']} will no longer be collected; its rows stay. Add its URL again to"
                             " bring it back.")


async def prioritize_repo(backend: Backend, pool: asyncpg.Pool, repo_id: int,
                          body: s.PriorityChange | None) -> s.Accepted:
    """To the front of the queue now (``watershed prioritize``); with a priority, also that
    standing priority from now on (``watershed set-repo --priority``)."""
    row = await _repo_row(pool, repo_id)
    if row["state"] == "removed":
        raise HttpError(409, "Repository removed", f"{row['url']} was removed; add it again to collect it.")
    if body is not None and body.priority is not None:
        await backend.control.settings_change(v1.SettingsRequest(urls=[row["url"]], priority=body.priority))
    await backend.control.prioritize(v1.PrioritizeRequest(urls=[row["url"]]))
    standing = f" and keeps priority {body.priority}" if body is not None and body.priority is not None else ""
    return s.Accepted(detail=f"{row['url']} goes to the front of the queue{standing}.")


async def recollect_repo(backend: Backend, pool: asyncpg.Pool, repo_id: int,
                         body: s.RecollectRequest) -> s.CollectResult:
    row = await _repo_row(pool, repo_id)
    if row["state"] == "removed":
        raise HttpError(409, "Repository removed", f"{row['url']} was removed; add it again to collect it.")
    reply = await backend.control.collect(v1.CollectRequest(urls=[row["url"]], dispatch=True, full=body.full))
    _reply_target(reply)
    return s.CollectResult(targets=reply.targets)


async def _group(pool: asyncpg.Pool, group_id: int) -> s.Group:
    async with pool.acquire() as conn:
        found = await reads.group(conn, group_id)
    if found is None:
        raise HttpError(404, "No such group", f"There is no group {group_id}.")
    return found


async def add_group(backend: Backend, pool: asyncpg.Pool, body: s.GroupCreate) -> tuple[s.Group, bool]:
    """The group, and whether it is new (or had been removed)."""
    async with pool.acquire() as conn:
        existing = await reads.group_by_name(conn, body.name)
    if existing is not None and existing.removed_at is None:
        return existing, False
    await _publish(backend, subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_GROUP_KEY, "added"),
                   v1.GroupAdded(name=body.name, requested_at=_now()))
    found: list[s.Group] = []

    async def recorded() -> bool:
        async with pool.acquire() as conn:
            group = await reads.group_by_name(conn, body.name)
        if group is not None and group.removed_at is None:
            found.append(group)
        return bool(found)

    await _wait_for(recorded, f"The group {body.name!r}")
    return found[0], True


async def remove_group(backend: Backend, pool: asyncpg.Pool, group_id: int) -> s.Accepted:
    group = await _group(pool, group_id)
    if group.name == "default":
        raise HttpError(409, "The default group stays", "Repositories registered without a group land in it.")
    await _publish(backend, subjects.event_subject(subjects.SOURCE_CONTROL, subjects.CONTROL_GROUP_KEY, "removed"),
                   v1.GroupRemoved(group_id=group_id, requested_at=_now()))
    return s.Accepted(detail=f"The group {group.name!r} and its {group.repos} active repositories are removed;"
                             " their rows stay.")


async def prioritize_group(backend: Backend, pool: asyncpg.Pool, group_id: int,
                           body: s.PriorityChange | None) -> s.Accepted:
    """Every repository of the group to the front now; with a priority, also the group's
    standing priority (``watershed set-group --priority``) for its repositories without their own."""
    group = await _group(pool, group_id)
    if body is not None and body.priority is not None:
        await backend.control.settings_change(v1.SettingsRequest(group=group.name, priority=body.priority))
    async with pool.acquire() as conn:
        urls = await reads.group_urls(conn, group_id)
    if urls:
        await backend.control.prioritize(v1.PrioritizeRequest(urls=urls))
    standing = f"; the group keeps priority {body.priority}" if body is not None and body.priority is not None else ""
    return s.Accepted(detail=f"The {len(urls)} repositories of {group.name!r} go to the front of the queue{standing}.")


async def recollect_group(backend: Backend, pool: asyncpg.Pool, group_id: int,
                          body: s.RecollectRequest) -> s.CollectResult:
    await _group(pool, group_id)
    async with pool.acquire() as conn:
        urls = await reads.group_urls(conn, group_id)
    if not urls:
        return s.CollectResult(targets=[])
    reply = await backend.control.collect(v1.CollectRequest(urls=urls, dispatch=True, full=body.full))
    return s.CollectResult(targets=reply.targets)
