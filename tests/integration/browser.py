"""A headless Chromium for browser tests: Debian's ``chromium`` package, driven by Playwright.

Playwright's own browser download is never used (``playwright install`` fetches a build from
outside the package registries). When chromium is missing and this process may use apt (root,
``apt-get`` present), the ``chromium_path`` fixture installs Debian's package once, under a
lock so concurrent test runs on one machine take turns; only when that is impossible does it
skip, saying why.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
# From the field notes: what headless chromium needs in a container, and nothing phoning home.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage"]
APT_TIMEOUT_S = 900
_LOCK = Path(tempfile.gettempdir()) / "watershed-chromium-install.lock"


def find_chromium() -> str | None:
    return next((path for path in CANDIDATES if os.access(path, os.X_OK)), None)


def _why_no_apt() -> str | None:
    if os.name != "posix" or os.geteuid() != 0:
        return "chromium is not installed and installing it needs root (apt-get install chromium)"
    if shutil.which("apt-get") is None:
        return "chromium is not installed and there is no apt-get to install it with"
    return None


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    with open(_LOCK, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # apt's own lock may be held by another installer: wait for it rather than fail.
    return subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", *args], env=env, capture_output=True,
                          text=True, timeout=APT_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)


def install_chromium() -> tuple[str | None, str]:
    """(path, "") once installed; (None, why not) otherwise."""
    with _install_lock():
        if (found := find_chromium()) is not None:
            return found, ""  # another run installed it while we waited
        try:
            result = _apt("install", "-y", "--no-install-recommends", "chromium")
            if result.returncode != 0:
                # A fresh machine has no package lists yet.
                update = _apt("update")
                if update.returncode != 0:
                    return None, f"apt-get update failed: {update.stderr.strip()[-300:]}"
                result = _apt("install", "-y", "--no-install-recommends", "chromium")
        except subprocess.TimeoutExpired:
            return None, f"apt-get did not finish within {APT_TIMEOUT_S}s"
        if result.returncode != 0:
            return None, f"apt-get install chromium failed: {result.stderr.strip()[-300:]}"
    found = find_chromium()
    return (found, "") if found else (None, f"chromium installed but not found at {' or '.join(CANDIDATES)}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    pytest.importorskip("playwright", reason="the test extra installs playwright (pip install playwright)")
    if (found := find_chromium()) is not None:
        return found
    if (why := _why_no_apt()) is not None:
        pytest.skip(why)
    found, why = install_chromium()
    if found is None:
        pytest.skip(why)
    return found
