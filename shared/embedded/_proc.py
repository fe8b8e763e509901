"""Process, port and file helpers shared by the embedded servers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from pathlib import Path

# Ports this machine's own services (and their usual neighbours) listen on; an
# embedded server must never take them, even when they are free at the moment.
RESERVED_PORTS = frozenset({4222, 5432, 6222, 8222})


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be found, started or stopped."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Without SO_REUSEADDR a port in TIME_WAIT from our own last run would look taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(exclude: frozenset[int] | set[int] = frozenset()) -> int:
    """A port that is free now; the caller races anyone else for it, which is acceptable here."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in RESERVED_PORTS and port not in exclude:
            return port
    raise EmbeddedServerError("no free TCP port found on 127.0.0.1")


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    # An unreaped zombie still answers kill(pid, 0), e.g. a daemon whose parent is a
    # container's pid 1 that never reaps.
    return not _is_zombie(pid)


def process_cmdline(pid: int) -> str:
    """The command line of a live process ('' when unknown, e.g. not on Linux)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:])


def write_atomic(path: Path, text: str) -> None:
    # Readers in other processes must never see a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def wait_pid_exit(pid: int, timeout: float) -> bool:
    """Wait for a process we did not spawn (so cannot wait() on) to vanish."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if not pid_alive(pid):
            return True
        await asyncio.sleep(0.02)
    return False


def _is_zombie(pid: int) -> bool:
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    return False


async def terminate_pid(pid: int, timeout: float) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        if not await wait_pid_exit(pid, timeout):
            os.kill(pid, signal.SIGKILL)
            await wait_pid_exit(pid, 5.0)
