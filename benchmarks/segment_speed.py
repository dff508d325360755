"""Speed and memory of the analysis on a full-size case, side by side with whole-volume filters.

One run, three contenders on the same 512 x 512 x 160 phantom at 0.4 mm (a CISS slab as
scanned) with its TOF:

1. ``nvc_viewer.analysis.analyse`` -- the whole pipeline (localisation, masks, TOF alignment,
   nerve tracking, vessels, findings, label map), and ``refine`` around a click;
2. ``skimage.filters.frangi`` over the whole volume with the pipeline's scales
   (`nvc_viewer.segment.nerves.TUBE_SIGMAS_MM`, in voxels), dark tubes. On this machine it
   would take well over 5 minutes, so it runs on a documented sub-block (the full height,
   ``--block`` voxels in-plane, centred) and the time is extrapolated to the whole volume by
   voxel count;
3. SimpleITK's multiscale objectness (``HessianRecursiveGaussian`` + ``ObjectnessMeasure``,
   the maximum over the same scales) on the same sub-block and on the whole volume.

Each contender runs in its own process. Memory: the process's peak resident set (``VmHWM``) over
the whole run, and the peak *added* by the contender itself -- the high-water mark is reset
(``/proc/self/clear_refs``) once the input volumes are loaded, so the figure is what the work
needs on top of the loaded case. On a system without that interface only the whole-run peak
(``ru_maxrss``) is given. The analysis is run ``--repeat`` times (median reported); the seeded
refinement is timed at three clicks along the left facial nerve.

Usage (2 cores; run it alone, it is CPU-bound)::

    nice -n 10 python benchmarks/segment_speed.py --cache DIR [--block 128] [--skip-full-sitk]
                                                  [--only analysis frangi sitk] [--repeat 3]
                                                  [--out speed.json]

``--cache DIR`` keeps the rendered phantom (about 270 MB of NIfTI) between runs; use a folder
outside the source tree. The whole-volume scikit-image Frangi filter is never run (about 5 min
and 8 GB here): its time is extrapolated from the ``--block`` sub-block by voxel count, and the
table says so.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

SHAPE = (512, 512, 160)
SPACING = 0.4


def _rss_mb() -> float:
    """Peak resident memory of this process (MB) since start or the last `_reset_peak`."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float("nan")


def _reset_peak() -> bool:
    """Reset the peak-RSS mark (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _case(cache: Path):
    """The phantom's T2 and TOF, rendered once and kept as NIfTI in ``cache``."""
    import nibabel as nib

    from nvc_viewer import load

    t2_path, tof_path = cache / "speed_t2.nii", cache / "speed_tof.nii"
    if not (t2_path.exists() and tof_path.exists()):
        from nvc_viewer.phantom import make_phantom

        t0 = time.perf_counter()
        seed = 4242
        ph = make_phantom(
            "contact", side="left", seed=seed, shape=SHAPE, spacing_mm=(SPACING,) * 3, snr=25.0
        )
        print(f"phantom (seed {seed}) rendered in {time.perf_counter() - t0:.0f} s", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(ph.t2.data.astype(np.float32), ph.t2.affine), t2_path)
        nib.save(nib.Nifti1Image(ph.tof.data.astype(np.float32), ph.tof.affine), tof_path)
    return load(t2_path), load(tof_path)


def _run_analysis(cache: str, repeat: int, queue) -> None:
    from nvc_viewer.analysis import analyse, refine

    t2, tof = _case(Path(cache))
    np.asarray(t2.data).sum()
    np.asarray(tof.data).sum()
    peak_all = _rss_mb()
    base = _current_rss_mb()
    reset = _reset_peak()
    times, res = [], None
    for _ in range(max(1, repeat)):
        res = None  # let the previous result go before the next run
        t0 = time.perf_counter()
        res = analyse(t2, tof)
        times.append(time.perf_counter() - t0)
    peak = _rss_mb()
    line = res.centrelines.get("VII_left")
    refine_s = []
    if line is not None and len(line) >= 4:
        for frac in (0.3, 0.5, 0.7):
            click = line[int(frac * (len(line) - 1))]
            t0 = time.perf_counter()
            refine(res, t2, tof, click, kind="nerve")
            refine_s.append(time.perf_counter() - t0)
    queue.put(
        {
            "seconds": round(float(np.median(times)), 2),
            "seconds_all": [round(t, 2) for t in times],
            "peak_rss_mb": round(max(peak, peak_all), 1),
            "rss_inputs_mb": round(base, 1),
            "peak_added_mb": round(peak - base, 1) if reset else None,
            "stages_s": res.timings_s,
            "refine_s": [round(t, 3) for t in refine_s],
            "crop_shape": list(res._scene.shape) if res._scene is not None else None,
            "findings": len(res.findings),
        }
    )


def _block(shape: tuple[int, ...], size: int) -> tuple[slice, ...]:
    c0, c1 = shape[0] // 2, shape[1] // 2
    h = size // 2
    return (slice(c0 - h, c0 + h), slice(c1 - h, c1 + h), slice(None))


def _run_frangi(cache: str, size: int, queue) -> None:
    from skimage.filters import frangi

    from nvc_viewer.segment.nerves import TUBE_SIGMAS_MM

    t2, _ = _case(Path(cache))
    sub = np.asarray(t2.data[_block(t2.shape, size)], dtype=np.float32)
    del t2
    sigmas = [s / SPACING for s in TUBE_SIGMAS_MM]
    base = _current_rss_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    frangi(sub, sigmas=sigmas, black_ridges=True)
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "block": list(sub.shape),
            "seconds_block": round(seconds, 2),
            "extrapolated_full_s": round(seconds * float(np.prod(SHAPE)) / sub.size, 1),
            "peak_added_mb": round(_rss_mb() - base, 1) if reset else None,
            "sigmas_vox": sigmas,
        }
    )


def _run_sitk(cache: str, size: int | None, queue) -> None:
    import SimpleITK as sitk

    from nvc_viewer.segment.nerves import TUBE_SIGMAS_MM

    t2, _ = _case(Path(cache))
    data = np.asarray(t2.data, dtype=np.float32)
    if size is not None:
        data = data[_block(t2.shape, size)]
    img = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    img.SetSpacing((SPACING,) * 3)
    shape = list(data.shape)
    del data, t2
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    base = _current_rss_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    best = None
    for sigma in TUBE_SIGMAS_MM:
        # SimpleITK's objectness takes the Hessian of its input by finite differences: smooth
        # first (recursive Gaussian), scale by sigma^2 to compare scales (Lindeberg)
        smooth = sitk.SmoothingRecursiveGaussian(img, sigma) * float(sigma**2)
        obj = sitk.ObjectnessMeasure(smooth, objectDimension=1, brightObject=False)
        best = obj if best is None else sitk.Maximum(best, obj)
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "block": shape,
            "seconds": round(seconds, 2),
            "peak_added_mb": round(_rss_mb() - base, 1) if reset else None,
        }
    )


def _in_process(target, *args) -> dict:
    """Run ``target(*args, queue)`` in a fresh process; its report, or the reason it failed."""
    import queue as queue_mod

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    while True:
        try:
            out = q.get(timeout=2.0)
            break
        except queue_mod.Empty:
            if not p.is_alive():
                out = {"error": f"the process ended with exit code {p.exitcode} (see above)"}
                break
    p.join()
    return out


def _fmt(x, unit: str = "") -> str:
    return "-" if x is None else f"{x}{unit}"


def format_table(report: dict) -> str:
    """The report as a plain-text table (one line per contender)."""
    rows = [("contender", "volume", "time", "peak memory added", "note")]
    a = report.get("analysis")
    if a and "error" not in a:
        rows.append(
            (
                "nvc_viewer analyse (median)",
                "full case + TOF",
                _fmt(a["seconds"], " s"),
                _fmt(a["peak_added_mb"], " MB"),
                f"process peak {a['peak_rss_mb']} MB (inputs {a['rss_inputs_mb']} MB); "
                f"crop {a['crop_shape']}; runs {a['seconds_all']}",
            )
        )
        if a["refine_s"]:
            rows.append(
                (
                    "nvc_viewer refine (click)",
                    "20 mm box",
                    _fmt(round(float(np.median(a["refine_s"])), 3), " s"),
                    "-",
                    f"3 clicks: {a['refine_s']}",
                )
            )
    f = report.get("skimage_frangi")
    if f and "error" not in f:
        rows.append(
            (
                "skimage frangi (block)",
                "x".join(map(str, f["block"])),
                _fmt(f["seconds_block"], " s"),
                _fmt(f["peak_added_mb"], " MB"),
                "measured",
            )
        )
        rows.append(
            (
                "skimage frangi (full)",
                "x".join(map(str, SHAPE)),
                _fmt(f["extrapolated_full_s"], " s"),
                "-",
                "EXTRAPOLATED from the block by voxel count, not run",
            )
        )
    for key, label in (("sitk_objectness_block", "block"), ("sitk_objectness_full", "full")):
        o = report.get(key)
        if o and "error" not in o:
            rows.append(
                (
                    f"SimpleITK objectness ({label})",
                    "x".join(map(str, o["block"])),
                    _fmt(o["seconds"], " s"),
                    _fmt(o["peak_added_mb"], " MB"),
                    "measured, 2 threads",
                )
            )
    for key, val in report.items():
        if isinstance(val, dict) and "error" in val:
            rows.append((key, "-", "-", "-", "FAILED: " + val["error"]))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(r[c].ljust(widths[c]) for c in range(4)) + "  " + r[4])
        if k == 0:
            lines.append("-" * (sum(widths) + 8 + len("note")))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="speed_case", help="folder for the rendered phantom")
    ap.add_argument("--block", type=int, default=128, help="in-plane size of the sub-block")
    ap.add_argument("--skip-full-sitk", action="store_true")
    ap.add_argument(
        "--only",
        nargs="+",
        choices=("analysis", "frangi", "sitk"),
        default=("analysis", "frangi", "sitk"),
        help="contenders to run",
    )
    ap.add_argument("--repeat", type=int, default=3, help="analysis runs (median reported)")
    ap.add_argument("--out", default=None, help="write the report as JSON")
    args = ap.parse_args(argv)
    cache = str(Path(args.cache).resolve())
    _case(Path(cache))  # render once, in this process
    report: dict = {"shape": SHAPE, "spacing_mm": SPACING}
    if "analysis" in args.only:
        report["analysis"] = _in_process(_run_analysis, cache, args.repeat)
        print("analysis:", json.dumps(report["analysis"]), flush=True)
    if "frangi" in args.only:
        report["skimage_frangi"] = _in_process(_run_frangi, cache, args.block)
        print("skimage frangi:", json.dumps(report["skimage_frangi"]), flush=True)
    if "sitk" in args.only:
        report["sitk_objectness_block"] = _in_process(_run_sitk, cache, args.block)
        print("sitk objectness (block):", json.dumps(report["sitk_objectness_block"]), flush=True)
        if not args.skip_full_sitk:
            report["sitk_objectness_full"] = _in_process(_run_sitk, cache, None)
            print("sitk objectness (full):", json.dumps(report["sitk_objectness_full"]), flush=True)
    print()
    print(format_table(report))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0 if not any(isinstance(v, dict) and "error" in v for v in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
