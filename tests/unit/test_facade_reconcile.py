"""The facade's reconcile on a real clone, without a database (no rows): git rev-list sorted into
a scratch file beside the clone, merged, the scratch removed; scratch left by a killed worker is
removed by the next reconcile of the same repository, and only of that one."""

from __future__ import annotations

import subprocess
from pathlib import Path

from services.facade.app import create_app
from services.facade.git import sorted_rev_list
from shared.metrics import Metrics
from shared.settings import load_settings
from tests.integration.test_loss import make_history


def rev_list(repo: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(repo), "rev-list", "main"], check=True, capture_output=True,
                          text=True).stdout.split()


async def test_reachable_commits_are_written_sorted(tmp_path: Path) -> None:
    repo = make_history(tmp_path / "r.git", 40)
    out = tmp_path / "sorted"
    await sorted_rev_list(repo, [rev_list(repo)[0]], out)
    assert out.read_text().split() == sorted(rev_list(repo))
    assert not list(tmp_path.glob("*.unsorted"))  # git's unsorted output is gone
    await sorted_rev_list(repo, [], out)  # no tips: nothing reachable
    assert out.read_bytes() == b""


async def test_reconcile_without_rows_logs_everything_and_cleans_up(tmp_path: Path) -> None:
    clones = tmp_path / "clones"
    clones.mkdir()
    repo = make_history(clones / "7.git", 30)
    stale = clones / ".reconcile-7-killed"
    stale.mkdir()
    (stale / "reachable").write_text("x\n")
    other = clones / ".reconcile-70-running"  # another repository's job: not ours to remove
    other.mkdir()
    # Never started: no broker connection, no database (no rows).
    settings = load_settings({}, nats_url="nats://127.0.0.1:1", data_dir=tmp_path / "data", clones_dir=clones)
    facade = create_app(settings, Metrics())
    facade.db = None  # as on_start leaves it without a database URL
    tip = rev_list(repo)[0]
    gone = ["f" * 40]
    done = await facade._reconcile(7, repo, (tip,), gone, whole=False)
    assert done.log is None and done.retract == tuple(gone)  # no rows: the whole history is logged
    assert sorted(p.name for p in clones.iterdir()) == [".reconcile-70-running", "7.git"]
