"""Bare git repositories served over dumb HTTP (``/git/<name>.git/...``), for the fake forges:
copies made with :func:`make_dumb_http_copy`, looked up by a key the forge chooses (GitHub's
lower-case full name, GitLab's project id), files served read-only from inside the copy."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from shared.fakeforge._http import Reply
from shared.fakeforge.gitrepo import make_dumb_http_copy

GIT_PREFIX = "/git/"
_GIT_TYPES = {
    "info/refs": "text/plain; charset=utf-8",
    "HEAD": "text/plain",
    "objects/info/packs": "text/plain; charset=utf-8",
}
def missing() -> Reply:
    return Reply(404, {"content-type": "text/plain"}, b"Repository not found.\n")


def split_git_path(path: str) -> tuple[str, str] | None:
    """``/git/<name>.git/<inner>`` → (name, inner); None for anything else."""
    if not path.startswith(GIT_PREFIX):
        return None
    name, sep, inner = path[len(GIT_PREFIX):].partition(".git/")
    return (name, inner) if sep else None


class GitRepos:
    def __init__(self, prefix: str = "fakeforge-git-") -> None:
        self._prefix = prefix
        self._root: Path | None = None
        self._repos: dict[str, Path] = {}
        self._lock = threading.Lock()

    def add(self, key: str, relative: str, source: Path) -> None:
        """Serve a bare copy of the git repository at ``source`` under ``key``."""
        with self._lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix=self._prefix))
            dest = self._root / f"{relative}.git"
        if dest.exists():
            shutil.rmtree(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        make_dumb_http_copy(Path(source), dest)
        with self._lock:
            self._repos[key] = dest

    def get(self, key: str) -> Path | None:
        with self._lock:
            return self._repos.get(key)

    def serve(self, method: str, key: str, inner: str) -> Reply:
        """One file of the repository ``key`` (404 when unknown, outside it, or not a GET)."""
        root = self.get(key)
        if method != "GET" or root is None:
            return missing()
        target = (root / inner).resolve()
        if not target.is_relative_to(root.resolve()) or not target.is_file():
            return missing()
        kind = _GIT_TYPES.get(inner, "application/octet-stream")
        if inner.startswith("objects/pack/") and inner.endswith(".pack"):
            kind = "application/x-git-packed-objects"
        return Reply(200, {"content-type": kind}, target.read_bytes())

    def close(self) -> None:
        with self._lock:
            root, self._root = self._root, None
            self._repos.clear()
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
