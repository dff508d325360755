"""Batch benchmark: throughput of ``nvc-viewer batch`` with 1 and 2 local worker processes.

Synthetic CPA phantoms (`nvc_viewer.phantom`, contact and indentation scenarios alternately, on
alternate sides, written as DICOM and NIfTI alternately, seeds 1, 2, ...) are made once (kept and
reused with ``--workdir``) and copied round-robin to N case folders (``--distinct`` of them are
different; by default all 24). The same batch
(`nvc_viewer.batch.run_batch`, all export formats, a fresh output folder each time) then runs
with ``--workers 1`` and ``--workers 2``; the wall time includes starting the local Dask cluster,
so it is what a user waits for. Prints cases per minute for each and the scaling ratio.

``--one-case`` instead times one full-size case (512 x 512 x 160 T2 at 0.4 mm + TOF, DICOM)
through the command a user runs, ``nvc-viewer batch CASE --out DIR --workers 1`` (a fresh process:
start-up, the worker, load, analysis, every export), ``--rounds`` times, and prints the
wall time, the per-stage times of ``batch_report.json`` (each export format's own time too) and
``start-up`` (the wall time outside the case's own ``total``: interpreter, imports, the worker
process or local cluster, the report) and ``cpu`` (CPU seconds of the whole process tree, which
other work on the machine sways less than the wall time), beside dcm2niix converting the same
two series (the reference: reading and writing the images once) as a ratio.

``--against REV`` (with ``--one-case``) runs the same command with the package as it was at git
revision ``REV`` too, alternating with the working tree round by round (the machine's load
shifts: side by side is the only fair comparison), and prints both lines and the ratio of the
medians, of the wall and the CPU time. ``--after REV2`` compares with revision ``REV2`` instead
of the working tree (which may be in the middle of someone's edit). A revision's tree is
byte-compiled, as an installed package is; the working tree runs as it is (from source where it
has no up-to-date ``__pycache__``), so compare revisions with ``--after`` for start-up times.
``--only PATH ...`` takes just those files from ``REV`` and the rest as at ``REV2`` (default
``HEAD``), to measure one change while others commit theirs.

Usage::

    python benchmarks/batch.py [--cases 24] [--distinct 24] [--shape 128 128 56]
                               [--spacing 0.5] [--workdir DIR]
    python benchmarks/batch.py --one-case [--rounds 3] [--workdir DIR]
    python benchmarks/batch.py --one-case --against REV [--only nvc_viewer/batch.py ...]
                               [--after REV]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

SCENARIOS = ("contact", "indentation")


def make_cases(
    root: Path, n_cases: int, n_distinct: int, shape: tuple[int, int, int], spacing: float
) -> Path:
    """Write ``n_distinct`` phantoms, then copy them round-robin to ``n_cases`` case folders."""
    from nvc_viewer.phantom import make_phantom, write_case

    originals = root / "originals"
    for n in range(n_distinct):
        if (originals / f"p{n}").is_dir():  # made by an earlier run in the same --workdir
            continue
        t0 = time.perf_counter()
        scenario, side, seed = SCENARIOS[n % len(SCENARIOS)], ("left", "right")[n % 2], n + 1
        phantom = make_phantom(scenario, side=side, seed=seed, shape=shape, spacing_mm=spacing,
                               supersample=4)  # fmt: skip
        write_case(phantom, originals / f"p{n}", fmt=("dicom", "nifti")[n % 2])
        print(f"phantom {n}: {scenario} {side} seed {seed}, {shape} voxels of {spacing} mm, "
              f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    cases = root / "cases"
    shutil.rmtree(cases, ignore_errors=True)
    for n in range(n_cases):
        shutil.copytree(originals / f"p{n % n_distinct}", cases / f"case{n:03d}")
    return cases


def run(cases: Path, out: Path, workers: int) -> tuple[float, dict]:
    from nvc_viewer.batch import run_batch

    shutil.rmtree(out, ignore_errors=True)  # a fresh workspace: nothing is skipped
    t0 = time.perf_counter()
    report = run_batch([str(cases)], out, workers=workers, progress=lambda row: None)
    return time.perf_counter() - t0, report


def _revision_tree(rev: str, dest: Path, only: Sequence[str] = (), base: str | None = None) -> Path:
    """The package ``nvc_viewer`` as at git revision ``rev`` in ``dest`` (for ``PYTHONPATH``); with
    ``only``, the package as at ``base`` (default ``HEAD``) with just those files from ``rev``."""
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "-C", str(repo), "archive", (base or "HEAD") if only else rev,
                              "nvc_viewer"], check=True, capture_output=True).stdout  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for path in only:
        text = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{path}"],
                              check=True, capture_output=True).stdout  # fmt: skip
        (dest / path).write_bytes(text)
    # Byte-compiled, as an installed package is (pip compiles it): otherwise every fresh
    # process compiles the package from source again (about 0.4 s of its start-up here when
    # PYTHONDONTWRITEBYTECODE is set), which no user of an installed release pays.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(dest / "nvc_viewer")],
                   check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    return dest


def _env(pythonpath: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    else:
        env.pop("PYTHONPATH", None)
    return env


def _package_of(pythonpath: Path | None, cwd: Path) -> Path:
    """Where a fresh process of `_batch_once` imports ``nvc_viewer`` from."""
    found = subprocess.run(
        [sys.executable, "-c", "import nvc_viewer; print(nvc_viewer.__file__)"],
        capture_output=True, text=True, env=_env(pythonpath), cwd=cwd, check=True,
    ).stdout.strip()  # fmt: skip
    return Path(found).resolve().parent


def _batch_once(case: Path, out: Path, pythonpath: Path | None) -> tuple[float, dict]:
    """``nvc-viewer batch CASE --out OUT --workers 1`` in a fresh process: wall s, stages."""
    shutil.rmtree(out, ignore_errors=True)
    env = _env(pythonpath)
    command = "import sys; from nvc_viewer.cli import main; sys.exit(main(sys.argv[1:]))"
    case, out = case.resolve(), out.resolve()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    # Run from the case's folder, not the repository: ``python -c`` puts the current folder
    # first on sys.path, and the repository's own nvc_viewer would shadow the revision's.
    proc = subprocess.run(
        [sys.executable, "-c", command, "batch", str(case), "--out", str(out), "--workers", "1"],
        capture_output=True, text=True, env=env, cwd=case.parent,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"batch failed: {proc.stderr[-2000:]}")
    report = json.loads((out / "batch_report.json").read_text("utf-8"))
    stages = dict(report["cases"][0]["timings_s"])
    stages["start-up"] = wall - stages.get("total", 0.0)
    # CPU seconds of the whole process tree (the batch, its worker processes, their threads):
    # less at the mercy of other work on the machine than the wall time.
    stages["cpu"] = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return wall, stages


def _stage_line(walls: list[float], stages: list[dict]) -> str:
    keys = list(dict.fromkeys(k for row in stages for k in row))
    return ", ".join(f"{k} {statistics.median(row.get(k, 0.0) for row in stages):.2f}"
                     for k in keys)  # fmt: skip


def one_case(
    root: Path,
    rounds: int,
    against: str | None = None,
    only: Sequence[str] = (),
    after: str | None = None,
) -> None:
    """One 512 x 512 x 160 DICOM case through ``nvc-viewer batch --workers 1``, stage by stage."""
    from nvc_viewer.phantom import make_phantom, write_case

    case = root / "one_case" / "case512"
    if not case.is_dir():
        t0 = time.perf_counter()
        phantom = make_phantom("contact", side="left", seed=3, shape=(512, 512, 160),
                               spacing_mm=0.4, supersample=2)  # fmt: skip
        write_case(phantom, case, fmt="dicom")
        print(f"phantom 512x512x160 at 0.4 mm + TOF, DICOM: {time.perf_counter() - t0:.1f} s")
    binary = Path(sys.executable).parent
    dcm2niix = str(binary / "dcm2niix") if (binary / "dcm2niix").exists() else "dcm2niix"
    now = f"at {after}" if after else "working tree"
    with tempfile.TemporaryDirectory() as tmp:
        variants: dict[str, Path | None] = {
            now: _revision_tree(after, Path(tmp) / "after") if after else None
        }
        if against:
            tree = _revision_tree(against, Path(tmp) / "before", only, after)
            variants = {f"at {against}": tree, **variants}
        for name, pythonpath in variants.items():  # each variant runs the code it names
            package = _package_of(pythonpath, case.resolve().parent)
            wanted = (pythonpath / "nvc_viewer").resolve() if pythonpath else None
            if wanted is not None and package != wanted:
                raise SystemExit(f"{name}: a fresh process imports {package}, not {wanted}")
            print(f"{name}: nvc_viewer from {package}")
        walls: dict[str, list[float]] = {name: [] for name in variants}
        stages: dict[str, list[dict]] = {name: [] for name in variants}
        refs = []
        for _ in range(rounds):
            for name, pythonpath in variants.items():  # alternating: the same machine state
                wall, row = _batch_once(case, root / "one_case" / "out", pythonpath)
                walls[name].append(wall)
                stages[name].append(row)
            with tempfile.TemporaryDirectory() as ref_out:
                t0 = time.perf_counter()
                subprocess.run(
                    [dcm2niix, "-z", "y", "-b", "n", "-o", ref_out, str(case)],
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                refs.append(time.perf_counter() - t0)
    ref = statistics.median(refs)
    medians, cpus = {}, {}
    for name in variants:
        cpus[name] = statistics.median(row["cpu"] for row in stages[name])
        medians[name] = wall = statistics.median(walls[name])
        print(
            f"{name}: one 512x512x160 case + TOF, nvc-viewer batch --workers 1, median of "
            f"{rounds}: {wall:.1f} s wall; dcm2niix -z y on the same case {ref:.1f} s "
            f"({wall / ref:.1f}x); stages (s): {_stage_line(walls[name], stages[name])}"
        )
    if against:
        was, is_ = medians[f"at {against}"], medians[now]
        print(f"{now} / at {against}: {is_ / was:.2f} of the wall time ({was / is_:.2f}x "
              f"faster), {cpus[now] / cpus[f'at {against}']:.2f} of the CPU time")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-case", action="store_true", help="one 512x512x160 case, staged")
    parser.add_argument("--rounds", type=int, default=3, help="with --one-case")
    parser.add_argument("--against", metavar="REV", help="with --one-case: also git revision REV")
    parser.add_argument("--only", nargs="*", default=(), metavar="PATH",
                        help="with --against: only these files from REV")  # fmt: skip
    parser.add_argument("--after", metavar="REV", help="with --against: REV, not the working tree")
    parser.add_argument("--cases", type=int, default=24)
    parser.add_argument("--distinct", type=int, default=24, help="different phantoms")
    parser.add_argument("--shape", type=int, nargs=3, default=(128, 128, 56))
    parser.add_argument("--spacing", type=float, default=0.5, help="mm")
    parser.add_argument("--workdir", help="keep the cases and outputs here")
    args = parser.parse_args()

    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="nvc-batch-"))
    if args.one_case:
        try:
            one_case(root, args.rounds, args.against, args.only, args.after)
        finally:
            if not args.workdir:
                shutil.rmtree(root, ignore_errors=True)
        return
    try:
        cases = make_cases(root, args.cases, args.distinct, tuple(args.shape), args.spacing)
        rates = {}
        for workers in (1, 2):
            seconds, report = run(cases, root / f"out_{workers}w", workers)
            statuses = [c["status"] for c in report["cases"]]
            failed = [c for c in report["cases"] if c["status"] == "failed"]
            for case in failed[:3]:
                print(f"  failed: {case['case_id']}: {case['error']}")
            per_case = [c["timings_s"]["total"] for c in report["cases"] if c["timings_s"]]
            rates[workers] = len(statuses) / seconds * 60
            load = os.getloadavg()[0]  # other work on the machine skews the ratio: say so
            print(
                f"{workers} worker(s): {len(statuses)} cases ({statuses.count('ok')} ok, "
                f"{len(failed)} failed) in {seconds:.1f} s = {rates[workers]:.1f} cases/min; "
                f"median per case {statistics.median(per_case):.1f} s; load average {load:.1f} "
                f"on {os.cpu_count()} cores"
            )
        print(f"scaling 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")
    finally:
        if not args.workdir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
