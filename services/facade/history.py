"""Planning a read of a repository's history: which commits to log and which to retract.

Pure: tips, cursors and ancestry answers in, a plan out. ``services.facade.refs`` asks git the
questions and ``services.facade.sync`` runs the plan.

Vocabulary:

- **tracked**: the refs read now (the default branch, or every branch) and their tips;
- **committed**: the tips the last *committed* job read to: its cursors ``git:<ref>``, which
  the processor promotes only once every row of that job is in;
- **kept**: commits the clone holds under ``refs/watershed/keep/``, so that a tip the rows
  were read from survives a force-push and git's garbage collection and can still be compared;
- **published**: the tips named by this clone's last job whose messages were all published
  (``refs/watershed/published/``; removed when a job starts publishing).

Two modes:

- **incremental**: this clone published exactly what is committed, so the rows are exactly
  the commits reachable from the committed tips. Log ``tracked --not committed``; retract
  ``committed tips that tracked no longer reaches --not tracked`` (a force-push, a deleted
  branch). Both are one git walk over what changed.
- **reconcile**: the clone cannot vouch for the rows: the first collection (or the first
  since commits were read whole), a full resync, a committed tip the clone does not have (a
  new volume, another replica), or a publication since the last commit that is not committed
  (a job cut short, or not applied yet). Then the rows themselves are compared with what the
  tracked tips reach: log what is missing (a full resync: everything), retract what is not
  reachable, plus what the kept tips reach that tracked does not (commits of a publication
  that may still be on its way).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

CURSOR_PREFIX = "git:"  # the streams of ops.cursors the facade owns: git:refs/heads/main
_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names


def is_sha(value: str) -> bool:
    return bool(_SHA.match(value))


def cursor_stream(ref: str) -> str:
    return CURSOR_PREFIX + ref


def committed_tips(cursors: Mapping[str, str | None]) -> dict[str, str]:
    """ref -> tip from the stored cursors of a repository (any service's): the facade's streams
    with a value. A ref whose cursor is empty was deleted (or is no longer tracked)."""
    return {stream.removeprefix(CURSOR_PREFIX): value for stream, value in cursors.items()
            if stream.startswith(CURSOR_PREFIX) and value is not None and is_sha(value)}


@dataclass(frozen=True)
class CloneState:
    """What the clone and the database say at the start of a job."""

    tracked: Mapping[str, str]  # ref -> tip, read now
    committed: Mapping[str, str]  # ref -> tip, the committed cursors
    kept: frozenset[str] = frozenset()
    published: frozenset[str] = frozenset()
    present: frozenset[str] = frozenset()  # the committed tips the clone has
    full: bool = False  # a full resync was asked for

    @property
    def committed_present(self) -> frozenset[str]:
        return frozenset(self.committed.values()) & self.present

    def pins(self) -> frozenset[str]:
        """Commits to keep before anything is published: whatever the rows may be read from
        (kept and committed tips) and what this job is about to publish (tracked tips)."""
        return self.kept | self.committed_present | frozenset(self.tracked.values())

    def bases(self) -> frozenset[str]:
        """The tips whose ancestry (reachable from the tracked tips, or not) the plan needs."""
        return self.kept | self.committed_present


def why_reconcile(state: CloneState) -> str | None:
    """None when the clone can vouch for the rows (incremental), else the reason it cannot."""
    committed = frozenset(state.committed.values())
    if state.full:
        return "full resync"
    if not committed:
        return "no committed cursors"
    if not committed <= state.present:
        return "a committed tip is missing from the clone"
    if committed != state.published:
        return "the clone's last publication is not what is committed"
    return None


@dataclass(frozen=True)
class Plan:
    reconcile: str | None  # the reason to compare with the rows, None for an incremental read
    log_from: tuple[str, ...]  # tips to log from
    log_not: tuple[str, ...]  # ... excluding what these reach (incremental only)
    retract_from: tuple[str, ...]  # tips whose commits not reachable from log_from are retracted
    cursors: dict[str, str | None]  # cursor stream -> tip; None: the ref is no longer tracked
    keep_after: frozenset[str]  # kept once every message is published


def plan(state: CloneState, reachable: Iterable[str]) -> Plan:
    """The plan, given which of ``state.bases()`` the tracked tips reach (git's answer)."""
    reachable = frozenset(reachable)
    reason = why_reconcile(state)
    tips = frozenset(state.tracked.values())
    committed = state.committed_present
    # Incremental: the last committed publication already retracted what it kept besides
    # its tips, so only the committed tips can have left the history since.
    bases = state.bases() if reason else committed
    cursors: dict[str, str | None] = {
        cursor_stream(ref): sha for ref, sha in sorted(state.tracked.items()) if state.committed.get(ref) != sha}
    cursors.update((cursor_stream(ref), None) for ref in sorted(state.committed) if ref not in state.tracked)
    return Plan(
        reconcile=reason,
        log_from=tuple(sorted(tips)),
        log_not=() if reason else tuple(sorted(committed)),
        retract_from=tuple(sorted(bases - reachable - tips)),
        cursors=cursors,
        # The committed tips stay the next job's starting point until this job is committed.
        keep_after=tips | committed,
    )


@dataclass(frozen=True)
class Reconciled:
    log: tuple[str, ...] | None  # the commits to log; None: everything the tracked tips reach
    retract: tuple[str, ...]


def reconcile(reachable_now: Iterable[str], rows: Iterable[str], gone: Iterable[str] = (), *,
              whole: bool = False) -> Reconciled:
    """Rows against history: commits reachable from the tracked tips (``reachable_now``), the
    repository's commit rows, and what git says left the history (``gone``: reachable from the
    kept tips, not from the tracked ones). ``whole`` (a full resync) logs every commit again,
    so that what a newer version derives from commits is written for the old ones too."""
    now = set(reachable_now)
    stored = set(rows)
    retract = (stored - now) | (set(gone) - now)
    if whole or not stored:
        return Reconciled(log=None, retract=tuple(sorted(retract)))
    return Reconciled(log=tuple(sorted(now - stored)), retract=tuple(sorted(retract)))


def reconcile_sorted(reachable_now: Iterable[str], rows: Iterable[str], gone: Iterable[str] = (), *,
                     whole: bool = False) -> Reconciled:
    """:func:`reconcile` over two *sorted* streams (byte order), in one merge: memory grows with
    what differs (the commits to log or to retract), not with the history, so the first
    collection of a million-commit repository reads its names from files, not from sets."""
    now_it: Iterator[str] = iter(reachable_now)
    rows_it: Iterator[str] = iter(rows)
    gone_left = set(gone)
    now, row = next(now_it, None), next(rows_it, None)
    # Without rows (a first collection) or for a full resync everything is logged: no list.
    collect = not whole and row is not None
    missing: list[str] = []
    retract: list[str] = []
    while now is not None or row is not None:
        if row is None or (now is not None and now < row):
            gone_left.discard(now)  # type: ignore[arg-type]
            if collect:
                missing.append(now)  # type: ignore[arg-type]
            now = next(now_it, None)
        elif now is None or row < now:
            retract.append(row)
            row = next(rows_it, None)
        else:
            gone_left.discard(now)
            now, row = next(now_it, None), next(rows_it, None)
    retract = sorted(set(retract) | gone_left)
    return Reconciled(log=tuple(missing) if collect else None, retract=tuple(retract))
