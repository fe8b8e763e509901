"""What the bare clone says about its refs, and the refs the facade keeps in it.

The facade's own refs live under ``refs/watershed/`` (the fetch refspecs cover only
``refs/heads/*`` and ``refs/tags/*``, so ``fetch --prune`` never touches them):

- ``refs/watershed/keep/<sha>``: commits the rows may have been read from (committed tips,
  tips of a publication not known to be committed). A ref is what git's garbage collection
  keeps alive, and what ``for-each-ref --merged`` answers ancestry questions about in one
  call; a list in a file would be neither. After a force-push the old tip stays here until a
  committed job no longer needs it, so ``rev-list old --not new`` can always be answered.
- ``refs/watershed/published/<sha>``: the tips of this clone's last job whose messages were
  all published; removed when a job starts publishing (see ``services.facade.history``).

Named by object name, so any set of them can be written in one ``update-ref --stdin``
transaction without the directory/file conflicts branch names can have.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .git import git_output
from .history import is_sha

KEEP = "refs/watershed/keep/"
PUBLISHED = "refs/watershed/published/"
BRANCHES = "refs/heads/"


@dataclass(frozen=True)
class Heads:
    default_branch: str | None  # the branch HEAD names (None if HEAD is detached)
    branches: dict[str, str]  # refs/heads/<name> -> tip

    @property
    def head_sha(self) -> str | None:
        return self.branches.get(BRANCHES + self.default_branch) if self.default_branch else None

    def tracked(self, all_branches: bool) -> dict[str, str]:
        """The refs a job reads: every branch, or the default one alone (none when HEAD names a
        branch without commits: an empty repository)."""
        if all_branches:
            return dict(self.branches)
        head = self.head_sha
        return {BRANCHES + self.default_branch: head} if head and self.default_branch else {}


async def read_heads(repo_dir: Path) -> Heads:
    out = await git_output(repo_dir, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)", BRANCHES)
    branches = {}
    # A byte that is no UTF-8 is written \xNN: git refuses backslashes in ref names, so two
    # branches never share a name here (nor a cursor).
    for line in out.decode("utf-8", "backslashreplace").splitlines():
        sha, kind, ref = line.split(" ", 2)
        if kind == "commit":
            branches[ref] = sha
    head = await git_output(repo_dir, "symbolic-ref", "--quiet", "HEAD", timeout=60, quiet_failure=True)
    name = head.decode("utf-8", "backslashreplace").strip()
    return Heads(name.removeprefix(BRANCHES) if name.startswith(BRANCHES) else None, branches)


@dataclass(frozen=True)
class Kept:
    keep: frozenset[str]
    published: frozenset[str]


async def read_kept(repo_dir: Path) -> Kept:
    out = await git_output(repo_dir, "for-each-ref", "--format=%(refname)", "refs/watershed/")
    refs = out.decode("ascii", "replace").split()
    return Kept(frozenset(r.removeprefix(KEEP) for r in refs if r.startswith(KEEP) and is_sha(r.removeprefix(KEEP))),
                frozenset(r.removeprefix(PUBLISHED) for r in refs
                          if r.startswith(PUBLISHED) and is_sha(r.removeprefix(PUBLISHED))))


async def existing_commits(repo_dir: Path, shas: Iterable[str]) -> frozenset[str]:
    """Which of ``shas`` the clone has as commits (one ``cat-file --batch-check``)."""
    names = sorted({s for s in shas if is_sha(s)})
    if not names:
        return frozenset()
    out = await git_output(repo_dir, "cat-file", "--batch-check=%(objectname) %(objecttype)",
                           stdin="".join(f"{n}\n" for n in names).encode())
    found = (line.split(" ") for line in out.decode("ascii", "replace").splitlines())
    return frozenset(parts[0] for parts in found if len(parts) == 2 and parts[1] == "commit")


async def write_kept(repo_dir: Path, before: Kept, *, keep: Iterable[str], published: Iterable[str]) -> None:
    """Make the kept and published refs exactly ``keep`` and ``published``, in one transaction."""
    keep, published = frozenset(keep), frozenset(published)
    lines = [f"delete {KEEP}{sha}" for sha in sorted(before.keep - keep)]
    lines += [f"update {KEEP}{sha} {sha}" for sha in sorted(keep - before.keep)]
    lines += [f"delete {PUBLISHED}{sha}" for sha in sorted(before.published - published)]
    lines += [f"update {PUBLISHED}{sha} {sha}" for sha in sorted(published - before.published)]
    if lines:
        await git_output(repo_dir, "update-ref", "--stdin", stdin="".join(f"{line}\n" for line in lines).encode())


async def reachable_bases(repo_dir: Path, bases: Iterable[str], tips: Iterable[str]) -> frozenset[str]:
    """Which of the kept commits ``bases`` the ``tips`` reach: one ``for-each-ref --merged``
    over the keep refs (they must be written first)."""
    wanted, tips = frozenset(bases), sorted(set(tips))
    if not wanted or not tips:
        return frozenset()
    out = await git_output(repo_dir, "for-each-ref", "--format=%(objectname)", *(f"--merged={t}" for t in tips), KEEP)
    return frozenset(out.decode("ascii", "replace").split()) & wanted


async def rev_list(repo_dir: Path, tips: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    """Commits reachable from ``tips`` and not from ``exclude`` (names on stdin)."""
    tips = sorted(set(tips))
    if not tips:
        return []
    lines = [*tips, *(f"^{sha}" for sha in sorted(set(exclude)))]  # git 2.39 takes no --not on stdin
    out = await git_output(repo_dir, "rev-list", "--stdin", stdin="".join(f"{line}\n" for line in lines).encode())
    return out.decode("ascii", "replace").split()
