"""Stacking and diagnosis: images -> 3-D stacks, their affine and their problems.

Design note
-----------
Owns grouping (`_build_series`: by SeriesInstanceUID, then geometry, echo and -- when positions
repeat -- acquisition, temporal position or image type, each split named in the series key) and
the geometry of one stack (`_analyse`): slices sorted along the normal ``n = r x c`` by
``ImagePositionPatient . n`` (never by InstanceNumber or file name), the LPS affine from the
*measured* step, and the diagnosis -- missing slices, uneven spacing, gantry tilt, mixed or
unusable geometry -- listed as ``(error class name, message)`` in `SeriesInfo.problems`, never
raised here (`read_series` raises the first). The tolerances are the module's constants.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...geometry import axis_codes, lps_to_ras
from ..roles import guess_role
from ._records import SeriesInfo, _Frame

#: Two orientation cosines closer than this are the same orientation.
IOP_TOLERANCE = 1e-4
#: Two slices closer than this along the normal are at the same position (mm).
SAME_POSITION_MM = 0.01
#: A slice step may differ from the median step by max(this fraction of it, STEP_TOLERANCE_MM).
STEP_TOLERANCE_FRACTION = 0.01
STEP_TOLERANCE_MM = 0.01
#: Sideways drift of the slice positions off the normal beyond which the stack is sheared (mm).
TILT_TOLERANCE_MM = 0.02


# ---------------------------------------------------------------------------------------------
# Grouping
# ---------------------------------------------------------------------------------------------
def _cluster(values: Sequence[tuple[float, ...]], tolerance: float) -> list[int]:
    """Label values so that values within ``tolerance`` (max abs difference) share a label."""
    reps: list[tuple[float, ...]] = []
    labels = []
    for v in values:
        for n, r in enumerate(reps):
            if max(abs(a - b) for a, b in zip(v, r)) <= tolerance:
                labels.append(n)
                break
        else:
            reps.append(v)
            labels.append(len(reps) - 1)
    return labels


def _normal(orientation: Sequence[float] | np.ndarray) -> np.ndarray:
    n = np.cross(orientation[:3], orientation[3:])
    norm = np.linalg.norm(n)
    return n / norm if norm > 0 else n


def _has_duplicates(frames: Sequence[_Frame]) -> bool:
    known = [f for f in frames if f.position is not None and f.orientation is not None]
    if len(known) < 2:
        return False
    normal = _normal(known[0].orientation)  # type: ignore[arg-type]
    d = np.sort([np.dot(f.position, normal) for f in known])  # type: ignore[arg-type]
    return bool(np.any(np.diff(d) < SAME_POSITION_MM))


def _split_by(
    frames: list[_Frame], attribute: Callable[[_Frame], Any]
) -> list[tuple[Any, list[_Frame]]]:
    groups: dict[Any, list[_Frame]] = defaultdict(list)
    for f in frames:
        groups[attribute(f)].append(f)
    return sorted(groups.items(), key=lambda kv: str(kv[0]))


def _geometry_split(frames: list[_Frame]) -> tuple[list[tuple[str, list[_Frame]]], str]:
    """Split by orientation / matrix / pixel spacing when each part is a real stack; else report
    the mixture. Returns ([(suffix, frames)], mixed_problem_message)."""
    o_labels = _cluster([f.orientation or (0.0,) * 6 for f in frames], IOP_TOLERANCE)
    s_labels = _cluster(
        [f.pixel_spacing or (0.0, 0.0) for f in frames], 1e-4 + 1e-4 * _max_spacing(frames)
    )
    keys = [(o, s, f.header.rows, f.header.columns) for o, s, f in zip(o_labels, s_labels, frames)]
    groups: dict[tuple, list[_Frame]] = defaultdict(list)
    for k, f in zip(keys, frames):
        groups[k].append(f)
    if len(groups) == 1:
        return [("", frames)], ""
    parts = sorted(groups.values(), key=lambda fs: (-len(fs), min(f.instance for f in fs)))
    if all(len(p) >= 2 for p in parts):
        return [(f"geom{n + 1}", p) for n, p in enumerate(parts)], ""
    differ = []
    if len(set(o_labels)) > 1:
        differ.append("orientation (ImageOrientationPatient)")
    if len({(f.header.rows, f.header.columns) for f in frames}) > 1:
        differ.append("matrix (Rows/Columns)")
    if len(set(s_labels)) > 1:
        differ.append("PixelSpacing")
    counts = ", ".join(f"{len(p)} like {p[0].label()} ({_geometry_text(p[0])})" for p in parts[:4])
    return [("", frames)], (
        f"slices of one series disagree on {' and '.join(differ)}: {counts}; "
        "it cannot be stacked into one volume -- remove the stray files or export the series again"
    )


def _max_spacing(frames: Sequence[_Frame]) -> float:
    return max((max(f.pixel_spacing) for f in frames if f.pixel_spacing), default=1.0)


def _geometry_text(f: _Frame) -> str:
    iop = ", ".join(f"{v:.4g}" for v in f.orientation) if f.orientation else "none"
    sp = "x".join(f"{v:.4g}" for v in f.pixel_spacing) if f.pixel_spacing else "none"
    return f"IOP [{iop}], {f.header.rows}x{f.header.columns}, spacing {sp} mm"


_DUPLICATE_SPLITS: tuple[tuple[str, Callable[[_Frame], Any], str], ...] = (
    ("acq", lambda f: f.acquisition, "AcquisitionNumber"),
    ("time", lambda f: f.temporal, "temporal position"),
    ("type", lambda f: f.image_type, "ImageType"),
)


def _split_uid_group(frames: list[_Frame]) -> list[tuple[list[str], list[str], list[_Frame], str]]:
    """Split the images of one SeriesInstanceUID into 3-D stacks.

    Returns [(key suffixes, reasons, frames, mixed-geometry problem)].
    """
    out: list[tuple[list[str], list[str], list[_Frame], str]] = []
    parts, mixed = _geometry_split(frames)
    for suffix, part in parts:
        suffixes = [suffix] if suffix else []
        reasons = ["orientation/matrix/pixel spacing"] if suffix else []
        echoes = _split_by(part, lambda f: f.echo)
        if len(echoes) > 1:
            echo_parts = [
                ([*suffixes, f"echo{n + 1}"], [*reasons, "echo"], fs)
                for n, (_, fs) in enumerate(echoes)
            ]
        else:
            echo_parts = [(suffixes, reasons, part)]
        for sfx, why, fs in echo_parts:
            if not mixed and _has_duplicates(fs):
                for prefix, attribute, label in _DUPLICATE_SPLITS:
                    sub = _split_by(fs, attribute)
                    if len(sub) > 1 and not any(_has_duplicates(s) for _, s in sub):
                        for n, (value, s) in enumerate(sub):
                            tag = value if prefix == "acq" and str(value).isdigit() else n + 1
                            out.append(([*sfx, f"{prefix}{tag}"], [*why, label], s, mixed))
                        break
                else:
                    out.append((sfx, why, fs, mixed))
            else:
                out.append((sfx, why, fs, mixed))
    return out


def _build_series(frames: list[_Frame]) -> list[SeriesInfo]:
    by_uid: dict[str, list[_Frame]] = defaultdict(list)
    for f in frames:
        uid = f.header.series_uid
        if not uid:
            # Without a UID only the file itself (multi-frame) or its series number binds images.
            uid = (
                f"no-uid:{f.path}"
                if f.header.multiframe
                else f"no-uid:{f.header.series_number}:{f.header.description}"
            )
        by_uid[uid].append(f)
    numbers = Counter(fs[0].header.series_number for fs in by_uid.values())
    infos = []
    for uid, fs in by_uid.items():
        number = fs[0].header.series_number
        base = str(number) if number is not None else "x"
        if numbers[number] > 1 or number is None:
            base += "-" + hashlib.sha256(uid.encode()).hexdigest()[:6]
        for suffixes, reasons, part, mixed in _split_uid_group(fs):
            key = ".".join([base, *suffixes])
            infos.append(_make_info(key, uid, part, mixed, ", ".join(reasons)))
    infos.sort(key=lambda s: (s.series_number is None, s.series_number or 0, s.key))
    return infos


# ---------------------------------------------------------------------------------------------
# Geometry of one stack
# ---------------------------------------------------------------------------------------------
@dataclass
class _Stack:
    frames: list[_Frame]
    affine_lps: np.ndarray | None
    problems: list[tuple[str, str]]
    warnings: list[str]


def _analyse(frames: list[_Frame], mixed: str) -> _Stack:
    problems: list[tuple[str, str]] = []
    warns: list[str] = []
    seen_files: set[str] = set()
    # The same problem in many files (every file a mosaic, or colour) is said once, with the
    # files it concerns.
    by_text: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for f in frames:
        if f.path not in seen_files:
            seen_files.add(f.path)
            name = os.path.basename(f.path)
            for kind, message in f.header.problems:
                text = message[len(name) + 2 :] if message.startswith(name + ": ") else message
                by_text[(kind, text)].append((name, message))
    for (kind, text), found in by_text.items():
        if len(found) == 1:
            problems.append((kind, found[0][1]))
        else:
            names = _names(name for name, _ in found)
            problems.append((kind, f"{len(found)} files ({names}): {text}"))
    if mixed:
        problems.append(("MixedGeometryError", mixed))
    if any(f.count > 1 for f in frames):
        # A placeholder for a file whose header claims an absurd size: nothing to measure.
        return _Stack(frames, None, problems, warns)
    missing = [f for f in frames if f.position is None or f.orientation is None]
    if missing:
        problems.append(
            (
                "UnsupportedImageError",
                f"{missing[0].label()} has no ImagePositionPatient / ImageOrientationPatient "
                "(nor Plane Position / Orientation functional groups): where the image lies in "
                "the patient is unknown, so it cannot be used for planning",
            )
        )
    no_spacing = [f for f in frames if f.pixel_spacing is None]
    if no_spacing and not missing:
        problems.append(
            (
                "UnsupportedImageError",
                f"{no_spacing[0].label()} has no PixelSpacing: the voxel size is unknown",
            )
        )
    bad_geometry = None
    if not (missing or no_spacing):
        bad_geometry = _bad_geometry(frames)
        if bad_geometry:
            problems.append(("CorruptFileError", bad_geometry))
    if missing or no_spacing or mixed or bad_geometry:
        ordered = sorted(frames, key=lambda f: (f.instance, f.path, f.index))
        return _Stack(ordered, None, problems, warns)

    first = frames[0]
    iop = np.asarray(first.orientation, dtype=np.float64)
    row, col = iop[:3], iop[3:]
    row, col = row / np.linalg.norm(row), col / np.linalg.norm(col)
    normal = _normal(iop)
    d_all = np.array([np.dot(f.position, normal) for f in frames])  # type: ignore[arg-type]
    order = sorted(
        range(len(frames)),
        key=lambda t: (d_all[t], frames[t].instance, frames[t].path, frames[t].index),
    )
    frames = [frames[t] for t in order]
    d = d_all[order]
    positions = np.array([f.position for f in frames], dtype=np.float64)
    spacing_rc = np.asarray(first.pixel_spacing, dtype=np.float64)

    if len(frames) == 1:
        step = first.header.spacing_between_slices or first.header.slice_thickness
        if not step or step <= 0:
            step = 1.0
            warns.append("single slice without SliceThickness: 1 mm assumed for the third axis")
        else:
            warns.append(f"single slice: {step:g} mm (from the header) used for the third axis")
        step_vec = normal * step
    else:
        steps = np.diff(d)
        step_vec = (positions[-1] - positions[0]) / (len(frames) - 1)
        found = _stack_problems(frames, d, steps, positions, normal)
        problems.extend(found)
        if any(kind == "MixedGeometryError" for kind, _ in found):
            # Slices sharing a position: no step to measure (all at one position: zero), so no
            # affine -- the series is listed with its problem and refused when read.
            return _Stack(frames, None, problems, warns)

    affine = np.eye(4)
    affine[:3, 0] = row * spacing_rc[1]
    affine[:3, 1] = col * spacing_rc[0]
    affine[:3, 2] = step_vec
    affine[:3, 3] = positions[0]
    return _Stack(frames, affine, problems, warns)


def _bad_geometry(frames: Sequence[_Frame]) -> str | None:
    """Why the geometry tags cannot place the images (NaN, zero spacing, degenerate
    orientation), or None when they can."""
    for f in frames:
        spacing = np.asarray(f.pixel_spacing, dtype=np.float64)
        if not (np.all(np.isfinite(spacing)) and np.all(spacing > 0) and np.all(spacing < 1e6)):
            return (
                f"{f.label()}: PixelSpacing {list(f.pixel_spacing or ())} is not two positive sizes"
            )
        position = np.asarray(f.position, dtype=np.float64)
        if not (np.all(np.isfinite(position)) and np.all(np.abs(position) < 1e9)):
            return f"{f.label()}: ImagePositionPatient {list(f.position or ())} is not a position"
        iop = np.asarray(f.orientation, dtype=np.float64)
        with np.errstate(all="ignore"):
            row, col = iop[:3], iop[3:]
            ok = (
                np.all(np.isfinite(iop))
                and abs(np.linalg.norm(row) - 1) <= 1e-3
                and abs(np.linalg.norm(col) - 1) <= 1e-3
                and abs(row @ col) <= 1e-3
            )
        if not ok:
            return (
                f"{f.label()}: ImageOrientationPatient {list(f.orientation or ())} is not two "
                "perpendicular unit vectors"
            )
    return None


def _stack_problems(
    frames: list[_Frame],
    d: np.ndarray,
    steps: np.ndarray,
    positions: np.ndarray,
    normal: np.ndarray,
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    dup = np.flatnonzero(steps < SAME_POSITION_MM)
    if dup.size and d[-1] - d[0] < SAME_POSITION_MM:
        names = _names(f.label() for f in frames)
        problems.append(
            (
                "MixedGeometryError",
                f"all {len(frames)} images lie at one position ({d[0]:.2f} mm along the slice "
                f"normal): {names}. The slice step is zero, so they are no volume: copies of one "
                "slice (a series exported twice) or a one-slice series repeated over time; keep "
                "one of the files, or give each repetition a folder of its own",
            )
        )
        return problems
    if dup.size:
        # Runs of slices at one position: name the files of the first few.
        runs: list[list[int]] = []
        for t in dup.tolist():
            if runs and runs[-1][-1] == t:
                runs[-1].append(int(t) + 1)
            else:
                runs.append([int(t), int(t) + 1])
        where = "; ".join(
            f"{_names(frames[k].label() for k in run)} at {d[run[0]]:.2f} mm" for run in runs[:3]
        )
        more = f"; and {len(runs) - 3} more positions" if len(runs) > 3 else ""
        problems.append(
            (
                "MixedGeometryError",
                f"{dup.size} pair(s) of slices share a position ({where}{more} along the slice "
                "normal): the series mixes several acquisitions (echoes, phases, repeats) or "
                "holds copies of some files, and the headers cannot tell them apart; remove the "
                "copies, or put each acquisition in a folder of its own",
            )
        )
        return problems

    rel = positions - positions[0]
    along = rel @ normal
    perp = rel - np.outer(along, normal)
    drift = float(np.max(np.linalg.norm(perp, axis=1)))
    if drift > TILT_TOLERANCE_MM:
        angle = math.degrees(math.atan2(float(np.linalg.norm(perp[-1])), float(along[-1])))
        problems.append(
            (
                "GantryTiltError",
                f"the slices are not stacked along their normal: the stack is sheared by "
                f"{angle:.2f} deg (gantry tilt), positions drift {drift:.2f} mm sideways over "
                f"{along[-1]:.1f} mm; correct the tilt first (dcm2niix writes a '_Tilt_' "
                "resampled volume)",
            )
        )

    median = float(np.median(steps))
    tol = max(STEP_TOLERANCE_FRACTION * median, STEP_TOLERANCE_MM)
    gaps, uneven = [], []
    for t, s in enumerate(steps):
        if abs(s - median) <= tol:
            continue
        ratio = round(s / median)
        if ratio >= 2 and abs(s - ratio * median) <= tol * ratio:
            gaps.append((t, ratio - 1))
        else:
            uneven.append(t)
    if gaps:
        total = sum(m for _, m in gaps)
        where = "; ".join(
            f"{m} between {d[t]:.2f} and {d[t + 1]:.2f} mm ({frames[t].label()} and "
            f"{frames[t + 1].label()})"
            for t, m in gaps[:5]
        )
        more = f"; and {len(gaps) - 5} more gaps" if len(gaps) > 5 else ""
        problems.append(
            (
                "MissingSliceError",
                f"{total} slice(s) missing along the slice normal (median step {median:.3f} mm): "
                f"{where}{more}; copy the complete series again",
            )
        )
    if uneven:
        t = uneven[0]
        problems.append(
            (
                "UnevenSpacingError",
                f"slice steps vary from {steps.min():.3f} to {steps.max():.3f} mm (median "
                f"{median:.3f} mm; e.g. {steps[t]:.3f} mm between {frames[t].label()} and "
                f"{frames[t + 1].label()}); an even voxel grid cannot represent it",
            )
        )
    return problems


def _names(labels: Any, limit: int = 4) -> str:
    """``a, b, c and 2 more`` from file labels."""
    labels = list(labels)
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _make_info(key: str, uid: str, frames: list[_Frame], mixed: str, why: str) -> SeriesInfo:
    stack = _analyse(frames, mixed)
    frames = stack.frames
    h = frames[0].header
    files = tuple(dict.fromkeys(f.path for f in frames))
    n_slices = sum(f.count for f in frames)
    if stack.affine_lps is not None:
        affine_ras = lps_to_ras(stack.affine_lps)
        spacing = tuple(float(v) for v in np.linalg.norm(affine_ras[:3, :3], axis=0))
        orientation = axis_codes(affine_ras)
    else:
        affine_ras, spacing, orientation = None, (float("nan"),) * 3, "?"
    role = guess_role([h.description, h.protocol, h.sequence, h.scanning_sequence])
    if role == "unknown" and h.tof_contrast:
        role = "tof"
    return SeriesInfo(
        key=key,
        series_uid=h.series_uid,
        series_number=h.series_number,
        description=h.description,
        sequence=h.sequence,
        protocol=h.protocol,
        modality=h.modality,
        role=role,
        n_files=len(files),
        n_slices=n_slices,
        shape=(h.columns, h.rows, n_slices),
        rows=h.rows,
        columns=h.columns,
        spacing_mm=spacing,  # type: ignore[arg-type]
        orientation=orientation,
        affine_ras=affine_ras,
        files=files,
        multiframe=h.multiframe,
        transfer_syntaxes=tuple(sorted({f.header.transfer_syntax for f in frames})),
        problems=tuple(msg for _, msg in stack.problems),
        problem_types=tuple(kind for kind, _ in stack.problems),
        split_reason=why,
        warnings=tuple(stack.warnings),
        _frames=tuple(frames),
    )
