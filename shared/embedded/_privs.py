"""Running PostgreSQL's tools as an unprivileged user when we are root.

initdb, pg_ctl and postgres refuse to run as root, and containers and CI boxes
often run everything as root; so there we borrow (or create) a system user and
start the tools through setpriv.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared.embedded._proc import EmbeddedServerError

log = logging.getLogger(__name__)

# Preferred first: the distribution's own postgres user already has sane settings.
_CANDIDATE_USERS = ("postgres", "watershed")
_CREATED_USER = "watershed"


@dataclass(frozen=True)
class RunAs:
    """Who runs the PostgreSQL tools; `prefix` is prepended to every command line."""

    uid: int
    gid: int
    name: str
    prefix: tuple[str, ...]

    @property
    def groups(self) -> frozenset[int]:
        ids = {g.gr_gid for g in grp.getgrall() if self.name in g.gr_mem}
        return frozenset(ids | {self.gid})


def current_run_as() -> RunAs:
    """The identity to run PostgreSQL as: ourselves, or a system user when we are root."""
    if os.geteuid() != 0:
        uid = os.geteuid()
        return RunAs(uid, os.getegid(), pwd.getpwuid(uid).pw_name, ())
    entry = _system_user()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise EmbeddedServerError("running as root needs `setpriv` (util-linux) to drop privileges")
    prefix = (
        setpriv,
        f"--reuid={entry.pw_uid}",
        f"--regid={entry.pw_gid}",
        "--init-groups",
        "--",
    )
    return RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name, prefix)


def _system_user() -> pwd.struct_passwd:
    for name in _CANDIDATE_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    useradd = shutil.which("useradd")
    if useradd is None:
        raise EmbeddedServerError(
            "running as root needs an unprivileged user for PostgreSQL; "
            f"no `postgres` user and no `useradd` to create `{_CREATED_USER}`"
        )
    log.warning("embedded.postgres.create_user name=%s", _CREATED_USER)
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _CREATED_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(_CREATED_USER)


def hand_over(path: Path, who: RunAs) -> None:
    """Make `path` (a directory we created) owned by `who` and reachable from `/`."""
    if os.geteuid() != 0:
        return
    os.chown(path, who.uid, who.gid)
    make_traversable(path.parent, who)


def make_traversable(path: Path, who: RunAs) -> None:
    """Add o+x to the ancestors `who` could not otherwise enter, and to nothing else."""
    groups = who.groups
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == who.uid and st.st_mode & stat.S_IXUSR:
            continue
        if st.st_gid in groups and st.st_mode & stat.S_IXGRP:
            continue
        if st.st_mode & stat.S_IXOTH:
            continue
        log.info("embedded.postgres.chmod_traverse path=%s", directory)
        os.chmod(directory, st.st_mode | stat.S_IXOTH)
