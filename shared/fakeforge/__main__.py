"""python -m shared.fakeforge [--port N] [--dataset FILE]: serve until Ctrl-C.

Without --dataset it serves the bundled sample and the sample git repository, like
`watershed demo` does. --write-sample FILE regenerates the bundled sample instead.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import tempfile
import threading
from pathlib import Path
from types import FrameType

from shared.fakeforge.dataset import (
    SAMPLE_REPO,
    build_sample_dataset,
    load_dataset,
    save_dataset,
)
from shared.fakeforge.demo import demo_forge
from shared.fakeforge.server import FakeForge


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.fakeforge", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dataset", type=Path, help="dataset JSON (default: bundled sample)")
    parser.add_argument("--rate-limit", type=int, default=5000)
    parser.add_argument("--git-dir", type=Path,
                        help="where to create the sample git repo (default: a temp dir)")
    parser.add_argument("--write-sample", type=Path, metavar="FILE",
                        help="regenerate the sample dataset into FILE and exit")
    args = parser.parse_args(argv)

    if args.write_sample is not None:
        save_dataset(build_sample_dataset(), args.write_sample)
        print(f"wrote {args.write_sample}")
        return 0

    # SIGTERM (docker stop, timeout) unwinds like Ctrl-C, so the temp git copies are removed.
    signal.signal(signal.SIGTERM, _interrupt)
    options = {"host": args.host, "port": args.port, "rate_limit": args.rate_limit}
    with tempfile.TemporaryDirectory(prefix="fakeforge-") as scratch:
        if args.dataset is not None:
            forge = FakeForge(load_dataset(args.dataset), **options)
        else:
            forge = demo_forge(args.git_dir or Path(scratch), **options)
        with forge:
            print(forge.base_url, flush=True)
            if args.dataset is None:
                print(f"git: {forge.git_url(SAMPLE_REPO)}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
