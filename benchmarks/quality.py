"""Quality of the automatic analysis on synthetic phantoms with known truth.

Runs `nvc_viewer.analysis.analyse` on phantoms of every scenario at two SNR presets (3 T, 1.5 T),
with seeds that the test suite never uses, and reports per scenario and preset:

- Dice of the facial nerve (VII) and of the arteries against the truth label map;
- VII centreline distance (mm): mean distance from the true centreline to the tracked one
  (and the symmetric mean), inside the field of view;
- RDP error (mm) per side;
- contact detection per side: sensitivity and false positives, a finding counting when its
  confidence is >= 0.5 (sub-voxel gaps are ambiguous: a finding there is neither a hit nor a
  false positive; so is a contact the slab does not hold, which a tilted slab may leave
  outside its field of view); grade and vessel agreement of matched findings.

Usage (on a shared 2-core machine use one job; each case takes about 20-30 s to render and
5 s to analyse, so the default 2 seeds x 2 presets x 9 scenarios take about 15-20 min)::

    nice -n 10 python benchmarks/quality.py [--seeds 1001 1002] [--snr 3T 1.5T]
                                            [--scenarios contact ...] [--cache DIR]
                                            [--jobs 1] [--out quality.json]

``--cache DIR`` keeps the rendered phantoms (pickles, about 10 MB each) between runs; use a
folder outside the source tree. The output is one line per case, then a table per scenario and
preset with the targets of the issue in its header; ``--out`` writes every row (with the
predicted and true findings) and the summary as JSON. Seeds 1001 and 1002 are held out: the
test suite never uses them, and the analysis must not be tuned on them.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SEEDS = (1001, 1002)
SNRS = ("3T", "1.5T")
CONFIDENT = 0.5
#: Fields of a finding kept in the per-case JSON.
_SHOWN = ("side", "nerve", "vessel", "grade", "segment", "distance_from_brainstem_mm")


def cached_phantom(path: Path | None, build) -> tuple[SimpleNamespace, float]:
    """A phantom from the pickle at ``path`` when there, else ``build()`` kept there.

    Returns the phantom's volumes, truth and parameters and the seconds it took to build
    (0 from the cache). The pickle is written atomically (a process's own temporary file).
    """
    if path is not None and path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh), 0.0
    t0 = time.perf_counter()
    ph = build()
    seconds = time.perf_counter() - t0
    keep = SimpleNamespace(
        t2=ph.t2,
        tof=ph.tof,
        labels=ph.labels,
        truth=ph.truth,
        centrelines=ph.centrelines,
        radii=ph.radii,
        scenario=ph.scenario,
        side=ph.side,
        seed=ph.seed,
        params=ph.params,
    )
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(keep, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return keep, seconds


def _phantom(scenario: str, side: str, seed: int, snr: str, cache: Path | None):
    from nvc_viewer.phantom import make_phantom

    path = None if cache is None else cache / f"{scenario}_{side}_{seed}_{snr}.pkl"
    return cached_phantom(
        path, lambda: make_phantom(scenario, side=side, seed=seed, snr=snr, threads=1)
    )[0]


def _mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance (mm) from points of polyline ``a`` to polyline ``b``."""
    from nvc_viewer.segment.centreline import polyline_distance, resample

    if len(a) < 2 or len(b) < 2:
        return float("inf")
    d, _, _ = polyline_distance(resample(a, 0.1), b)
    return float(d.mean())


def _in_fov(line: np.ndarray, vol) -> np.ndarray:
    ijk = vol.ijk_of(line)
    inside = np.all((ijk >= 0) & (ijk <= np.asarray(vol.shape) - 1), axis=1)
    return line[inside]


def visible_findings(ph) -> tuple[list[dict], list[dict]]:
    """The phantom's truth findings inside the T2's field of view, and those outside it (a
    contact a tilted slab leaves out cannot be seen: it is not scored, as a sub-voxel gap)."""
    outside = [
        f for f in ph.truth["findings"] if not len(_in_fov(np.array([f["position_ras"]]), ph.t2))
    ]
    return [f for f in ph.truth["findings"] if f not in outside], outside


def evaluate_case(scenario: str, side: str, seed: int, snr: str, cache: str | None) -> dict:
    """Analyse one phantom and score it against its truth."""
    from nvc_viewer.analysis import analyse

    ph = _phantom(scenario, side, seed, snr, None if cache is None else Path(cache))
    t0 = time.perf_counter()
    res = analyse(ph.t2, ph.tof)
    seconds = time.perf_counter() - t0
    out: dict = {
        "scenario": scenario,
        "side": side,
        "seed": seed,
        "snr": snr,
        "seconds": round(seconds, 2),
    }
    out.update(score_analysis(ph, res))
    return out


def score_analysis(ph, res) -> dict:
    """Score an analysis result ``res`` (`nvc_viewer.analysis.analyse`) against the truth of
    phantom ``ph`` (labels, truth findings and landmarks, centrelines): Dice per structure, VII
    centreline distance, RDP error and the findings' detection (see the module docstring)."""
    from nvc_viewer.labels import LABEL_VALUES
    from nvc_viewer.metrics import dice, match_findings

    lab, tl = res.labels.data, ph.labels.data
    out: dict = {}
    for name in ("VII", "VIII", "V", "artery", "vein", "brainstem"):
        value = LABEL_VALUES[name]
        out[f"dice_{name}"] = round(dice(lab == value, tl == value), 3)
    cl_dist, cl_sym, rdp_err = {}, {}, {}
    truth_lm = {
        (m["name"], m["nerve"], m["side"]): np.asarray(m["position_ras"])
        for m in ph.truth["landmarks"]
    }
    pred_lm = {(m.name, m.nerve, m.side): np.asarray(m.position_ras) for m in res.landmarks}
    for s in ("left", "right"):
        key = f"VII_{s}"
        truth = _in_fov(ph.centrelines[key], ph.t2)
        pred = res.centrelines.get(key)
        if pred is None or len(pred) < 2:
            cl_dist[s] = cl_sym[s] = float("inf")
        else:
            fwd = _mean_distance(truth, pred)
            bwd = _mean_distance(pred, truth)
            cl_dist[s] = round(fwd, 3)
            cl_sym[s] = round(0.5 * (fwd + bwd), 3)
        t, p = truth_lm.get(("RDP", "VII", s)), pred_lm.get(("RDP", "VII", s))
        rdp_err[s] = None if t is None or p is None else round(float(np.linalg.norm(t - p)), 3)
    out["VII_centreline_mm"] = cl_dist
    out["VII_centreline_symmetric_mm"] = cl_sym
    out["RDP_error_mm"] = rdp_err
    # findings
    truth_f, outside = visible_findings(ph)
    ambiguous = [f for f in truth_f if f["grade"] == "none"] + outside
    pred_all = [f.to_dict() for f in res.findings]
    pred = [f for f in pred_all if f["confidence"] >= CONFIDENT]
    # a finding on a sub-voxel gap is neither a hit nor a false positive
    pred_scored = [
        f
        for f in pred
        if not any(
            f["side"] == a["side"]
            and f["nerve"] == a["nerve"]
            and np.linalg.norm(np.subtract(f["position_ras"], a["position_ras"])) < 3.0
            for a in ambiguous
        )
    ]
    m = match_findings(pred_scored, truth_f)
    out["findings"] = {
        "tp": m.true_positives,
        "fn": m.false_negatives,
        "fp": m.false_positives,
        "fp_by_side": m.false_positives_by_side,
        "grade_agreement": m.grade_agreement,
        "vessel_agreement": m.vessel_agreement,
        "along_nerve_error_mm": m.mean_along_nerve_error_mm,
        "n_low_confidence": len(pred_all) - len(pred),
        "truth_outside_fov": len(outside),
        "pred": [{k: f[k] for k in (*_SHOWN, "confidence")} for f in pred_all],
        "truth": [{k: f[k] for k in _SHOWN} for f in truth_f],
    }
    out["timings_s"] = res.timings_s
    return out


def aggregate(rs: list[dict]) -> dict:
    """Pool rows of `evaluate_case` / `score_analysis`: mean Dice, centreline and RDP errors,
    sensitivity, false positives per side, grade and vessel agreement."""
    fin = [r["findings"] for r in rs]
    tp = sum(f["tp"] for f in fin)
    fn = sum(f["fn"] for f in fin)
    fp = sum(f["fp"] for f in fin)
    ga = [f["grade_agreement"] for f in fin if f["grade_agreement"] is not None]
    va = [f["vessel_agreement"] for f in fin if f["vessel_agreement"] is not None]
    cl = [v for r in rs for v in r["VII_centreline_mm"].values()]
    rdp = [v for r in rs for v in r["RDP_error_mm"].values() if v is not None]
    return {
        "cases": len(rs),
        "dice_VII": round(float(np.mean([r["dice_VII"] for r in rs])), 3),
        "dice_artery": round(float(np.mean([r["dice_artery"] for r in rs])), 3),
        "VII_centreline_mm": round(float(np.median(cl)), 3),
        "VII_centreline_mean_mm": round(float(np.mean(cl)), 3),
        "RDP_error_mm_median": round(float(np.median(rdp)), 3) if rdp else None,
        "RDP_error_mm_mean": round(float(np.mean(rdp)), 3) if rdp else None,
        "sensitivity": round(tp / (tp + fn), 3) if tp + fn else None,
        "fp_per_side": round(fp / (2 * len(rs)), 3),
        "contacts_outside_fov": sum(f.get("truth_outside_fov", 0) for f in fin),
        "grade_agreement": round(float(np.mean(ga)), 3) if ga else None,
        "vessel_agreement": round(float(np.mean(va)), 3) if va else None,
        "seconds_mean": round(float(np.mean([r["seconds"] for r in rs])), 2),
    }


def summarise(rows: list[dict]) -> dict:
    """Aggregate per scenario x SNR and overall."""
    agg = aggregate
    out = {"overall": agg(rows)}
    for snr in sorted({r["snr"] for r in rows}):
        out[f"snr={snr}"] = agg([r for r in rows if r["snr"] == snr])
        for sc in sorted({r["scenario"] for r in rows}):
            rs = [r for r in rows if r["snr"] == snr and r["scenario"] == sc]
            if rs:
                out[f"{sc} @ {snr}"] = agg(rs)
    return out


#: Targets of the issue: (summary key, comparison, value).
TARGETS = {
    "dice_VII": (">=", 0.75),
    "VII_centreline_mm": ("<=", 0.5),
    "dice_artery": (">=", 0.8),
    "RDP_error_mm_mean": ("<=", 1.0),
    "sensitivity": (">=", 0.95),
    "fp_per_side": ("<=", 0.1),
    "grade_agreement": (">=", 0.8),
}

_COLUMNS = (
    ("cases", "n"),
    ("dice_VII", "VII Dice"),
    ("VII_centreline_mm", "VII cl mm (med)"),
    ("VII_centreline_mean_mm", "VII cl mm (mean)"),
    ("dice_artery", "art Dice"),
    ("RDP_error_mm_mean", "RDP mm (mean)"),
    ("sensitivity", "sens"),
    ("fp_per_side", "FP/side"),
    ("grade_agreement", "grade"),
    ("vessel_agreement", "vessel"),
    ("seconds_mean", "s/case"),
)


def _meets(key: str, value) -> str:
    if key not in TARGETS or value is None:
        return ""
    op, target = TARGETS[key]
    ok = value >= target if op == ">=" else value <= target
    return "" if ok else "*"


def format_table(summary: dict) -> str:
    """The summary as a plain-text table; ``*`` marks a figure that misses its target."""
    head = ["group"] + [
        label + (f" ({TARGETS[k][0]}{TARGETS[k][1]})" if k in TARGETS else "")
        for k, label in _COLUMNS
    ]
    rows = [head]
    for group, agg in summary.items():
        row = [group]
        for k, _ in _COLUMNS:
            v = agg.get(k)
            row.append("-" if v is None else f"{v}{_meets(k, v)}")
        rows.append(row)
    lines = aligned(rows)
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines + ["* misses the target of the issue"])


def aligned(rows: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column right-aligned to its widest cell."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]


def main(argv: list[str] | None = None) -> int:
    from nvc_viewer.phantom import SCENARIOS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--snr", nargs="+", default=list(SNRS))
    ap.add_argument("--scenarios", nargs="+", default=list(SCENARIOS))
    ap.add_argument("--cache", default=None, help="folder keeping rendered phantoms")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=None, help="write every row and the summary as JSON")
    args = ap.parse_args(argv)
    jobs = []
    for seed in args.seeds:
        for k, sc in enumerate(args.scenarios):
            side = ("left", "right")[(seed + k) % 2]
            for snr in args.snr:
                jobs.append((sc, side, seed, snr, args.cache))
    rows: list[dict] = []
    failures: list[dict] = []
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(evaluate_case, *j): j for j in jobs}
        for fut, job in futures.items():
            try:
                row = fut.result()
            except Exception as exc:  # a phantom that cannot be built is reported, not fatal
                failures.append({"job": job[:4], "error": f"{type(exc).__name__}: {exc}"})
                print(f"FAILED {job[:4]}: {exc}", file=sys.stderr)
                continue
            rows.append(row)
            f = row["findings"]
            print(
                f"{row['scenario']:>21} {row['side']:>5} seed={row['seed']} {row['snr']:>4} "
                f"VII dice={row['dice_VII']:.2f} cl={row['VII_centreline_mm']} "
                f"art dice={row['dice_artery']:.2f} RDP={row['RDP_error_mm']} "
                f"tp={f['tp']} fn={f['fn']} fp={f['fp']} grade={f['grade_agreement']} "
                f"t={row['seconds']}s",
                flush=True,
            )
    summary = summarise(rows) if rows else {}
    print()
    print(format_table(summary))
    for fail in failures:
        print(f"FAILED {fail['job']}: {fail['error']}")
    if args.out:
        Path(args.out).write_text(
            json.dumps({"summary": summary, "rows": rows, "failures": failures}, indent=1)
        )
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main())
