"""The facade's questions to git about a clone, against real git: tips, kept refs, ancestry,
exclusion on stdin, and HEAD following the remote's default branch."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.facade import refs
from services.facade.git import stream_commits, sync_bare_clone
from tests.unit.test_git_runner import git


@pytest.fixture
def source(tmp_path: Path) -> Path:
    repo = tmp_path / "source"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for n in range(3):
        (repo / "f.txt").write_text(f"{n}\n")
        git(repo, "add", "f.txt")
        git(repo, "commit", "-q", "-m", f"commit {n}")
    git(repo, "checkout", "-q", "-b", "side", "HEAD~1")
    (repo / "g.txt").write_text("side\n")
    git(repo, "add", "g.txt")
    git(repo, "commit", "-q", "-m", "side")
    git(repo, "checkout", "-q", "main")
    return repo


async def test_heads_kept_refs_and_ancestry(source: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone.git"
    await sync_bare_clone(str(source), clone, allow_local=True)
    main, side, first = (git(source, "rev-parse", r) for r in ("main", "side", "main~2"))
    heads = await refs.read_heads(clone)
    assert heads.default_branch == "main" and heads.head_sha == main
    assert heads.tracked(False) == {"refs/heads/main": main}
    assert heads.tracked(True) == {"refs/heads/main": main, "refs/heads/side": side}

    before = await refs.read_kept(clone)
    await refs.write_kept(clone, before, keep={first, side}, published={side})
    kept = await refs.read_kept(clone)
    assert (kept.keep, kept.published) == ({first, side}, {side})
    assert await refs.reachable_bases(clone, kept.keep, [main]) == {first}  # side is not merged
    assert await refs.reachable_bases(clone, kept.keep, []) == set()
    assert set(await refs.rev_list(clone, [side], exclude=[main])) == {side}
    assert await refs.existing_commits(clone, [main, "0" * 40]) == {main}

    logged = [c.sha for batch in [b async for b in stream_commits(clone, [main, side], exclude=[first])] for c in batch]
    assert set(logged) == {main, git(source, "rev-parse", "main~1"), side}
    only = [c.sha for batch in [b async for b in stream_commits(clone, [], only=[first])] for c in batch]
    assert only == [first]

    await refs.write_kept(clone, kept, keep=(), published=())
    assert await refs.read_kept(clone) == refs.Kept(frozenset(), frozenset())


async def test_head_follows_a_renamed_default_branch(source: Path, tmp_path: Path) -> None:
    clone = tmp_path / "clone.git"
    await sync_bare_clone(str(source), clone, allow_local=True)
    git(source, "branch", "-m", "main", "trunk")
    await sync_bare_clone(str(source), clone, allow_local=True)
    heads = await refs.read_heads(clone)
    assert heads.default_branch == "trunk"
    assert heads.tracked(False) == {"refs/heads/trunk": git(source, "rev-parse", "trunk")}
