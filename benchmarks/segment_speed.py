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

Each contender runs in its own process; its peak resident memory (``ru_maxrss``) is reported,
and, for the analysis, also the memory held by the input volumes before it started.

Usage::

    python benchmarks/segment_speed.py [--cache DIR] [--block 128] [--skip-full-sitk]
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
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _case(cache: Path):
    """The phantom's T2 and TOF, rendered once and kept as NIfTI in ``cache``."""
    import nibabel as nib

    from nvc_viewer import load

    t2_path, tof_path = cache / "speed_t2.nii", cache / "speed_tof.nii"
    if not (t2_path.exists() and tof_path.exists()):
        from nvc_viewer.phantom import PhantomBuildError, make_phantom

        t0 = time.perf_counter()
        for seed in range(4242, 4272):  # the first seed whose random anatomy can be built
            try:
                ph = make_phantom(
                    "contact",
                    side="left",
                    seed=seed,
                    shape=SHAPE,
                    spacing_mm=(SPACING,) * 3,
                    snr=25.0,
                )
                break
            except PhantomBuildError:
                continue
        else:
            raise RuntimeError("no phantom could be built for seeds 4242-4271")
        print(f"phantom (seed {seed}) rendered in {time.perf_counter() - t0:.0f} s", flush=True)
        cache.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(ph.t2.data.astype(np.float32), ph.t2.affine), t2_path)
        nib.save(nib.Nifti1Image(ph.tof.data.astype(np.float32), ph.tof.affine), tof_path)
    return load(t2_path), load(tof_path)


def _run_analysis(cache: str, queue) -> None:
    from nvc_viewer.analysis import analyse, refine

    t2, tof = _case(Path(cache))
    np.asarray(t2.data).sum()
    np.asarray(tof.data).sum()
    base = _rss_mb()
    t0 = time.perf_counter()
    res = analyse(t2, tof)
    seconds = time.perf_counter() - t0
    peak = _rss_mb()
    click = res.centrelines.get("VII_left")
    refine_s = None
    if click is not None and len(click):
        t0 = time.perf_counter()
        refine(res, t2, tof, click[len(click) // 2], kind="nerve")
        refine_s = time.perf_counter() - t0
    queue.put(
        {
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(peak, 1),
            "rss_before_mb": round(base, 1),
            "stages_s": res.timings_s,
            "refine_s": None if refine_s is None else round(refine_s, 3),
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
    sigmas = [s / SPACING for s in TUBE_SIGMAS_MM]
    t0 = time.perf_counter()
    frangi(sub, sigmas=sigmas, black_ridges=True)
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "block": list(sub.shape),
            "seconds_block": round(seconds, 2),
            "extrapolated_full_s": round(seconds * np.prod(t2.shape) / sub.size, 1),
            "peak_rss_mb": round(_rss_mb(), 1),
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
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(2)
    t0 = time.perf_counter()
    best = None
    for sigma in TUBE_SIGMAS_MM:
        hess = sitk.HessianRecursiveGaussian(img, sigma=sigma, normalizeAcrossScale=True)
        obj = sitk.ObjectnessMeasure(hess, objectDimension=1, brightObject=False)
        best = obj if best is None else sitk.Maximum(best, obj)
    seconds = time.perf_counter() - t0
    queue.put(
        {
            "block": list(data.shape),
            "seconds": round(seconds, 2),
            "peak_rss_mb": round(_rss_mb(), 1),
        }
    )


def _in_process(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", default="speed_case", help="folder for the rendered phantom")
    ap.add_argument("--block", type=int, default=128, help="in-plane size of the sub-block")
    ap.add_argument("--skip-full-sitk", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    cache = str(Path(args.cache).resolve())
    _case(Path(cache))  # render once, in this process
    report: dict = {"shape": SHAPE, "spacing_mm": SPACING}
    report["analysis"] = _in_process(_run_analysis, cache)
    print("analysis:", json.dumps(report["analysis"]), flush=True)
    report["skimage_frangi"] = _in_process(_run_frangi, cache, args.block)
    print("skimage frangi:", json.dumps(report["skimage_frangi"]), flush=True)
    report["sitk_objectness_block"] = _in_process(_run_sitk, cache, args.block)
    print("sitk objectness (block):", json.dumps(report["sitk_objectness_block"]), flush=True)
    if not args.skip_full_sitk:
        report["sitk_objectness_full"] = _in_process(_run_sitk, cache, None)
        print("sitk objectness (full):", json.dumps(report["sitk_objectness_full"]), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
