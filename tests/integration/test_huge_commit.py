"""A commit whose file list is larger than a NATS message (the embedded server takes 8 MB)
travels in several messages and lands whole."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncpg
import pytest

from watershed.pipeline import Pipeline

pytestmark = pytest.mark.integration

FILES = 40_000
DEEP = "/".join(f"directory-level-{i}" for i in range(9))  # ~170-byte paths: > 8 MB of numstat JSON


def one_huge_commit(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True)
    stream = [b"commit refs/heads/main\n", b"author A <a@example.org> 1600000000 +0000\n",
              b"committer A <a@example.org> 1600000000 +0000\n", b"data 7\nimport\n"]
    for i in range(FILES):
        body = f"{i}\n".encode()
        stream.append(f"M 100644 inline {DEEP}/pkg{i % 90}/file_{i:05}.txt\ndata {len(body)}\n".encode() + body)
    subprocess.run(["git", "-C", str(path), "fast-import", "--quiet"], input=b"".join(stream) + b"\n", check=True)
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return path


async def test_commit_with_thousands_of_files(pipeline: Pipeline, collect_repos, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = one_huge_commit(tmp_path / "huge.git")
    await collect_repos([str(repo)])
    conn = await asyncpg.connect(pipeline.servers.database_url)
    try:
        commit = await conn.fetchrow("SELECT files_changed, additions, deletions FROM data.commits")
        files = await conn.fetchval("SELECT count(*) FROM data.commit_files")
        state, messages = await conn.fetchrow(
            "SELECT state, expected_messages FROM ops.collection_status WHERE phase = 'facade'")
    finally:
        await conn.close()
    assert state == "done"
    assert messages >= 2  # the one commit could not travel as one message
    assert dict(commit) == {"files_changed": FILES, "additions": FILES, "deletions": 0}
    assert files == FILES
