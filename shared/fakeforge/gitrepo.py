"""A deterministic sample git repository, and the bare copies the fake forge serves.

The history is written in one `git fast-import` stream, so every author, date and byte is
fixed: the same (commits, seed) gives the same commit ids on every machine. It contains the
things a git-log collector trips over: a unicode author, a GitHub noreply address, a bot, an
author who is not the committer, a merge, a rename, a binary file, a deletion, an empty
commit, a multi-paragraph message and an annotated tag.
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

MIN_COMMITS = 12
_MARKER_KEY = "watershed.sample"
_START_EPOCH = 1_551_434_400  # 2019-03-01T10:00:00Z


@dataclass(frozen=True)
class _Person:
    name: str
    email: str
    tz: str

    def line(self, role: str, epoch: int) -> bytes:
        return f"{role} {self.name} <{self.email}> {epoch} {self.tz}\n".encode()


_AUTHORS = [
    _Person("Ada Lovelace", "ada@example.org", "+0000"),
    _Person("Zoë Ångström-Núñez", "zoe@example.com", "+0100"),
    _Person("Grace Hopper", "12345+grace-hopper@users.noreply.github.com", "-0500"),
    _Person("李小龍", "lee@example.cn", "+0800"),
    _Person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "+0000"),
]
_WEB_FLOW = _Person("GitHub", "noreply@github.com", "+0000")
_MULTI_PARAGRAPH = """Rework the collector's retry loop

The previous loop retried on every error, including 404s, which hid
renamed repositories for hours.

Now only transient errors are retried; everything else is surfaced
at once. See the design notes in docs/guide.md.

Co-authored-by: Grace Hopper <12345+grace-hopper@users.noreply.github.com>
Signed-off-by: Ada Lovelace <ada@example.org>
"""


def git_env() -> dict[str, str]:
    """An environment that ignores the user's and system git config, so hooks, signing,
    templates or autocrlf settings on the host cannot change the result."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
    return env


def run_git(args: list[str], cwd: Path | None = None, stdin: bytes | None = None) -> str:
    base = ["git", "-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false",
            "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main",
            "-c", "user.name=Watershed", "-c", "user.email=watershed@example.invalid"]
    done = subprocess.run(base + args, cwd=cwd, input=stdin, capture_output=True,
                          env=git_env(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode("utf-8", errors="replace")


class _Stream:
    """Accumulates a fast-import stream and the tree of the main branch."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.files: dict[str, bytes] = {}
        self.mark = 0

    @staticmethod
    def data(payload: bytes) -> bytes:
        return b"data %d\n" % len(payload) + payload + b"\n"

    def commit(self, ref: str, author: _Person, committer: _Person, epoch: int, message: str,
               parents: list[int], changes: list[bytes]) -> int:
        self.mark += 1
        self.chunks += [f"commit {ref}\nmark :{self.mark}\n".encode(),
                        author.line("author", epoch), committer.line("committer", epoch),
                        self.data(message.encode())]
        if parents:
            self.chunks.append(f"from :{parents[0]}\n".encode())
        self.chunks += [f"merge :{parent}\n".encode() for parent in parents[1:]]
        self.chunks += changes
        self.chunks.append(b"\n")
        return self.mark

    def put(self, path: str, content: bytes, *, track: bool = True) -> bytes:
        if track:
            self.files[path] = content
        return f"M 100644 inline {path}\n".encode() + self.data(content)


def _history(stream: _Stream, commits: int, rng: random.Random) -> None:
    epoch = _START_EPOCH
    linear = commits - 2  # the side branch adds two commits; the merge is one of `linear`
    fork_at, merge_at = linear // 2, linear // 2 + 2
    tip = side_tip = 0
    side_parser = b""
    for k in range(1, linear + 1):
        epoch += rng.randrange(6 * 3600, 30 * 86400)
        author = rng.choice(_AUTHORS[:4])
        changes: list[bytes] = []
        message = f"Update module {k}"
        if k == 1:
            message = "Initial commit"
            readme = "# sample\n\nWatershed demo repository 🌊\n".encode()
            changes = [stream.put("README.md", readme),
                       stream.put("docs/old_name.md", b"# Guide\n"),
                       stream.put("obsolete.txt", b"to be deleted\n"),
                       stream.put("src/sample/__init__.py", b'"""Sample package."""\n')]
        elif k == 3:
            message = "Add logo"
            changes = [stream.put("assets/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
                                  + rng.randbytes(64))]
        elif k == 5:
            message = "Rename docs/old_name.md to docs/guide.md"
            stream.files["docs/guide.md"] = stream.files.pop("docs/old_name.md")
            changes = [b"R docs/old_name.md docs/guide.md\n"]
        elif k == 7:
            message = "Remove obsolete.txt"
            stream.files.pop("obsolete.txt")
            changes = [b"D obsolete.txt\n"]
        elif k == 9:
            message = "Empty commit to retrigger CI"
        elif k == 11:
            message = _MULTI_PARAGRAPH
            author = _AUTHORS[0]
        elif k % 6 == 2:
            author = _AUTHORS[4]
            message = f"Bump httpx from 0.{k}.0 to 0.{k}.1"
            changes = [stream.put("requirements.txt", f"httpx==0.{k}.1\n".encode())]
        else:
            readme = stream.files["README.md"] + f"\n- change {k}: {rng.random():.6f}\n".encode()
            changes = [stream.put("README.md", readme),
                       stream.put(f"src/sample/module_{k}.py", f"VALUE = {k}\n".encode())]
        parents = [tip] if tip else []
        if k == merge_at:
            # The merge brings in what the side branch wrote; fast-import takes the tree as
            # given, so its changes are replayed on top of the first parent's tree.
            epoch += 3600
            changes = [stream.put("src/parser.py", side_parser)]
            tip = stream.commit("refs/heads/main", _AUTHORS[1], _WEB_FLOW, epoch,
                                "Merge pull request #7 from zoe/feature/parser\n\nNew parser",
                                [tip, side_tip], changes)
            continue
        committer = _WEB_FLOW if k % 10 == 4 else author
        tip = stream.commit("refs/heads/main", author, committer, epoch, message, parents,
                            changes)
        if k == fork_at:
            side_tip = tip
            content = b""
            for step in (1, 2):
                content += f"def parse_{step}(line: str) -> str:\n    return line\n".encode()
                side_tip = stream.commit(
                    "refs/heads/feature/parser", _AUTHORS[1], _AUTHORS[1], epoch + step * 600,
                    f"Parser step {step}", [side_tip],
                    [stream.put("src/parser.py", content, track=False)])
            side_parser = content
    stream.chunks.append(
        f"tag v0.1.0\nfrom :{tip}\n".encode() + _AUTHORS[0].line("tagger", epoch + 60)
        + stream.data(b"First sample release\n"))


def create_sample_git_repo(path: Path, *, commits: int = 40, seed: int = 7) -> Path:
    """Create (or find) the sample repository at `path`; `commits` counts every commit
    reachable from main, the merge included."""
    if commits < MIN_COMMITS:
        raise ValueError(f"commits must be at least {MIN_COMMITS}, got {commits}")
    path = Path(path)
    marker = f"commits={commits} seed={seed}"
    if path.exists() and any(path.iterdir()):
        if (path / ".git").is_dir():
            try:
                found = run_git(["config", "--local", "--get", _MARKER_KEY], cwd=path).strip()
            except RuntimeError:
                found = ""
            if found == marker:
                return path
        raise FileExistsError(
            f"{path} exists and is not empty (and is not a sample repo made with {marker})")
    path.mkdir(parents=True, exist_ok=True)
    run_git(["init", "-q", str(path)])
    stream = _Stream()
    _history(stream, commits, random.Random(f"sample-git:{seed}"))
    run_git(["fast-import", "--quiet", "--done"], cwd=path, stdin=b"".join(stream.chunks)
            + b"done\n")
    run_git(["reset", "-q", "--hard", "main"], cwd=path)
    run_git(["config", "--local", _MARKER_KEY, marker], cwd=path)
    return path


def make_dumb_http_copy(source: Path, dest: Path) -> Path:
    """A bare copy of `source` that a static file server can serve to `git clone` over the
    dumb HTTP protocol (needs the info/refs and objects/info/packs files)."""
    run_git(["clone", "--bare", "--no-local", "--quiet", str(source), str(dest)])
    run_git(["update-server-info"], cwd=dest)
    return dest
