"""Progress bars for long work (collect, replay, add-org), on stderr and only on a terminal:
stdout stays what scripts read, and a log file does not fill with redrawn bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Advance = Callable[[int, int], None]  # (done, total)


def _noop(done: int, total: int) -> None:
    return None


@contextmanager
def bar(console: Console, description: str, *, enabled: bool = True) -> Iterator[Advance]:
    """A bar whose total may grow as the work is discovered; yields ``update(done, total)``."""
    if not enabled or not console.is_terminal:
        yield _noop
        return
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total or None)

    with progress:
        yield update
