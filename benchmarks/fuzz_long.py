"""Long fuzz run: every reader on tens of thousands of mutated DICOM and NIfTI files.

Each input runs in a child forked from this (already imported) process, so a hang, a crash of
the interpreter or a runaway allocation cannot stop the run: the child reports through a pipe,
and is killed when it takes longer than ``--timeout`` seconds (the contract is an answer within
5 s; a child also stops itself with SIGALRM at 5 s per reader). An input fails when a reader
raises anything but an ``NVCError``, dies, or runs over the limit.

Prints: inputs fuzzed, crashes (grouped by message, with the input that shows each), the
slowest inputs. Exit code 1 when any input failed.

Usage::

    python benchmarks/fuzz_long.py [--inputs 10000] [--timeout 10] [--workdir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from fuzz_inputs import check_input, mutate, mutators_for, seed_corpus  # noqa: E402


def run_one(seed, mutator: str, number: int, folder: Path, timeout: float) -> dict:
    """Fuzz one input in a forked child; return its outcome as a dict."""
    read_fd, write_fd = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: build the input, run the readers, report, exit at once
        os.close(read_fd)
        code = 0
        try:
            shutil.rmtree(folder, ignore_errors=True)
            path = seed.write(mutate(seed, mutator, number), folder)
            outcome = check_input(path, seed.kind)
            report = {"crash": outcome.crash, "loaded": outcome.loaded, "seconds": outcome.seconds}
        except BaseException as exc:  # noqa: BLE001 -- reported, never raised in the child
            report = {"crash": f"harness: {type(exc).__name__}: {exc}", "seconds": 0.0}
            code = 1
        os.write(write_fd, json.dumps(report).encode())
        os._exit(code)
    os.close(write_fd)
    chunks = []
    deadline = start + timeout
    killed = False
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            killed = True
            break
        ready, _, _ = select.select([read_fd], [], [], left)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    elapsed = time.perf_counter() - start
    if killed:
        return {"crash": f"hang: no answer within {timeout} s", "seconds": elapsed}
    if not chunks:
        return {"crash": f"child died (wait status {status})", "seconds": elapsed}
    report = json.loads(b"".join(chunks))
    report["wall"] = elapsed
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="nvc-fuzz-", dir=args.workdir))
    try:
        seeds = seed_corpus(work / "seeds")
        plan = [(s, m) for s in seeds for m in mutators_for(s)]
        crashes: Counter[str] = Counter()
        example: dict[str, str] = {}
        slowest: list[tuple[float, str]] = []
        loaded = 0
        t0 = time.perf_counter()
        for n in range(args.inputs):
            seed, mutator = plan[n % len(plan)]
            number = n // len(plan)
            report = run_one(seed, mutator, number, work / "case", args.timeout)
            label = f"{seed.name} / {mutator} / {number}"
            seconds = float(report.get("seconds", 0.0))
            slowest.append((seconds, label))
            slowest = sorted(slowest, reverse=True)[:5]
            loaded += int(report.get("loaded", 0) > 0)
            if report.get("crash"):
                key = str(report["crash"])[:160]
                crashes[key] += 1
                example.setdefault(key, label)
            if (n + 1) % 1000 == 0:
                print(f"  {n + 1} inputs, {sum(crashes.values())} failing, "
                      f"{time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
        print(f"inputs fuzzed: {args.inputs} (from {len(seeds)} seed files, "
              f"{len(plan)} seed x mutator pairs) in {time.perf_counter() - t0:.0f} s")  # fmt: skip
        print(f"inputs some reader loaded: {loaded}")
        print(f"crashes: {sum(crashes.values())} inputs, {len(crashes)} distinct")
        for key, count in crashes.most_common():
            print(f"  {count:5d}  {key}   e.g. {example[key]}")
        print("slowest inputs (all readers, in-process seconds):")
        for seconds, label in slowest:
            print(f"  {seconds:6.3f} s  {label}")
        return 1 if crashes else 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
