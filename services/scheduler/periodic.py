"""Periodic work on one scheduler replica at a time: a lease in a JetStream key-value bucket.

The lease is a key whose bucket has a TTL (the lease's): the holder renews it by revision every
third of the TTL; a holder that dies or loses NATS stops renewing, the key expires, and another
replica creates it. A holder considers the lease held only until a safe margin before the TTL
runs out since its last renewal, so two replicas never both think they hold it for longer than
clocks can disagree. When each task last ran is kept in a second bucket, so a new holder goes on
with the rhythm instead of starting every task over.

Whatever a task dispatches is also named by its period (``slot``), so even two holders in a
split second publish the same job ids and JetStream keeps one.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from shared.events import subjects
from shared.logging import BoundLogger

SAFETY = 0.8  # of the TTL: how long after a renewal the holder still acts as one
RETRY_FAILED_S = 60.0  # a task that failed runs again after this long (or its interval, if shorter)


def holder_id() -> str:
    """Who holds a lease, for people reading the bucket: host, process, and a nonce."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


async def bucket(js: JetStreamContext, name: str, *, ttl_s: float | None = None) -> KeyValue:
    """The bucket, created on first use (the first replica's TTL is the bucket's)."""
    try:
        return await js.key_value(name)
    except (BucketNotFoundError, NotFoundError):
        pass
    config = js_api.KeyValueConfig(bucket=name, history=1, ttl=ttl_s, storage=js_api.StorageType.FILE,
                                   description="watershed coordination")
    try:
        return await js.create_key_value(config)
    except Exception:  # noqa: BLE001 - another replica created it first
        return await js.key_value(name)


class Lease:
    def __init__(self, kv: KeyValue, key: str, holder: str, ttl_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.kv = kv
        self.key = key
        self.holder = holder
        self.ttl_s = ttl_s
        self._clock = clock
        self._revision: int | None = None
        self._until = 0.0

    @property
    def held(self) -> bool:
        return self._clock() < self._until

    async def refresh(self) -> bool:
        """Take the lease if it is free, renew it if ours; False when someone else holds it."""
        started = self._clock()
        try:
            if self._revision is None:
                self._revision = await self.kv.create(self.key, self.holder.encode())
            else:
                self._revision = await self.kv.update(self.key, self.holder.encode(), last=self._revision)
        except KeyWrongLastSequenceError:
            # Someone else's, or ours expired and was taken (or is gone: create next time).
            self._revision, self._until = None, 0.0
            return False
        self._until = started + self.ttl_s * SAFETY
        return True

    async def release(self) -> None:
        if self._revision is not None:
            with suppress(Exception):
                await self.kv.delete(self.key, last=self._revision)
        self._revision, self._until = None, 0.0

    async def holder_now(self) -> str | None:
        try:
            entry = await self.kv.get(self.key)
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval_s: float
    run: Callable[[int], Awaitable[None]]  # given the period's slot number

    def slot(self, now: float) -> int:
        return int(now // self.interval_s)


class Periodic:
    """Runs the tasks on the lease holder; every replica runs one, only one does the work."""

    def __init__(self, js: JetStreamContext, tasks: list[PeriodicTask], *, ttl_s: float, log: BoundLogger,
                 holder: str | None = None, poll_s: float = 1.0) -> None:
        self.js = js
        self.tasks = [t for t in tasks if t.interval_s > 0]
        self.ttl_s = ttl_s
        self.holder = holder or holder_id()
        self.poll_s = poll_s
        self.log = log
        self.lease: Lease | None = None
        self._last: KeyValue | None = None
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []
        self._failed: dict[str, float] = {}
        self.runs = 0

    async def start(self) -> None:
        if not self.tasks:
            return
        leases = await bucket(self.js, subjects.LEASES_BUCKET, ttl_s=self.ttl_s)
        self._last = await bucket(self.js, subjects.PERIODIC_BUCKET)
        self.lease = Lease(leases, subjects.PERIODIC_LEASE, self.holder, self.ttl_s)
        self._loops = [asyncio.create_task(self._keep_lease(), name="periodic-lease"),
                       asyncio.create_task(self._work(), name="periodic-work")]

    async def stop(self) -> None:
        self._stopping.set()
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with suppress(asyncio.CancelledError, Exception):
                await loop
        if self.lease is not None:
            await self.lease.release()

    def healthy(self) -> bool:
        return all(not loop.done() for loop in self._loops)

    async def _keep_lease(self) -> None:
        assert self.lease is not None
        was = False
        while not self._stopping.is_set():
            try:
                held = await self.lease.refresh()
            except Exception:  # noqa: BLE001 - NATS away: the lease lapses by itself
                held = False
                self.log.warning("lease.refresh_failed")
            if held != was:
                self.log.info("lease.taken" if held else "lease.lost", holder=self.holder)
                was = held
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.ttl_s / 3)

    async def _work(self) -> None:
        while not self._stopping.is_set():
            if self.lease is not None and self.lease.held:
                for task in self.tasks:
                    if self._stopping.is_set() or not self.lease.held:
                        break
                    try:
                        await self._maybe_run(task)
                    except Exception:  # noqa: BLE001 - the bucket unreachable: look again next time
                        self.log.warning("periodic.unavailable", task=task.name)
            with suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_s)

    async def _maybe_run(self, task: PeriodicTask) -> None:
        assert self._last is not None
        now = time.time()
        try:
            entry = await self._last.get(task.name)
            last = float(entry.value.decode()) if entry.value else None
        except KeyNotFoundError:
            last = None
        if last is not None and now - last < task.interval_s:
            return
        if now - self._failed.get(task.name, 0.0) < min(task.interval_s, RETRY_FAILED_S):
            return
        started = time.perf_counter()
        try:
            await task.run(task.slot(now))
        except Exception:  # noqa: BLE001 - tried again a little later
            self._failed[task.name] = now
            self.log.exception("periodic.failed", task=task.name)
            return
        self._failed.pop(task.name, None)
        self.runs += 1
        await self._last.put(task.name, repr(now).encode())
        self.log.info("periodic.ran", task=task.name, seconds=round(time.perf_counter() - started, 3),
                      at=datetime.fromtimestamp(now, timezone.utc).isoformat())
