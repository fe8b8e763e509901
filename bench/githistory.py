"""A deterministic git history with the shape of a real project, for the facade benchmark.

    python -m bench.githistory DEST --commits 50000 [--seed 1]

There is no network on the benchmark machines to clone a public repository, so the history is
made here, through ``git fast-import``, then repacked the way a served clone is packed. Its
shape follows a mid-sized open source project: a few thousand files in nested directories,
commits touching 1-12 files with small line edits (most) or rewrites, new files, deletions,
renames, binary files, a branch merged back every ~20 commits, ~300 authors in timezones
from -12:00 to +14:00, messages of one line to a few paragraphs, UTF-8 names and a few
Latin-1 bytes.

Run as its own process by ``bench.facade`` so its memory never counts as the facade's.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
from pathlib import Path

WORDS = ("fix add remove update refactor parser cache index docs tests build release api cli config "
         "handle error case when empty path windows unicode speed memory leak race thread lock "
         "retry timeout network proxy auth token header encode decode stream batch merge branch").split()
NAMES = ("Ada", "Grace", "Linus", "Guido", "Margaret", "Ken", "Barbara", "Dennis", "Zoë", "José", "Åsa",
         "Łukasz", "Мария", "李", "Nadia", "Olu", "Priya", "Sven", "Tomás", "Yuki")
EXTENSIONS = (".py", ".c", ".h", ".md", ".txt", ".js", ".rs", ".toml", ".yml")


class History:
    def __init__(self, seed: int, authors: int = 300, files: int = 3000) -> None:
        self.rng = random.Random(seed)
        self.authors = [self._author(i) for i in range(authors)]
        self.files: dict[str, list[bytes]] = {}
        self.binary: set[str] = set()
        for _ in range(files):
            self.files[self._new_path()] = self._lines(self.rng.randint(5, 60))
        self.time = 1_262_304_000  # 2010-01-01
        self.mark = 0

    def _author(self, i: int) -> tuple[bytes, bytes, str]:
        name = f"{self.rng.choice(NAMES)} {self.rng.choice(NAMES)}son {i}".encode()
        domain = self.rng.choice(("example.org", "users.noreply.github.com", "corp.example.com", "gmail.com"))
        minutes = self.rng.choice((-720, -480, -300, 0, 60, 120, 330, 540, 600, 840))
        sign = "+" if minutes >= 0 else "-"
        tz = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
        return name, f"dev{i}@{domain}".encode(), tz

    def _new_path(self) -> str:
        depth = self.rng.randint(1, 4)
        dirs = "/".join(f"{self.rng.choice(WORDS)}{self.rng.randint(0, 9)}" for _ in range(depth))
        return f"{dirs}/{self.rng.choice(WORDS)}_{self.rng.randint(0, 99999)}{self.rng.choice(EXTENSIONS)}"

    def _lines(self, n: int) -> list[bytes]:
        return [" ".join(self.rng.choices(WORDS, k=self.rng.randint(2, 9))).encode() + b"\n" for _ in range(n)]

    def _message(self) -> bytes:
        subject = " ".join(self.rng.choices(WORDS, k=self.rng.randint(3, 9))).capitalize()
        if self.rng.random() < 0.6:
            return subject.encode() + b"\n"
        body = "\n\n".join(" ".join(self.rng.choices(WORDS, k=self.rng.randint(10, 40)))
                           for _ in range(self.rng.randint(1, 3)))
        return f"{subject}\n\n{body}\n".encode()

    def _edit(self, path: str) -> bytes:
        lines = self.files[path]
        if path in self.binary:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(200, 2000)))
        if self.rng.random() < 0.05 or not lines:
            lines[:] = self._lines(self.rng.randint(5, 80))  # a rewrite
        else:
            for _ in range(self.rng.randint(1, 6)):
                at = self.rng.randrange(len(lines) + 1)
                roll = self.rng.random()
                if roll < 0.4 and lines:
                    lines[min(at, len(lines) - 1)] = self._lines(1)[0]
                elif roll < 0.8:
                    lines[at:at] = self._lines(self.rng.randint(1, 8))
                elif lines:
                    del lines[at:at + self.rng.randint(1, 4)]
        return b"".join(lines)

    def _changes(self) -> bytes:
        out = bytearray()
        paths = list(self.files)
        for _ in range(min(len(paths), max(1, int(self.rng.expovariate(1 / 3))))):
            roll = self.rng.random()
            path = self.rng.choice(paths)
            if roll < 0.06:
                new = self._new_path()
                self.files[new] = self._lines(self.rng.randint(3, 100))
                if self.rng.random() < 0.05:
                    self.binary.add(new)
                out += self._put(new, b"".join(self.files[new]) if new not in self.binary else self._edit(new))
            elif roll < 0.08 and len(self.files) > 100 and path in self.files:
                del self.files[path]
                self.binary.discard(path)
                out += b"D " + path.encode() + b"\n"
            elif roll < 0.10 and path in self.files:
                new = self._new_path()
                self.files[new] = self.files.pop(path)
                if path in self.binary:
                    self.binary.discard(path)
                    self.binary.add(new)
                out += b'R "' + path.encode() + b'" "' + new.encode() + b'"\n'
            elif path in self.files:
                out += self._put(path, self._edit(path))
        return bytes(out)

    @staticmethod
    def _put(path: str, data: bytes) -> bytes:
        return b"M 644 inline " + path.encode() + b"\ndata " + str(len(data)).encode() + b"\n" + data + b"\n"

    def initial(self) -> bytes:
        return b"".join(self._put(path, b"".join(lines)) for path, lines in self.files.items())

    def commit(self, ref: bytes, parents: list[int], changes: bytes | None = None) -> bytes:
        """One commit; its changes are drawn unless given (a merge replays its branch's)."""
        self.mark += 1
        self.time += self.rng.randint(60, 60 * 60 * 8)
        name, email, tz = self.rng.choice(self.authors)
        message = self._message()
        head = b"commit " + ref + b"\nmark :" + str(self.mark).encode() + b"\n"
        who = name + b" <" + email + b"> " + str(self.time).encode() + b" " + tz.encode() + b"\n"
        head += b"author " + who + b"committer " + who
        head += b"data " + str(len(message)).encode() + b"\n" + message
        for n, parent in enumerate(parents):
            head += (b"from :" if n == 0 else b"merge :") + str(parent).encode() + b"\n"
        return head + (self._changes() if changes is None else changes) + b"\n"


def generate(dest: Path, commits: int, seed: int) -> None:
    """A bare repository at ``dest`` whose ``main`` holds ``commits`` commits, packed."""
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(dest)], check=True)
    proc = subprocess.Popen(["git", "-C", str(dest), "fast-import", "--quiet", "--done"], stdin=subprocess.PIPE)
    assert proc.stdin is not None
    history = History(seed)
    main_tip = 0
    written = 0
    while written < commits:
        if main_tip and written + 5 < commits and history.rng.random() < 0.05:
            # A topic branch of 2-4 commits merged back. main did not move meanwhile, so the
            # merge's tree is main's plus the branch's changes, replayed in order.
            tip, replay = main_tip, bytearray()
            for _ in range(history.rng.randint(2, 4)):
                change = history.commit(b"refs/heads/topic", [tip])
                proc.stdin.write(change)
                replay += change[change.index(b"\n", change.index(b"\nfrom :") + 1) + 1:-1]
                tip = history.mark
                written += 1
            proc.stdin.write(history.commit(b"refs/heads/main", [main_tip, tip], bytes(replay)))
        elif not main_tip:
            proc.stdin.write(history.commit(b"refs/heads/main", [], history.initial()))
        else:
            proc.stdin.write(history.commit(b"refs/heads/main", [main_tip]))
        main_tip = history.mark
        written += 1
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError("git fast-import failed")
    subprocess.run(["git", "-C", str(dest), "update-ref", "-d", "refs/heads/topic"], check=False)
    subprocess.run(["git", "-C", str(dest), "repack", "-a", "-d", "-q", "--depth=50", "--window=10"], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.githistory", description=__doc__.split("\n")[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    generate(args.dest, args.commits, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
