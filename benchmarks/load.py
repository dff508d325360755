"""Load benchmark: nvc_viewer.load vs dcm2niix vs SimpleITK vs a plain pydicom loop.

A 512 x 512 x 160 int16 single-frame MR series (a smooth random volume) is written once with
`nvc_viewer.io.dicom_write.write_series`, then each reader loads the same folder, alternating for
N rounds after one untimed warm-up round (warm page cache). Prints the median per reader and its
ratio to dcm2niix (whole process, ``-z n``, into a temporary folder).

Then an Enhanced MR row: a real Philips Enhanced MR file of 176 frames of 256 x 256 with its full
per-frame functional groups (nibabel's test data ``philips_mprage.dcm.gz``, decompressed once),
read by nvc_viewer.load and converted by dcm2niix, the same way.

Usage::

    python benchmarks/load.py [--rounds 7] [--workdir DIR] [--slices 160] [--matrix 512]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np


def make_series(folder: Path, matrix: int, slices: int) -> None:
    """Write a smooth random int16 volume as a classic DICOM series (once)."""
    from nvc_viewer.io.dicom_write import write_series
    from nvc_viewer.volume import Volume

    rng = np.random.default_rng(0)
    axes = [np.linspace(0, 1, n, dtype=np.float32) for n in (matrix, matrix, slices)]
    smooth = np.zeros((matrix, matrix, slices), dtype=np.float32)
    for _ in range(6):  # a sum of separable low-frequency waves: smooth, cheap to build
        fx, fy, fz = (np.cos(2 * np.pi * (rng.uniform(0.5, 4) * a + rng.uniform())) for a in axes)
        smooth += rng.uniform(0.5, 1.0) * fx[:, None, None] * fy[None, :, None] * fz[None, None, :]
    smooth += rng.normal(scale=0.05, size=smooth.shape).astype(np.float32)
    data = (smooth / np.abs(smooth).max() * 1500 + 1000).astype(np.int16)
    affine = np.diag([0.4, 0.4, 0.5, 1.0])
    affine[:3, 3] = [-100.0, -100.0, -40.0]
    write_series(Volume(data, affine), folder, series_description="t2_ciss_3d")


def dcm2niix_binary() -> str:
    candidate = Path(sys.executable).parent / "dcm2niix"
    found = str(candidate) if candidate.exists() else shutil.which("dcm2niix")
    if not found:
        raise SystemExit("dcm2niix not found (pip install dcm2niix)")
    return found


def run_ours(folder: Path) -> None:
    from nvc_viewer import io

    volume = io.load(folder)
    assert volume.data.shape[2] > 1


def run_dcm2niix(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [dcm2niix_binary(), "-z", "n", "-b", "n", "-f", "%s", "-o", out, str(folder)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def run_sitk(folder: Path) -> None:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    image = reader.Execute()
    sitk.GetArrayViewFromImage(image)


def run_pydicom(folder: Path) -> None:
    import pydicom

    datasets = [pydicom.dcmread(os.path.join(folder, f)) for f in os.listdir(folder)]
    iop = np.array(datasets[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    datasets.sort(key=lambda ds: float(np.dot(np.array(ds.ImagePositionPatient, float), normal)))
    volume = np.stack([ds.pixel_array for ds in datasets], axis=-1)
    assert volume.shape[2] > 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the series is written (reused if present)"
    )
    parser.add_argument("--matrix", type=int, default=512)
    parser.add_argument("--slices", type=int, default=160)
    args = parser.parse_args(argv)

    tmp = None
    if args.workdir is None:
        tmp = tempfile.TemporaryDirectory()
        workdir = Path(tmp.name)
    else:
        workdir = args.workdir
    folder = workdir / f"series_{args.matrix}x{args.matrix}x{args.slices}"
    if not folder.is_dir() or not any(folder.iterdir()):
        t0 = time.perf_counter()
        make_series(folder, args.matrix, args.slices)
        print(f"wrote {folder} in {time.perf_counter() - t0:.1f} s")

    readers: dict[str, Callable[[Path], None]] = {
        "nvc_viewer.load": run_ours,
        "dcm2niix -z n (process)": run_dcm2niix,
        "SimpleITK ImageSeriesReader": run_sitk,
        "pydicom loop": run_pydicom,
    }
    times: dict[str, list[float]] = {name: [] for name in readers}
    names = list(readers)
    for round_ in range(args.rounds + 1):
        # Rotate the order every round so no reader always runs right after another.
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            t0 = time.perf_counter()
            readers[name](folder)
            elapsed = time.perf_counter() - t0
            if round_ > 0:  # round 0 warms the page cache and imports
                times[name].append(elapsed)

    ref = statistics.median(times["dcm2niix -z n (process)"])
    print(f"\n{args.matrix}x{args.matrix}x{args.slices} int16, {args.rounds} rounds, medians")
    print(f"{'reader':32s} {'median s':>9s} {'min s':>8s} {'vs dcm2niix':>12s}")
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:32s} {med:9.3f} {min(times[name]):8.3f} {med / ref:11.2f}x")
    enhanced_row(workdir, args.rounds)
    if tmp is not None:
        tmp.cleanup()
    return 0


def enhanced_row(workdir: Path, rounds: int) -> None:
    """nvc_viewer.load vs dcm2niix on a real Philips Enhanced MR file (176 frames)."""
    import gzip

    import nibabel

    source = Path(nibabel.__file__).parent / "nicom" / "tests" / "data" / "philips_mprage.dcm.gz"
    folder = workdir / "enhanced_philips"
    if not (folder / "philips_mprage.dcm").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with gzip.open(source) as fh:
            (folder / "philips_mprage.dcm").write_bytes(fh.read())
    readers = {"nvc_viewer.load": run_ours, "dcm2niix -z n (process)": run_dcm2niix}
    times: dict[str, list[float]] = {name: [] for name in readers}
    for round_ in range(rounds + 1):
        for name in list(readers)[round_ % 2 :] + list(readers)[: round_ % 2]:
            t0 = time.perf_counter()
            readers[name](folder)
            if round_ > 0:
                times[name].append(time.perf_counter() - t0)
    ref = statistics.median(times["dcm2niix -z n (process)"])
    print(f"\nEnhanced MR, Philips, 176 frames of 256x256, {rounds} rounds, medians")
    for name in readers:
        med = statistics.median(times[name])
        print(f"{name:32s} {med:9.3f} {min(times[name]):8.3f} {med / ref:11.2f}x")


if __name__ == "__main__":
    raise SystemExit(main())
