"""A PostgreSQL cluster in a directory of our own, for development and tests.

Layout of `data_dir` (owned by the user PostgreSQL runs as):

    pgdata/          the cluster (initdb on first start)
    run/             the unix socket directory
    postgres.log     the server's log (pg_ctl -l)
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from shared.embedded._privs import RunAs, current_run_as, hand_over, make_traversable
from shared.embedded._proc import EmbeddedServerError, pid_alive, process_cmdline, tail

log = logging.getLogger(__name__)

DATABASE = "watershed"
SUPERUSER = "postgres"
_TOOLS = ("initdb", "pg_ctl", "postgres")
_TIMEOUT_S = 60
# sun_path holds 108 bytes; PostgreSQL appends "/.s.PGSQL.NNNNN" to the directory.
_MAX_SOCKET_DIR = 107 - len("/.s.PGSQL.65535")

_SETTINGS = """\
# Written by shared.embedded.postgres on every start; edits here are overwritten.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
max_connections = 200
shared_buffers = 128MB
"""

_HBA = """\
# Written by shared.embedded.postgres: trust, but only over the socket and loopback.
local all all trust
host  all all 127.0.0.1/32 trust
"""


def find_postgres_bindir() -> Path:
    """PostgreSQL's bin dir: the pgserver wheel's bundled build, else the system's."""
    candidates: list[Path] = []
    # find_spec does not import pgserver, whose import has side effects we do not need.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if result.returncode == 0:
            candidates.append(Path(result.stdout.strip()))
    versioned = Path("/usr/lib/postgresql").glob("*/bin")
    candidates.extend(sorted(versioned, key=lambda p: _major(p.parent.name), reverse=True))
    for bindir in candidates:
        if all((bindir / tool).is_file() for tool in _TOOLS):
            return bindir
    raise EmbeddedServerError(
        "PostgreSQL binaries (initdb, pg_ctl, postgres) not found in the pgserver wheel, "
        f"`pg_config --bindir` nor /usr/lib/postgresql/*/bin; tried {[str(c) for c in candidates]}"
    )


async def _wait_shared_memory_released(pid_file: Path, timeout: float = 10.0) -> None:
    try:
        # Line 7 of postmaster.pid: "<key> <shmid>" of the SysV segment the backends attach.
        shmid = pid_file.read_text().splitlines()[6].split()[1]
    except (OSError, IndexError):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline and _shm_attached(shmid):
        await asyncio.sleep(0.05)


def _shm_attached(shmid: str) -> bool:
    try:
        rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return False
    # Columns: key shmid perms size cpid lpid nattch ...
    return any(r.split()[1] == shmid and int(r.split()[6]) > 0 for r in rows if r.strip())


def _write_owned(path: Path, text: str, run_as: RunAs | None) -> None:
    path.write_text(text)
    if run_as is not None and os.geteuid() == 0:
        os.chown(path, run_as.uid, run_as.gid)


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


class EmbeddedPostgres:
    """A cluster on 127.0.0.1:`port`; one owner per data dir (EmbeddedStack locks for that)."""

    def __init__(self, data_dir: Path, port: int, *, database: str = DATABASE) -> None:
        self._data_dir = Path(data_dir).resolve()
        self._port = port
        self._database = database
        self._run_as: RunAs | None = None
        self._started = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def user(self) -> str:
        return SUPERUSER

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/{self._database}"

    @property
    def log_path(self) -> Path:
        return self._data_dir / "postgres.log"

    @property
    def cluster_dir(self) -> Path:
        return self._data_dir / "pgdata"

    @property
    def running(self) -> bool:
        return self._started

    async def start(self) -> None:
        if self._started:
            return
        loop = asyncio.get_running_loop()
        began = loop.time()
        bindir = find_postgres_bindir()
        run_as = self._run_as = current_run_as()
        self._data_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self._data_dir, 0o700)
        hand_over(self._data_dir, run_as)
        if os.geteuid() == 0:
            make_traversable(bindir, run_as)
        if not (self.cluster_dir / "PG_VERSION").exists():
            await self._initdb(bindir)
        self._write_settings(run_as)
        await self.reap_orphan()
        code, output = await self._run(
            bindir / "pg_ctl", "start", "-w", "-t", str(_TIMEOUT_S), "-s",
            "-D", str(self.cluster_dir), "-l", str(self.log_path),
        )  # fmt: skip
        if code != 0:
            raise EmbeddedServerError(
                f"pg_ctl start failed ({code}): {output.strip()}\n"
                f"last lines of {self.log_path}:\n{tail(self.log_path)}"
            )
        self._started = True
        try:
            await self._ensure_database()
        except BaseException:
            await self.stop()
            raise
        log.info(
            "embedded.postgres.started dsn=%s bindir=%s seconds=%.3f",
            self.dsn,
            bindir,
            loop.time() - began,
        )

    async def stop(self) -> None:
        self._started = False
        if not (self.cluster_dir / "postmaster.pid").exists():
            return
        bindir = find_postgres_bindir()
        pg_ctl = bindir / "pg_ctl"
        code, output = await self._run(
            pg_ctl, "stop", "-m", "fast", "-w", "-t", str(_TIMEOUT_S), "-s", "-D", str(self.cluster_dir)
        )
        if code != 0 and (self.cluster_dir / "postmaster.pid").exists():
            log.warning("embedded.postgres.stop_immediate reason=%s", output.strip())
            await self._run(pg_ctl, "stop", "-m", "immediate", "-w", "-s", "-D", str(self.cluster_dir))
        log.info("embedded.postgres.stopped dir=%s", self.cluster_dir)

    async def _initdb(self, bindir: Path) -> None:
        log.info("embedded.postgres.initdb dir=%s", self.cluster_dir)
        code, output = await self._run(
            bindir / "initdb", "-D", str(self.cluster_dir), "-U", SUPERUSER,
            "-E", "UTF8", "--locale=C", "--auth=trust", "--no-instructions",
        )  # fmt: skip
        if code != 0:
            # A half-made cluster would make every later start fail in a confusing way.
            shutil.rmtree(self.cluster_dir, ignore_errors=True)
            raise EmbeddedServerError(f"initdb failed ({code}):\n{output}")
        _write_owned(self.cluster_dir / "pg_hba.conf", _HBA, self._run_as)
        with (self.cluster_dir / "postgresql.conf").open("a") as conf:
            conf.write("\ninclude = 'watershed.conf'\n")

    def _write_settings(self, run_as: RunAs) -> None:
        settings = _SETTINGS.format(port=self._port, socket_dir=self._socket_dir(run_as))
        _write_owned(self.cluster_dir / "watershed.conf", settings, run_as)

    def _socket_dir(self, run_as: RunAs) -> Path:
        wanted = self._data_dir / "run"
        if len(str(wanted)) > _MAX_SOCKET_DIR:
            # Deep data dirs overflow sun_path; the socket is a convenience, TCP still works.
            wanted = Path(tempfile.gettempdir()) / f"watershed-pg-{self._port}"
            log.warning("embedded.postgres.socket_dir_moved dir=%s", wanted)
        wanted.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(wanted, run_as.uid, run_as.gid)
        return wanted

    async def reap_orphan(self) -> None:
        """Deal with the postmaster.pid a previous owner left: orphaned or stale (kill -9)."""
        if self._started:
            return
        pid_file = self.cluster_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        if pid_alive(pid) and str(self.cluster_dir) in process_cmdline(pid):
            # Still running after its owner died; restart it so it takes our settings (port).
            log.warning("embedded.postgres.stop_orphan pid=%s", pid)
            await self.stop()
            return
        # The postmaster died (kill -9, OOM) but postgres would refuse to start if its pid is a
        # zombie nobody reaps or was reused. Its backends may outlive it for a moment, so wait
        # until they let go of the shared memory before removing the lock.
        log.warning("embedded.postgres.stale_pid_file pid=%s", pid)
        await _wait_shared_memory_released(pid_file)
        pid_file.unlink(missing_ok=True)

    async def _ensure_database(self) -> None:
        maintenance = f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/postgres"
        conn = await asyncpg.connect(maintenance, timeout=_TIMEOUT_S)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", self._database
            )
            if not exists:
                # Identifiers cannot be bound as parameters; quote it the server's way.
                quoted = await conn.fetchval("SELECT quote_ident($1)", self._database)
                await conn.execute(f"CREATE DATABASE {quoted}")
        finally:
            await conn.close()

    async def _run(self, tool: Path, *args: str) -> tuple[int, str]:
        run_as = self._run_as or current_run_as()
        # Inherited PG* variables (PGDATA, PGPORT, ...) would override what we pass.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        process = await asyncio.create_subprocess_exec(
            *run_as.prefix,
            str(tool),
            *args,
            cwd=self._data_dir,  # the tools fail if they cannot read their working directory
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode(errors="replace")
