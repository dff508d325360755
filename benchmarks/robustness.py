"""Robustness of the automatic analysis to how the images look: the phantom's factors one by one,
then all of them drawn at random together.

Every case is a phantom of `nvc_viewer.phantom.make_phantom` with known truth, analysed by
`nvc_viewer.analysis.analyse` and scored by ``benchmarks/quality.py`` (`score_analysis`:
Dice, VII centreline, RDP error, contact detection with the same matching and confidence
threshold; `aggregate` pools the cases).

Sweeps: each factor is set to each of its levels with every other factor at the nominal
setting, on the same nine cases (one per scenario, seeds 3000-3008, sides alternating), so
that levels of a factor differ in that factor only. The nominal case is the generator's own
CISS-like look (CSF:brainstem about 2.1-2.6:1, vessels darker than nerves), CSF SNR 25, 0.5 mm
isotropic voxels, the generator's default coil shading and TOF motion (1-2 degrees, 0.5-1 mm),
no banding, no flow voids, an axial slab reaching V, the drawn calibres and courses, on the field
of view of ``quality.py`` (80 x 80 x 32 mm) at 4 sub-samples per axis.

Factors and levels (the ranges are what heavy-T2 sequences -- CISS, FIESTA-C, SPACE, DRIVE,
bFFE -- and TOF show at 1.5 T and 3 T, not what suits the analysis):

========== =============================================================================
t2         CSF:brainstem 2.5:1 and 4:1, vessels darker than nerves (flow voids, CISS,
           SPACE, DRIVE) or brighter (balanced SSFP flavours with inflow)
tof        high contrast (3 T, MT saturation), low contrast (1.5 T, bright background),
           slow flow (weak arterial signal)
inplane    0.3 and 0.8 mm in-plane (0.5 mm slices)
slice      0.4, 0.8 and 1.2 mm between slices (0.5 mm in-plane)
snr        CSF SNR 8, 15, 40
bias       coil shading of RMS depth 0.1 and 0.2 (nominal 0.05)
banding    residual off-resonance bands
flow       CSF pulsation flow voids
oblique    slab tilted 10 and 25 degrees about R-L, 15 degrees about A-P
misreg     TOF moved 0, 1, 2 mm (and as many degrees) against the T2
coverage   a slab that stops below the trigeminal roots (V not in the images)
nerve      nerve calibres x0.8, x1.3
vessel     vessel calibres x0.7, x1.3
course     VII/VIII (and V) bowing and AICA/PICA/SCA loops swinging 1 and 2 mm further
size       the generator's default size: ``shape=None`` (64 x 64 x 40 mm at 0.5 mm, 8
           sub-samples per axis), exactly what ``nvc-viewer phantom`` writes
lower_     the other cranial nerves near the CPA drawn too (``lower_nerves=True``): IX and
nerves     X below VII/VIII to the jugular foramen, VI up the clivus; dark roots that the
           analysis must not take for VII, VIII or a vessel (truth label 0)
========== =============================================================================

Random draws (``--random N``, seeds 3100 + i): the scenario cycles through all nine, the side
and every factor are drawn together: CSF:brainstem uniform 2.5-4:1, tissue about the brainstem,
nerves 0.6-1.0 of the brainstem, arteries darker than nerves (3 in 4) or brighter, TOF artery
0.45-1.1 over a background of 0.15-0.35, T2 voxels 0.3-0.8 mm in-plane and 0.4-1.2 mm between
slices, TOF voxels 0.35-0.8 / 0.5-1.2 mm, CSF SNR 8-40 (log-uniform), shading 0-0.2, banding and
flow voids each in 3 of 10, obliquity 0-25 degrees in a random direction, TOF misregistration
0-2 mm, V outside the slab in 3 of 10, calibres x0.8-1.3 (nerves) and x0.7-1.3 (vessels),
courses 0-2 mm further; the other cranial nerves (IX, X, VI) in about half of the draws, drawn from
a stream of their own (``[seed, 13]``), so that every other factor of a draw is as before.

A phantom that cannot be built (`PhantomBuildError`: the drawn anatomy does not fit the
scenario) is left out and counted ("not built"); an analysis that raises counts as a case where
every contact was missed and every Dice is 0.

Output: one line per case, then one table: a row per factor level (sensitivity, false positives
per side, grade agreement, VII and artery Dice, VII centreline, RDP error, and for cases with
IX/X/VI the share of their voxels -- centre inside the true root -- that the analysis labelled
VII, VIII, artery or vein, pooled over the cases) and a summary row of the random draws, with
the targets in the header; ``*`` marks a figure that misses its target.
``--out FILE.json`` writes every case (factors, predicted and true findings) and the table, also
every ten cases while it runs (``"complete": false``); ``--table FILE.json`` prints the table of
such a file. Sweep cases and random draws are run interleaved, so a run stopped early has some of
both.

Usage (a shared 2-core machine: ``nice``; ``--cache`` outside the source tree)::

    nice -n 10 python benchmarks/robustness.py [--jobs 2] [--cache DIR] [--out FILE.json]
                                               [--factors t2 snr ...] [--random 100]
                                               [--seed 3000]

Cost (2 cores, ``--jobs 2``, measured on a machine shared with other jobs, load average 3-7):
a full run is 306 sweep cases and 100 random ones. Rendering is the slow part: anatomy plus
partial volume, 14 s per case on average (median 9 s, up to 75 s where the anatomy is drawn again
many times; the default-size cases 20-30 s); the analysis 4.7 s per case on average (2-22 s).
A cold run took 61 minutes; with a warm ``--cache`` only a pickle load and the analysis run per
case: a warm full run took 12.5 minutes. The cache holds about 11 MB per case (4.4 GB in all).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import aggregate, aligned, cached_phantom, score_analysis, visible_findings  # noqa: E402  (benchmarks/ is not a package)

#: Field of view (mm) and sub-samples per axis of every case except the default-size ones.
CASE_FOV_MM = (80.0, 80.0, 32.0)
CASE_SUPERSAMPLE = 4
SEED_BASE = 3000
#: Seeds of the random draws: SEED_BASE + RANDOM_OFFSET + i.
RANDOM_OFFSET = 100

#: The nominal setting of every factor (make_phantom's keyword arguments).
NOMINAL: dict = {
    "shape": None,
    "fov_mm": CASE_FOV_MM,
    "supersample": CASE_SUPERSAMPLE,
    "spacing_mm": (0.5, 0.5, 0.5),
}


def _t2(ratio: float, nerve: float, artery: float, vein: float, tissue: float = 0.95) -> dict:
    """T2 levels relative to CSF for a CSF:brainstem ``ratio``; the others as fractions of the
    brainstem."""
    bs = 1.0 / ratio
    return {
        "brainstem": round(bs, 4),
        "tissue": round(tissue * bs, 4),
        "nerve": round(nerve * bs, 4),
        "artery": round(artery * bs, 4),
        "vein": round(vein * bs, 4),
    }


#: factor -> level name -> make_phantom keyword arguments (over NOMINAL).
FACTORS: dict[str, dict[str, dict]] = {
    "nominal": {"nominal": {}},
    "t2": {
        "2.5:1 vessels dark": {"t2_contrast": _t2(2.5, 0.75, 0.3, 0.55)},
        "4:1 vessels dark": {"t2_contrast": _t2(4.0, 0.8, 0.35, 0.6)},
        "2.5:1 vessels bright": {"t2_contrast": _t2(2.5, 0.7, 1.3, 1.0)},
        "4:1 vessels bright": {"t2_contrast": _t2(4.0, 0.75, 1.5, 1.1)},
    },
    "tof": {
        "high contrast": {"tof_contrast": {"artery": 1.0, "background": 0.15, "csf": 0.04}},
        "low contrast": {"tof_contrast": {"artery": 0.75, "background": 0.35, "csf": 0.1}},
        "slow flow": {"tof_contrast": {"artery": 0.45, "background": 0.25}},
    },
    "inplane": {
        "0.3 mm": {"spacing_mm": (0.3, 0.3, 0.5)},
        "0.8 mm": {"spacing_mm": (0.8, 0.8, 0.5)},
    },
    "slice": {
        "0.4 mm": {"spacing_mm": (0.5, 0.5, 0.4)},
        "0.8 mm": {"spacing_mm": (0.5, 0.5, 0.8)},
        "1.2 mm": {"spacing_mm": (0.5, 0.5, 1.2)},
    },
    "snr": {"8": {"snr": 8.0}, "15": {"snr": 15.0}, "40": {"snr": 40.0}},
    "bias": {"0.1": {"bias_field": 0.1}, "0.2": {"bias_field": 0.2}},
    "banding": {"on": {"banding": True}},
    "flow": {"flow voids": {"flow_voids": True}},
    "oblique": {
        "10 deg R-L": {"oblique_deg": (10.0, 0.0)},
        "25 deg R-L": {"oblique_deg": (25.0, 0.0)},
        "15 deg A-P": {"oblique_deg": (0.0, 15.0)},
    },
    "misreg": {
        "0 mm": {"tof_misregistration": 0.0},
        "1 mm": {"tof_misregistration": 1.0},
        "2 mm": {"tof_misregistration": 2.0},
    },
    "coverage": {"V outside": {"include_v": False}},
    "nerve": {"x0.8": {"nerve_scale": 0.8}, "x1.3": {"nerve_scale": 1.3}},
    "vessel": {"x0.7": {"vessel_scale": 0.7}, "x1.3": {"vessel_scale": 1.3}},
    "course": {"+1 mm": {"course_mm": 1.0}, "+2 mm": {"course_mm": 2.0}},
    "size": {"default": {"fov_mm": None, "supersample": 8}},
    "lower_nerves": {"on": {"lower_nerves": True}},
}

#: Targets of the issue: per factor level and for the random draws (key, comparison, value).
LEVEL_TARGETS = {"sensitivity": (">=", 0.8), "fp_per_side": ("<=", 0.2)}
RANDOM_TARGETS = {
    "sensitivity": (">=", 0.9),
    "fp_per_side": ("<=", 0.1),
    "dice_VII": (">=", 0.7),
    "dice_artery": (">=", 0.8),
    "grade_agreement": (">=", 0.8),
}


def sweep_cases(factors: list[str], seed_base: int) -> list[dict]:
    """The sweep: each level of each factor on the nine base cases."""
    from nvc_viewer.phantom import SCENARIOS

    cases = []
    for factor in factors:
        for level, kwargs in FACTORS[factor].items():
            for k, scenario in enumerate(SCENARIOS):
                cases.append(
                    {
                        "group": "sweep",
                        "factor": factor,
                        "level": level,
                        "scenario": scenario,
                        "side": ("left", "right")[k % 2],
                        "seed": seed_base + k,
                        "kwargs": {**NOMINAL, **kwargs},
                    }
                )
    return cases


def random_kwargs(rng: np.random.Generator) -> dict:
    """All factors drawn together (see the module docstring)."""
    u = rng.uniform
    ratio = u(2.5, 4.0)
    nerve = u(0.6, 1.0)
    artery = nerve * (u(0.15, 0.8) if rng.uniform() < 0.75 else u(1.2, 2.0))
    t2 = _t2(ratio, nerve, artery, nerve * u(0.6, 1.3), tissue=u(0.85, 1.1))
    tof = {
        "artery": round(u(0.45, 1.1), 4),
        "background": round(u(0.15, 0.35), 4),
        "csf": round(u(0.03, 0.12), 4),
        "vein": round(u(0.05, 0.2), 4),
    }
    inplane, slice_mm = u(0.3, 0.8), u(0.4, 1.2)
    tof_inplane, tof_slice = u(0.35, 0.8), u(0.5, 1.2)
    tilt = u(0.0, 25.0)
    direction = u(0.0, 2 * math.pi)
    return {
        **NOMINAL,
        "spacing_mm": (round(inplane, 3), round(inplane, 3), round(slice_mm, 3)),
        "tof_spacing_mm": (round(tof_inplane, 3), round(tof_inplane, 3), round(tof_slice, 3)),
        "snr": round(float(np.exp(u(np.log(8.0), np.log(40.0)))), 2),
        "t2_contrast": t2,
        "tof_contrast": tof,
        "bias_field": round(u(0.0, 0.2), 4),
        "banding": bool(rng.uniform() < 0.3),
        "flow_voids": bool(rng.uniform() < 0.3),
        "oblique_deg": (
            round(tilt * math.cos(direction), 2),
            round(tilt * math.sin(direction), 2),
        ),
        "tof_misregistration": round(u(0.0, 2.0), 3),
        "include_v": bool(rng.uniform() >= 0.3),
        "nerve_scale": round(u(0.8, 1.3), 3),
        "vessel_scale": round(u(0.7, 1.3), 3),
        "course_mm": round(u(0.0, 2.0), 3),
    }


def random_cases(n: int, seed_base: int) -> list[dict]:
    from nvc_viewer.phantom import SCENARIOS

    cases = []
    for i in range(n):
        seed = seed_base + RANDOM_OFFSET + i
        rng = np.random.default_rng([seed, 11])
        side = ("left", "right")[int(rng.integers(2))]
        kwargs = random_kwargs(rng)
        # a stream of its own: the other factors of a draw are those drawn without it
        if np.random.default_rng([seed, 13]).uniform() < 0.5:
            kwargs["lower_nerves"] = True
        cases.append(
            {
                "group": "random",
                "factor": "random",
                "level": f"draw {i}",
                "scenario": SCENARIOS[i % len(SCENARIOS)],
                "side": side,
                "seed": seed,
                "kwargs": kwargs,
            }
        )
    return cases


def interleave(sweep: list[dict], draws: list[dict]) -> list[dict]:
    """Sweep cases and random draws in proportion (a run stopped early has some of both)."""
    out: list[dict] = []
    i = j = 0
    while i < len(sweep) or j < len(draws):
        if j >= len(draws) or (i < len(sweep) and i * len(draws) <= j * len(sweep)):
            out.append(sweep[i])
            i += 1
        else:
            out.append(draws[j])
            j += 1
    return out


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _case_key(case: dict) -> str:
    spec = json.dumps(
        [case["scenario"], case["side"], case["seed"], _jsonable(case["kwargs"])], sort_keys=True
    )
    digest = hashlib.sha256(spec.encode()).hexdigest()[:16]
    return f"{case['scenario']}_{case['side']}_{case['seed']}_{digest}"


def _phantom(case: dict, cache: Path | None):
    """The case's phantom, from the cache when there; built (one thread) and kept otherwise."""
    from nvc_viewer.phantom import make_phantom

    path = None if cache is None else cache / f"{_case_key(case)}.pkl"
    kwargs = dict(case["kwargs"])
    if kwargs.get("fov_mm") is None:  # the generator's own default field of view
        kwargs.pop("fov_mm", None)
    return cached_phantom(
        path,
        lambda: make_phantom(
            case["scenario"], side=case["side"], seed=case["seed"], threads=1, **kwargs
        ),
    )


def _failed_analysis(ph) -> dict:
    """The score of a case whose analysis raised: every contact missed, every Dice 0."""
    from nvc_viewer.metrics import match_findings

    m = match_findings([], visible_findings(ph)[0])
    inf = float("inf")
    return {
        "dice_VII": 0.0,
        "dice_VIII": 0.0,
        "dice_V": 0.0,
        "dice_artery": 0.0,
        "dice_vein": 0.0,
        "dice_brainstem": 0.0,
        "VII_centreline_mm": {"left": inf, "right": inf},
        "VII_centreline_symmetric_mm": {"left": inf, "right": inf},
        "RDP_error_mm": {"left": None, "right": None},
        "findings": {
            "tp": 0,
            "fn": m.false_negatives,
            "fp": 0,
            "fp_by_side": {},
            "grade_agreement": None,
            "vessel_agreement": None,
            "along_nerve_error_mm": None,
            "n_low_confidence": 0,
            "pred": [],
            "truth": [],
        },
    }


def evaluate(case: dict, cache: str | None) -> dict:
    """Build (or load) one case's phantom, analyse it and score it."""
    from nvc_viewer.analysis import analyse
    from nvc_viewer.phantom import PhantomBuildError

    row = {k: case[k] for k in ("group", "factor", "level", "scenario", "side", "seed")}
    row["kwargs"] = _jsonable(case["kwargs"])
    try:
        ph, build_s = _phantom(case, None if cache is None else Path(cache))
    except PhantomBuildError as exc:
        row["status"] = "not built"
        row["error"] = str(exc)
        return row
    row["shape"] = list(ph.t2.shape)
    row["render_seconds"] = round(build_s, 2)
    t0 = time.perf_counter()
    try:
        res = analyse(ph.t2, ph.tof)
    except Exception as exc:  # a crash is a failed case, not a failed benchmark
        row["seconds"] = round(time.perf_counter() - t0, 2)
        row["status"] = "analysis failed"
        row["error"] = f"{type(exc).__name__}: {exc}"
        row.update(_failed_analysis(ph))
        row.update(other_nerves_score(ph, None))
        return row
    row["seconds"] = round(time.perf_counter() - t0, 2)
    row["status"] = "ok"
    row.update(score_analysis(ph, res))
    row.update(other_nerves_score(ph, res.labels.data))
    return row


#: Labels that must not land on IX, X or VI: the roots and vessels the analysis names.
_NOT_ON_OTHER_NERVES = ("VII", "VIII", "artery", "vein")


def other_nerves_score(ph, labels: np.ndarray | None) -> dict:
    """Voxels of the true IX/X/VI (centre inside the root) and how many of them the analysis
    labelled VII, VIII, artery or vein (``labels``: its map on the T2 grid; None: it failed and
    labelled nothing). Empty for a phantom without them."""
    from nvc_viewer.labels import LABEL_VALUES
    from nvc_viewer.phantom import lower_nerve_mask

    if not ph.params.get("lower_nerves"):
        return {}
    mask = lower_nerve_mask(ph)
    by = {name: 0 for name in _NOT_ON_OTHER_NERVES}
    if labels is not None:
        on = labels[mask]
        by = {name: int(np.count_nonzero(on == LABEL_VALUES[name])) for name in by}
    return {
        "other_nerves_voxels": int(mask.sum()),
        "other_nerves_mislabelled": int(sum(by.values())),
        "other_nerves_mislabelled_by": by,
    }


def summarise(rows: list[dict]) -> dict:
    """One entry per factor level (in the order of `FACTORS`) and one for the random draws."""
    out: dict[str, dict] = {}
    keys = []
    for r in rows:
        key = "random draws" if r["group"] == "random" else f"{r['factor']}: {r['level']}"
        if key not in keys:
            keys.append(key)
    order = {f"{f}: {lv}": i for i, (f, lvs) in enumerate(FACTORS.items()) for lv in lvs}
    keys.sort(key=lambda k: order.get(k, len(order) + (k == "random draws")))
    for key in keys:
        rs = [
            r
            for r in rows
            if ("random draws" if r["group"] == "random" else f"{r['factor']}: {r['level']}") == key
        ]
        scored = [r for r in rs if r["status"] != "not built"]
        agg = aggregate(scored) if scored else {"cases": 0}
        agg["asked"] = len(rs)
        agg["not_built"] = len(rs) - len(scored)
        agg["analysis_failed"] = sum(r["status"] == "analysis failed" for r in rs)
        voxels = sum(r.get("other_nerves_voxels", 0) for r in scored)
        wrong = sum(r.get("other_nerves_mislabelled", 0) for r in scored)
        agg["other_nerves_mislabelled_pct"] = round(100.0 * wrong / voxels, 2) if voxels else None
        out[key] = agg
    return out


_COLUMNS = (
    ("cases", "n"),
    ("not_built", "not built"),
    ("analysis_failed", "crashed"),
    ("sensitivity", "sens"),
    ("fp_per_side", "FP/side"),
    ("grade_agreement", "grade"),
    ("dice_VII", "VII Dice"),
    ("dice_artery", "art Dice"),
    ("VII_centreline_mm", "VII cl mm"),
    ("RDP_error_mm_mean", "RDP mm"),
    ("other_nerves_mislabelled_pct", "other nerves mislabelled %"),
    ("seconds_mean", "s/case"),
)


def _misses(targets: dict, key: str, value) -> bool:
    if key not in targets or value is None:
        return False
    op, target = targets[key]
    return not (value >= target if op == ">=" else value <= target)


def format_table(summary: dict) -> str:
    """The summary as a plain-text table; the targets head it, ``*`` marks a miss."""

    def targets_text(targets: dict) -> str:
        return ", ".join(f"{dict(_COLUMNS)[k]} {op}{v}" for k, (op, v) in targets.items())

    head = ["factor: level"] + [label for _, label in _COLUMNS]
    table = [head]
    for group, agg in summary.items():
        targets = RANDOM_TARGETS if group == "random draws" else LEVEL_TARGETS
        row = [group]
        for k, _ in _COLUMNS:
            v = agg.get(k)
            row.append("-" if v is None else f"{v}{'*' if _misses(targets, k, v) else ''}")
        table.append(row)
    lines = aligned(table)
    rule = "-" * len(lines[0])
    lines.insert(1, rule)
    if "random draws" in summary:
        lines.insert(len(lines) - 1, rule)
    top = [
        f"targets: random draws {targets_text(RANDOM_TARGETS)}",
        f"         every factor level {targets_text(LEVEL_TARGETS)}",
    ]
    return "\n".join(top + lines + ["* misses its target"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cache", default=None, help="folder keeping rendered phantoms")
    ap.add_argument("--out", default=None, help="write every case and the table as JSON")
    ap.add_argument(
        "--factors",
        nargs="*",
        default=list(FACTORS),
        choices=list(FACTORS),
        metavar="FACTOR",
        help=f"factors to sweep (default all: {' '.join(FACTORS)}); none: only random draws",
    )
    ap.add_argument("--random", type=int, default=100, help="random joint draws (default 100)")
    ap.add_argument("--seed", type=int, default=SEED_BASE, help="base seed (default 3000)")
    ap.add_argument(
        "--table", default=None, metavar="FILE.json", help="print the table of a (partial) --out"
    )
    args = ap.parse_args(argv)
    if args.random < 0:
        ap.error("--random must be >= 0")
    if args.cache is not None:
        repo = Path(__file__).resolve().parent.parent
        cache = Path(args.cache).resolve()
        if cache == repo or repo in cache.parents:
            ap.error("--cache must be outside the source tree")
    if args.table:
        doc = json.loads(Path(args.table).read_text())
        print(format_table(summarise(doc["rows"])))
        return 0
    cases = interleave(sweep_cases(args.factors, args.seed), random_cases(args.random, args.seed))
    print(f"{len(cases)} cases, {args.jobs} jobs", flush=True)
    t_start = time.perf_counter()
    rows: list[dict] = []

    def write(complete: bool) -> None:
        if not args.out:
            return
        doc = {
            "complete": complete,
            "summary": summarise(rows),
            "level_targets": LEVEL_TARGETS,
            "random_targets": RANDOM_TARGETS,
            "wall_seconds": round(time.perf_counter() - t_start, 1),
            "rows": rows,
        }
        tmp = Path(f"{args.out}.tmp")
        tmp.write_text(json.dumps(doc, indent=1))
        os.replace(tmp, args.out)

    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(evaluate, c, args.cache): c for c in cases}
        for fut in as_completed(futures):
            case = futures[fut]
            try:
                row = fut.result()
            except Exception as exc:  # the worker itself died: report, keep going
                row = {k: case[k] for k in ("group", "factor", "level", "scenario", "side")}
                row.update(seed=case["seed"], status="not built", error=repr(exc))
            rows.append(row)
            head = (
                f"[{len(rows)}/{len(cases)}] {row['factor']}: {row['level']} "
                f"{row['scenario']} {row['side']} seed={row['seed']}"
            )
            if row["status"] == "not built":
                print(f"{head} NOT BUILT: {row.get('error')}", flush=True)
                continue
            f = row["findings"]
            print(
                f"{head} {row['status']} VII dice={row['dice_VII']:.2f} "
                f"art dice={row['dice_artery']:.2f} tp={f['tp']} fn={f['fn']} fp={f['fp']} "
                f"grade={f['grade_agreement']} "
                + (
                    f"other nerves mislabelled={row['other_nerves_mislabelled']}"
                    f"/{row['other_nerves_voxels']} "
                    if "other_nerves_voxels" in row
                    else ""
                )
                + f"render={row.get('render_seconds')}s "
                f"analyse={row.get('seconds')}s",
                flush=True,
            )
            if len(rows) % 10 == 0:
                write(False)  # a long run that is stopped still leaves its table
    wall = time.perf_counter() - t_start
    summary = summarise(rows)
    print()
    print(format_table(summary))
    print(f"wall time {wall / 60:.1f} min for {len(rows)} cases ({args.jobs} jobs)")
    write(True)
    return 0 if any(r["status"] != "not built" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
