"""Streaming parser for ``git log`` output: bytes in, ``Commit`` structs out.

Pure: no subprocess, no clock, no environment. ``services.facade.git`` runs git with
``LOG_ARGS`` and feeds its stdout here in chunks of any size.

Framing produced by ``LOG_ARGS`` (``-z`` makes every path NUL-terminated and unquoted)::

    \\x1e sha \\0 parents \\0 an \\0 ae \\0 aI \\0 cn \\0 ce \\0 cI \\0 body \\0   <- our format
    \\0 [\\n]                                                       <- git's -z commit end
    added \\t deleted \\t path \\0                                   <- one per file
    added \\t deleted \\t \\0 old \\0 new \\0                          <- a rename (-M)
    - \\t - \\t path \\0                                              <- a binary file
    \\x1e ...next commit, with no separator...

git stops every ``%`` field at the first NUL of the underlying object, so fields never
contain NUL and the nine header fields are found by counting NULs. The record separator
``\\x1e`` is looked for only where a numstat entry could start, so a path or message that
contains ``\\x1e`` cannot break the framing.
"""

from __future__ import annotations

from datetime import datetime

from shared.errors import FatalError
from shared.events.v1 import Commit, FileChange

LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B%x00"

# -M: renames carry their old path. Merges get no diff (their changes belong to the
# commits they merge), which is also git's default. The other flags stop repository or
# user configuration from changing the output (colours, signatures, external diff tools).
LOG_ARGS: list[str] = [
    "log",
    f"--format={LOG_FORMAT}",
    "--numstat",
    "-z",
    "-M",
    "--diff-merges=off",
    "--no-color",
    "--no-show-signature",
    "--no-ext-diff",
    "--no-textconv",
    "--no-mailmap",
]

_HEADER_FIELDS = 9
_RS = 0x1E
_SEPARATORS = b"\x00\n"


def _text(raw: bytes | bytearray) -> str:
    # Names and messages come from anyone; a wrong byte must cost a U+FFFD, not the repo.
    return raw.decode("utf-8", "replace")


def _date(raw: bytes | bytearray) -> datetime | None:
    # git prints the placeholder itself (e.g. "%cI") when an ident line is corrupt.
    try:
        return datetime.fromisoformat(raw.decode("ascii"))
    except ValueError:
        return None


def _count(raw: bytes | bytearray) -> int | None:
    return None if raw == b"-" else int(raw)


def _message(raw: bytes | bytearray) -> str:
    # %B always ends the body with a newline; the body itself is kept byte for byte.
    return _text(raw[:-1] if raw.endswith(b"\n") else raw)


class LogParser:
    """Incremental parser: ``feed`` chunks of any size, then ``close``.

    Each call returns the commits completed so far. A commit is complete once the next
    record separator (or the end of the stream) is seen, because git prints no end marker
    after the last file of a commit.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        # Where the last failed NUL search ended, so a field arriving one byte at a time
        # is not rescanned from its start on every feed (that would be quadratic).
        self._scanned = 0
        self._header: list[bytes | bytearray] | None = None
        self._files: list[FileChange] = []
        self._closed = False

    def feed(self, chunk: bytes) -> list[Commit]:
        if self._closed:
            raise FatalError("git log parser fed after close")
        self._buf += chunk
        out = self._parse(final=False)
        self._compact()
        return out

    def close(self) -> list[Commit]:
        if self._closed:
            return []
        out = self._parse(final=True)
        self._closed = True
        if self._header is not None and len(self._header) < _HEADER_FIELDS:
            raise FatalError(f"git log output ends inside a commit header ({len(self._header)} fields)")
        if self._pos < len(self._buf):
            raise FatalError("git log output ends inside a numstat entry")
        if self._header is not None:
            out.append(self._build())
        self._buf.clear()
        self._pos = self._scanned = 0
        return out

    # ----------------------------------------------------------------- internals

    def _compact(self) -> None:
        if self._pos:
            del self._buf[: self._pos]
            self._scanned = max(0, self._scanned - self._pos)
            self._pos = 0

    def _find_nul(self, start: int) -> int:
        i = self._buf.find(b"\x00", max(start, self._scanned))
        self._scanned = len(self._buf) if i < 0 else 0
        return i

    def _parse(self, *, final: bool) -> list[Commit]:
        out: list[Commit] = []
        buf = self._buf
        while True:
            if self._header is None and not self._start_record():
                return out
            if not self._read_header():
                return out
            # Between the body and the first file, and after every file: NULs and newlines.
            pos = self._pos
            end = len(buf)
            while pos < end and buf[pos] in _SEPARATORS:
                pos += 1
            self._pos = pos
            if pos == end:
                return out
            if buf[pos] == _RS:
                out.append(self._build())
                continue
            if not self._read_file(final):
                return out

    def _start_record(self) -> bool:
        buf = self._buf
        pos = self._pos
        while pos < len(buf) and buf[pos] in _SEPARATORS:
            pos += 1
        self._pos = pos
        if pos == len(buf):
            return False
        if buf[pos] != _RS:
            raise FatalError(f"unexpected git log output: {bytes(buf[pos : pos + 40])!r}")
        self._pos = pos + 1
        self._header = []
        self._files = []
        return True

    def _read_header(self) -> bool:
        header = self._header
        assert header is not None
        buf = self._buf
        while len(header) < _HEADER_FIELDS:
            i = self._find_nul(self._pos)
            if i < 0:
                return False
            header.append(buf[self._pos : i])
            self._pos = i + 1
        return True

    def _read_file(self, final: bool) -> bool:
        buf = self._buf
        pos = self._pos
        tab1 = buf.find(b"\t", pos)
        tab2 = buf.find(b"\t", tab1 + 1) if tab1 >= 0 else -1
        if tab2 < 0 or tab2 + 1 >= len(buf):
            return self._incomplete(final)
        if buf[tab2 + 1] == 0:
            old_end = buf.find(b"\x00", tab2 + 2)
            new_end = buf.find(b"\x00", old_end + 1) if old_end >= 0 else -1
            if new_end < 0:
                return self._incomplete(final)
            old_path: str | None = _text(buf[tab2 + 2 : old_end])
            path = _text(buf[old_end + 1 : new_end])
            self._pos = new_end + 1
        else:
            end = buf.find(b"\x00", tab2 + 1)
            if end < 0:
                return self._incomplete(final)
            old_path = None
            path = _text(buf[tab2 + 1 : end])
            self._pos = end + 1
        try:
            added, deleted = _count(buf[pos:tab1]), _count(buf[tab1 + 1 : tab2])
        except ValueError:
            raise FatalError(f"unexpected numstat entry: {bytes(buf[pos:tab2])[:40]!r}") from None
        self._files.append(FileChange(path=path, old_path=old_path, added=added, deleted=deleted))
        return True

    def _incomplete(self, final: bool) -> bool:
        if final:
            raise FatalError("git log output ends inside a numstat entry")
        return False

    def _build(self) -> Commit:
        h = self._header
        assert h is not None and len(h) == _HEADER_FIELDS
        self._header = None
        files, self._files = self._files, []
        return Commit(
            sha=h[0].decode("ascii"),
            parents=h[1].decode("ascii").split(),
            author_name=_text(h[2]),
            author_email=_text(h[3]),
            author_date=_date(h[4]),
            committer_name=_text(h[5]),
            committer_email=_text(h[6]),
            committer_date=_date(h[7]),
            message=_message(h[8]),
            files=files,
        )
