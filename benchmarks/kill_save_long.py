"""Long kill run: SIGKILL a process saving findings (the viewer's autosave) N times.

Runs the trials of ``tests/core/test_kill_save.py`` (a child forked from this process adds a
surgeon's finding and saves through `nvc_viewer.workspace.Workspace` in a loop, reporting each
save that returned through a pipe; it is killed at a random moment after its first save), then
checks after every kill that ``findings.json`` exists, is not empty, is valid, and holds every
finding whose save returned.

Prints: trials, saves confirmed, losses, unreadable files. Exit code 1 on any loss.

Usage::

    python benchmarks/kill_save_long.py [--trials 200] [--seed 7] [--max-delay 0.06]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from test_kill_save import run_kill_trials  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--max-delay", type=float, default=0.06, help="seconds after a save")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="nvc-kill-"))
    try:
        t0 = time.perf_counter()
        stats = run_kill_trials(
            work / "workspace", args.trials, seed=args.seed, max_delay_s=args.max_delay
        )
        print(f"kill trials: {stats['trials']} in {time.perf_counter() - t0:.0f} s")
        print(f"saves confirmed before the kills: {stats['saves']}")
        print(f"kills inside an atomic write (temporary file left): {stats['mid_write']}")
        print(f"kills between a save's rename and its report: {stats['mid_save']}")
        print(f"missing / empty / unparsable findings file: {len(stats['unreadable'])}")
        print(f"trials that lost a confirmed finding: {len(stats['losses'])}")
        for trial, what in stats["losses"][:10] + stats["unreadable"][:10]:
            print(f"  trial {trial}: {what}")
        return 1 if stats["losses"] or stats["unreadable"] else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
