"""NATS and PostgreSQL together in one data dir, findable by other processes.

`<data_dir>/stack.json` keeps the ports chosen on the first start (so URLs stay the same
across restarts) and, while the stack runs, the owner's pid and URLs. `<data_dir>/stack.lock`
is held with flock by the owner: the kernel drops it when the owner dies, however it dies,
so a second owner can never start the same servers twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self
from urllib.parse import urlsplit

import platformdirs

from shared.embedded._proc import (
    EmbeddedServerError,
    free_port,
    pid_alive,
    port_answers,
    port_is_free,
    write_atomic,
)
from shared.embedded.nats import EmbeddedNats
from shared.embedded.postgres import EmbeddedPostgres

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"
LOCK_FILE = "stack.lock"


class StackAlreadyRunning(EmbeddedServerError):
    """Another live process owns the stack in this data dir."""


@dataclass(frozen=True)
class StackInfo:
    nats_url: str
    database_url: str
    http_url: str | None
    pid: int


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("watershed"))


def discover_running(data_dir: Path | None = None) -> StackInfo | None:
    """The stack another process runs in `data_dir`, or None if it is not (or no longer) up."""
    state = _read_state(Path(data_dir) if data_dir is not None else default_data_dir())
    try:
        info = StackInfo(
            nats_url=str(state["nats_url"]),
            database_url=str(state["database_url"]),
            http_url=str(state["http_url"]) if state.get("http_url") else None,
            pid=int(state["pid"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not pid_alive(info.pid):
        return None
    for url in (info.nats_url, info.database_url):
        port = urlsplit(url).port
        if port is None or not port_answers(port):
            return None
    return info


def _read_state(data_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads((data_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


class EmbeddedStack:
    """Owns an EmbeddedNats and an EmbeddedPostgres under `data_dir` (`nats/`, `postgres/`)."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self._data_dir = (Path(data_dir) if data_dir is not None else default_data_dir()).resolve()
        self._lock: IO[str] | None = None
        self._nats: EmbeddedNats | None = None
        self._postgres: EmbeddedPostgres | None = None
        self._http_url: str | None = None

    @property
    def data_dir(self) -> Path:
        return self._data_dir

    @property
    def info(self) -> StackInfo:
        if self._nats is None or self._postgres is None:
            raise EmbeddedServerError("the stack is not running")
        return StackInfo(self._nats.url, self._postgres.dsn, self._http_url, os.getpid())

    @property
    def nats_url(self) -> str:
        return self.info.nats_url

    @property
    def database_url(self) -> str:
        return self.info.database_url

    async def start(self) -> StackInfo:
        if self._nats is not None:
            return self.info
        self._data_dir.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            state = _read_state(self._data_dir)
            nats_port, pg_port = await self._choose_ports(state)
            self._nats = EmbeddedNats(self._data_dir / "nats", nats_port)
            self._postgres = EmbeddedPostgres(self._data_dir / "postgres", pg_port)
            await self._nats.start()
            await self._postgres.start()
        except BaseException:
            await self.stop()
            raise
        self._write_state()
        log.info("embedded.stack.started dir=%s", self._data_dir)
        return self.info

    async def stop(self) -> None:
        nats, self._nats = self._nats, None
        postgres, self._postgres = self._postgres, None
        try:
            if postgres is not None:
                await postgres.stop()
            if nats is not None:
                await nats.stop()
        finally:
            if self._lock is not None:
                self._write_state(running=False)
                self._release_lock()
        self._http_url = None

    def record_http_url(self, url: str) -> None:
        """Publish the owner's HTTP address (API, metrics) next to the server URLs."""
        self._http_url = url
        if self._nats is not None:
            self._write_state()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _choose_ports(self, state: dict[str, Any]) -> tuple[int, int]:
        # Servers a dead owner left behind would hold the persisted ports; we hold the lock,
        # so whatever still runs on these data dirs is an orphan.
        await EmbeddedNats(self._data_dir / "nats", 0).reap_orphan()
        await EmbeddedPostgres(self._data_dir / "postgres", 0).reap_orphan()
        chosen: list[int] = []
        for key in ("nats_port", "postgres_port"):
            port = state.get(key)
            if not isinstance(port, int) or port in chosen or not port_is_free(port):
                if isinstance(port, int):
                    log.warning("embedded.stack.port_taken key=%s port=%s", key, port)
                port = free_port(exclude=set(chosen))
            chosen.append(port)
        return chosen[0], chosen[1]

    def _write_state(self, *, running: bool = True) -> None:
        state: dict[str, Any] = {
            "nats_port": self._nats.port if self._nats else None,
            "postgres_port": self._postgres.port if self._postgres else None,
        }
        if not running or self._nats is None or self._postgres is None:
            # Keep the ports for the next start; drop what says "running".
            previous = _read_state(self._data_dir)
            state = {k: previous.get(k) for k in ("nats_port", "postgres_port")}
        else:
            state.update(asdict(self.info))
        write_atomic(self._data_dir / STATE_FILE, json.dumps(state, indent=2) + "\n")

    def _acquire_lock(self) -> None:
        lock = (self._data_dir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            owner = lock.read().strip() or "unknown"
            lock.close()
            raise StackAlreadyRunning(
                f"the stack in {self._data_dir} is already run by pid {owner}"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        with contextlib.suppress(OSError):
            lock.truncate(0)
        lock.close()
