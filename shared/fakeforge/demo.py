"""The forge `watershed demo` runs: the bundled sample dataset plus the sample git history
served at /git/watershed-demo/sample.git."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shared.fakeforge.dataset import SAMPLE_REPO, load_sample_dataset
from shared.fakeforge.gitrepo import create_sample_git_repo
from shared.fakeforge.server import FakeForge


def demo_forge(workdir: Path, **forge_options: Any) -> FakeForge:
    """An unstarted FakeForge; the sample git repo is created in `workdir/sample` (or reused
    if a previous run left it there)."""
    forge = FakeForge(load_sample_dataset(), **forge_options)
    repo = create_sample_git_repo(Path(workdir) / "sample")
    forge.add_git_repo(SAMPLE_REPO, repo)
    return forge
