"""Rows of the git history: commits, their files, parents and messages.

Building them is pure (the facade's ``Commit`` entries of one batch in, column arrays out);
writing them is one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING`` per table,
commits first since parents and messages reference them. A commit never changes under its
sha, so a replay writes nothing; its affiliations are decided when it is first written and
re-applied set-wise when the mappings change (:mod:`services.processor.affiliations`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from services.processor.columns import Columns
from shared.affiliations import Matcher
from shared.events import v1
from shared.text import clean

COMMIT_COLUMNS = ("repo_id", "sha", "author_name", "author_email", "author_date", "author_tz_minutes",
                  "committer_name", "committer_email", "committer_date", "committer_tz_minutes",
                  "files_changed", "additions", "deletions", "author_affiliation", "committer_affiliation")
FILE_COLUMNS = ("repo_id", "sha", "path", "old_path", "added", "deleted")
PARENT_COLUMNS = ("repo_id", "sha", "parent_sha", "position")
MESSAGE_COLUMNS = ("repo_id", "sha", "message")

_TYPES = {"repo_id": "int", "sha": "text", "author_name": "text", "author_email": "text",
          "author_date": "timestamptz", "author_tz_minutes": "int", "committer_name": "text",
          "committer_email": "text", "committer_date": "timestamptz", "committer_tz_minutes": "int",
          "files_changed": "int", "additions": "int", "deletions": "int", "author_affiliation": "text",
          "committer_affiliation": "text", "path": "text", "old_path": "text", "added": "int", "deleted": "int",
          "parent_sha": "text", "position": "smallint", "message": "text"}

_NO_MATCHES = Matcher(())


@dataclass
class CommitRows:
    commits: Columns = field(default_factory=lambda: Columns(COMMIT_COLUMNS))
    files: Columns = field(default_factory=lambda: Columns(FILE_COLUMNS))
    parents: Columns = field(default_factory=lambda: Columns(PARENT_COLUMNS))
    messages: Columns = field(default_factory=lambda: Columns(MESSAGE_COLUMNS))

    def __len__(self) -> int:
        return len(self.commits) + len(self.files) + len(self.parents) + len(self.messages)


def tz_minutes(moment: datetime | None) -> int | None:
    offset = moment.utcoffset() if moment is not None else None
    return None if offset is None else int(offset.total_seconds() // 60)


def build_commit_rows(commits: dict[tuple[int, str], v1.Commit],
                      files: dict[tuple[int, str], dict[str, v1.FileChange]],
                      affiliations: Matcher | None = None) -> CommitRows:
    """``commits`` holds one entry per (repo_id, sha); ``files`` the union of the files of every
    entry of that commit (a huge commit arrives as several entries)."""
    match = affiliations or _NO_MATCHES
    rows = CommitRows()
    add_commit, add_file = rows.commits.add, rows.files.add
    add_parent, add_message = rows.parents.add, rows.messages.add
    for (rid, sha), cm in commits.items():
        paths = files[(rid, sha)]
        count = cm.file_count if cm.file_count is not None else len(paths)
        added = cm.added_total if cm.added_total is not None else sum(f.added or 0 for f in paths.values())
        deleted = cm.deleted_total if cm.deleted_total is not None else sum(f.deleted or 0 for f in paths.values())
        author_email, committer_email = clean(cm.author_email), clean(cm.committer_email)
        add_commit(rid, sha, clean(cm.author_name), author_email, cm.author_date, tz_minutes(cm.author_date),
                   clean(cm.committer_name), committer_email, cm.committer_date, tz_minutes(cm.committer_date),
                   count, added, deleted, match.at(author_email, cm.author_date),
                   match.at(committer_email, cm.committer_date))
        for position, parent in enumerate(cm.parents, 1):
            add_parent(rid, sha, parent, position)
        add_message(rid, sha, clean(cm.message) or "")
        for f in paths.values():
            add_file(rid, sha, clean(f.path), clean(f.old_path), f.added, f.deleted)
    return rows


def _insert_sql(table: str, names: tuple[str, ...], conflict: str) -> str:
    params = ", ".join(f"${i}::{_TYPES[n]}[]" for i, n in enumerate(names, 1))
    return (f"INSERT INTO {table} ({', '.join(names)}) SELECT * FROM unnest({params})"
            f" ON CONFLICT ({conflict}) DO NOTHING")


@dataclass(frozen=True)
class CommitStatements:
    commits: str = _insert_sql("data.commits", COMMIT_COLUMNS, "repo_id, sha")
    files: str = _insert_sql("data.commit_files", FILE_COLUMNS, "repo_id, sha, path")
    parents: str = _insert_sql("data.commit_parents", PARENT_COLUMNS, "repo_id, sha, position")
    messages: str = _insert_sql("data.commit_messages", MESSAGE_COLUMNS, "repo_id, sha")


async def apply_commit_rows(conn: asyncpg.Connection, sql: CommitStatements, rows: CommitRows) -> Counter[str]:
    """Write inside the caller's transaction; returns rows offered per table."""
    written: Counter[str] = Counter()
    for table, statement, cols in (("commits", sql.commits, rows.commits),
                                   ("commit_files", sql.files, rows.files),
                                   ("commit_parents", sql.parents, rows.parents),
                                   ("commit_messages", sql.messages, rows.messages)):
        if len(cols):
            await conn.execute(statement, *cols.data)
            written[table] += len(cols)
    return written
