"""The git log parser on histories made by real git: odd names, encodings, shapes and sizes."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from services.facade.gitlog import LOG_ARGS, LogParser
from shared.errors import FatalError
from shared.events.v1 import Commit, FileChange

HUGE = "x" * 1_000_000
DATE = b"2020-01-01T00:00:00+00:00"
HEADER = b"\x1e" + b"a" * 40 + b"\x00\x00n\x00e\x00" + DATE + b"\x00n\x00e\x00" + DATE + b"\x00m\n\x00\x00"


def git(
    repo: Path, *args: str | bytes, date: str = "2020-01-02T03:04:05+05:30", stdin: bytes | None = None
) -> bytes:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": "2021-06-07T08:09:10-07:00",
    }
    base = ["git", "-C", str(repo), "-c", "user.name=Ada Lovelace", "-c", "user.email=ada@example.org"]
    return subprocess.run([*base, *args], env=env, input=stdin, check=True, capture_output=True).stdout


def commit(repo: Path, message: str, *extra: str, date: str = "2020-01-02T03:04:05+05:30") -> None:
    git(repo, "commit", "-q", "--cleanup=verbatim", "-F", "-", *extra, date=date, stdin=message.encode())


def write(repo: Path, name: str, data: bytes) -> None:
    path = repo / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    git(repo, "add", "--", name)


@pytest.fixture(scope="module")
def odd_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("odd")
    git(repo, "init", "-q", "-b", "main")
    write(repo, "a.txt", b"one\ntwo\nthree\n" * 20)
    write(repo, "ñame/файл.txt", "héllo\n".encode())
    write(repo, "blob.bin", b"\x00\x01\x02binary\x00" * 10)
    commit(repo, "root")
    write(repo, "a.txt", b"one\ntwo\nthree\n" * 20 + b"four\n")
    commit(repo, "Subject line  \n\n\nBody after two blank lines.   \n\n  indented\t \n\n")
    (repo / "dir with space").mkdir()
    git(repo, "mv", "a.txt", "dir with space/b c.txt")
    commit(repo, "rename")
    git(repo, "rm", "-q", "ñame/файл.txt")
    write(repo, "blob.bin", b"\x00\x03changed\x00")
    commit(repo, "delete and binary change")
    write(repo, "we\tird\nname \x1e.txt", b"tab, newline, space and a record separator\n")
    commit(repo, "odd file name")
    commit(repo, "nothing here", "--allow-empty")
    git(repo, "checkout", "-q", "-b", "side")
    write(repo, "side.txt", b"side\n")
    commit(repo, "side work")
    git(repo, "checkout", "-q", "main")
    write(repo, "main.txt", b"main\n")
    commit(repo, "main work")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side")
    commit(repo, HUGE + "\n", "--allow-empty")
    git(repo, "-c", "user.name=Zoë Ωmega ☃", "commit", "-q", "--allow-empty", "-m", "unicode author")
    # Arguments as bytes: a str would reach git as UTF-8 and be mislabelled as Latin-1.
    git(repo, "-c", "i18n.commitEncoding=ISO-8859-1", "-c", "user.name=Jos\xe9 M\xfcller".encode("latin-1"),
        "commit", "-q", "--allow-empty", "-m", "d\xe9clared latin-1".encode("latin-1"))  # fmt: skip
    # A commit that declares no encoding yet holds Latin-1 bytes: only a raw object does that.
    tree = git(repo, "rev-parse", "HEAD^{tree}").decode().strip()
    parent = git(repo, "rev-parse", "HEAD").decode().strip()
    raw = (
        b"tree %s\nparent %s\nauthor Jos\xe9 <jose\xff@example.org> 1700000000 +0100\n"
        b"committer C <c@example.org> 1700000000 -0030\n\nraw latin-1 \xe9\x1e\n"
    ) % (tree.encode(), parent.encode())
    sha = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=raw).decode().strip()
    git(repo, "update-ref", "refs/heads/main", sha)
    commit(repo, "after the raw commit", "--allow-empty")
    # An octopus: three branches merged at once.
    for branch in ("oct-a", "oct-b", "oct-c"):
        git(repo, "checkout", "-q", "-b", branch, "main")
        write(repo, f"{branch}.txt", branch.encode() + b"\n")
        commit(repo, f"work on {branch}")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "-m", "octopus", "oct-a", "oct-b", "oct-c")
    # Timezones as far from UTC as git allows; a commit with no message at all.
    write(repo, "kiribati.txt", b"+14\n")
    commit(repo, "far east", date="2022-02-02T02:02:02+14:00")
    write(repo, "baker.txt", b"-12\n")
    commit(repo, "far west", date="2022-02-02T02:02:02-12:00")
    write(repo, "silent.txt", b"no message\n")
    git(repo, "commit", "-q", "--allow-empty-message", "-m", "")
    # A copy: the same content under a second name, the original kept.
    write(repo, "copy/src.txt", b"".join(b"line %d of a file worth copying\n" % i for i in range(40)))
    commit(repo, "copy source")
    write(repo, "copy/dst.txt", (repo / "copy/src.txt").read_bytes())
    commit(repo, "copied file")
    return repo


def log_bytes(repo: Path) -> bytes:
    return git(repo, *LOG_ARGS, "HEAD", "--")


def parse(data: bytes, chunk: int) -> list[Commit]:
    parser = LogParser()
    out: list[Commit] = []
    for i in range(0, len(data), chunk):
        out += parser.feed(data[i : i + chunk])
    return out + parser.close()


@pytest.fixture(scope="module")
def commits(odd_repo: Path) -> dict[str, Commit]:
    parsed = parse(log_bytes(odd_repo), 65536)
    by_subject = {c.message.split("\n", 1)[0][:20]: c for c in parsed}
    assert len(by_subject) == len(parsed)
    return by_subject


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_chunk_size_does_not_change_the_result(odd_repo: Path, chunk: int) -> None:
    data = log_bytes(odd_repo)
    assert parse(data, chunk) == parse(data, len(data))


def test_every_commit_is_parsed_with_its_parents(odd_repo: Path) -> None:
    parsed = parse(log_bytes(odd_repo), 4096)
    count = int(git(odd_repo, "rev-list", "--count", "HEAD"))
    assert len(parsed) == count
    expected = [line.split() for line in git(odd_repo, "rev-list", "--parents", "HEAD").decode().splitlines()]
    assert [[c.sha, *c.parents] for c in parsed] == expected


def test_dates_keep_their_offset(commits: dict[str, Commit]) -> None:
    c = commits["root"]
    assert c.author_date == datetime(2020, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert c.committer_date == datetime(2021, 6, 7, 8, 9, 10, tzinfo=timezone(timedelta(hours=-7)))
    assert c.author_date.utcoffset() == timedelta(hours=5, minutes=30)
    assert c.author_name == "Ada Lovelace" and c.committer_email == "ada@example.org"


def test_root_commit_lists_its_files(commits: dict[str, Commit]) -> None:
    assert commits["root"].parents == []
    assert commits["root"].files == [
        FileChange(path="a.txt", added=60, deleted=0),
        FileChange(path="blob.bin"),
        FileChange(path="ñame/файл.txt", added=1, deleted=0),
    ]


def test_message_keeps_blank_lines_and_trailing_whitespace(commits: dict[str, Commit]) -> None:
    msg = commits["Subject line  "].message
    assert msg == "Subject line  \n\n\nBody after two blank lines.   \n\n  indented\t \n"
    assert commits["Subject line  "].files == [FileChange(path="a.txt", added=1, deleted=0)]


def test_rename_has_old_and_new_path(commits: dict[str, Commit]) -> None:
    assert commits["rename"].files == [
        FileChange(path="dir with space/b c.txt", old_path="a.txt", added=0, deleted=0)
    ]


def test_deletion_and_binary_change(commits: dict[str, Commit]) -> None:
    assert commits["delete and binary ch"].files == [
        FileChange(path="blob.bin", added=None, deleted=None),
        FileChange(path="ñame/файл.txt", added=0, deleted=1),
    ]


def test_path_with_tab_newline_space_and_separator(commits: dict[str, Commit]) -> None:
    assert commits["odd file name"].files == [FileChange(path="we\tird\nname \x1e.txt", added=1, deleted=0)]


def test_empty_and_merge_commits_have_no_files(commits: dict[str, Commit]) -> None:
    assert commits["nothing here"].files == []
    merge = commits["merge side"]
    assert len(merge.parents) == 2 and merge.files == []
    assert commits["side work"].files == [FileChange(path="side.txt", added=1, deleted=0)]


def test_octopus_merge_has_every_parent_and_no_files(odd_repo: Path, commits: dict[str, Commit]) -> None:
    octopus = commits["octopus"]
    expected = git(odd_repo, "rev-list", "--parents", "-n", "1", octopus.sha).decode().split()[1:]
    assert octopus.parents == expected and len(expected) == 4
    assert octopus.files == []
    assert commits["work on oct-b"].files == [FileChange(path="oct-b.txt", added=1, deleted=0)]


def test_timezones_far_from_utc(commits: dict[str, Commit]) -> None:
    east, west = commits["far east"].author_date, commits["far west"].author_date
    assert east is not None and east.utcoffset() == timedelta(hours=14)
    assert west is not None and west.utcoffset() == timedelta(hours=-12)
    # The same wall clock 26 hours apart, as instants.
    assert west - east == timedelta(hours=26)


def test_commit_without_a_message(commits: dict[str, Commit]) -> None:
    silent = commits[""]
    assert silent.message == "" and silent.files == [FileChange(path="silent.txt", added=1, deleted=0)]


def test_copies_are_new_files_and_carry_their_source_with_copy_detection(odd_repo: Path,
                                                                          commits: dict[str, Commit]) -> None:
    # The facade runs with -M only (renames): copy detection would make git compare every
    # changed file with the others, for a field no consumer reads. A copy is an added file.
    assert commits["copied file"].files == [FileChange(path="copy/dst.txt", added=40, deleted=0)]
    # The parser reads git's copy entries all the same (same framing as renames).
    data = git(odd_repo, *LOG_ARGS, "-C", "-C", "-n", "1", commits["copied file"].sha, "--")
    [copied] = parse(data, 5)
    assert copied.files == [FileChange(path="copy/dst.txt", old_path="copy/src.txt", added=0, deleted=0)]


def test_a_commit_of_ten_thousand_files(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    stream = bytearray(b"commit refs/heads/main\ncommitter D <d@x> 1600000000 +0000\ndata 4\nbig\n")
    for i in range(10_000):
        content = b"file %d\nsecond line\n" % i
        stream += b"M 644 inline d%02d/f%05d.txt\ndata %d\n%s\n" % (i % 97, i, len(content), content)
    git(tmp_path, "fast-import", "--quiet", stdin=bytes(stream))
    data = log_bytes(tmp_path)
    [big] = parse(data, 65536)
    assert len(big.files) == 10_000 and big.message == "big"
    assert {f.path for f in big.files} == {f"d{i % 97:02d}/f{i:05d}.txt" for i in range(10_000)}
    assert all((f.added, f.deleted, f.old_path) == (2, 0, None) for f in big.files)
    assert parse(data, 1) == [big]


def test_huge_message(commits: dict[str, Commit]) -> None:
    assert commits[HUGE[:20]].message == HUGE


def test_unicode_and_latin1_names(odd_repo: Path, commits: dict[str, Commit]) -> None:
    assert commits["unicode author"].author_name == "Zoë Ωmega ☃"
    # A declared encoding is converted to UTF-8 by git itself.
    stored = git(odd_repo, "cat-file", "commit", commits["déclared latin-1"].sha)
    assert b"encoding ISO-8859-1" in stored and b"Jos\xe9 M\xfcller" in stored
    assert commits["déclared latin-1"].author_name == "José Müller"
    raw = commits["raw latin-1 \ufffd\x1e"]
    assert raw.author_name == "Jos\ufffd"
    assert raw.author_email == "jose\ufffd@example.org"
    assert raw.author_date == datetime(2023, 11, 14, 23, 13, 20, tzinfo=timezone(timedelta(hours=1)))
    assert raw.committer_date is not None and raw.committer_date.utcoffset() == timedelta(minutes=-30)


def test_many_generated_commits_match_rev_list(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    stream = bytearray()
    for i in range(2000):
        msg = b"change %d\n" % i
        content = b"line %d\n" % i
        stream += b"commit refs/heads/main\ncommitter D <d@x> %d +0000\ndata %d\n%s" % (
            1600000000 + i,
            len(msg),
            msg,
        )
        stream += b"M 644 inline f%d.txt\ndata %d\n%s\n" % (i % 37, len(content), content)
    git(tmp_path, "fast-import", "--quiet", stdin=bytes(stream))
    parsed = parse(log_bytes(tmp_path), 65536)
    assert len(parsed) == int(git(tmp_path, "rev-list", "--count", "HEAD")) == 2000
    assert all(len(c.files) == 1 for c in parsed)


def test_empty_input_gives_nothing() -> None:
    parser = LogParser()
    assert parser.feed(b"") == [] and parser.close() == []


def test_garbage_is_fatal() -> None:
    with pytest.raises(FatalError):
        LogParser().feed(b"commit 1234\n")


def test_truncated_header_is_fatal() -> None:
    parser = LogParser()
    parser.feed(b"\x1eabc\x00\x00name\x00")
    with pytest.raises(FatalError):
        parser.close()


def test_truncated_file_entry_is_fatal() -> None:
    parser = LogParser()
    parser.feed(HEADER + b"\n1\t2\tpa")
    with pytest.raises(FatalError):
        parser.close()


def test_corrupt_date_becomes_none() -> None:
    data = HEADER.replace(DATE, b"%aI", 1)
    (c,) = parse(data, 3)
    assert c.author_date is None
    assert c.committer_date == datetime(2020, 1, 1, tzinfo=UTC)
    assert c.parents == [] and c.message == "m" and c.files == []
