"""Agreement between a segmentation / findings and the truth: overlap, distances, detection.

Design note
-----------
Dice is unstable for 1 mm tubes imaged with 0.5 mm voxels (one voxel of shift halves it), so
tubes are also scored by centreline distance and by the 95th-percentile surface (Hausdorff)
distance, both in mm. Findings are matched per side and nerve, greedily by the distance between
their positions, within ``max_distance_mm``; a finding graded ``"none"`` is not a positive, and
one the surgeon rejected (``origin == "auto-rejected"``) does not count.

All masks are boolean arrays (any nonzero value is True) on one grid; positions are patient RAS
mm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from .labels import LABELS

__all__ = [
    "dice",
    "dice_per_label",
    "centreline_distance_mm",
    "hausdorff95_mm",
    "surface_distances_mm",
    "MatchResult",
    "match_findings",
]


def _mask(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2-D or 3-D mask, got {a.ndim}-D")
    return a.astype(bool, copy=False)


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice overlap ``2 |A and B| / (|A| + |B|)`` of two masks.

    Parameters
    ----------
    a, b : (I, J[, K]) array_like
        Masks (nonzero = inside) of the same shape.

    Returns
    -------
    float
        In [0, 1]; 1.0 when both masks are empty (they agree).
    """
    a, b = _mask(a, "a"), _mask(b, "b")
    _same_shape(a, b)
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_per_label(
    pred: np.ndarray, true: np.ndarray, labels: Iterable[int] = tuple(LABELS)
) -> dict[int, float]:
    """Dice of each label value of two label maps (every value of the label table by default)."""
    pred, true = np.asarray(pred), np.asarray(true)
    _same_shape(pred, true)
    return {int(v): dice(pred == v, true == v) for v in labels}


def _skeleton_points(mask: np.ndarray) -> np.ndarray:
    """Voxel indices ``(N, 3)`` of the mask's skeleton (its centreline for a tube)."""
    from skimage.morphology import skeletonize

    if not mask.any():
        return np.zeros((0, mask.ndim))
    # Crop to the mask: skeletonising the whole grid is needlessly slow.
    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    box = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
    skel = skeletonize(mask[box])
    idx = np.argwhere(skel)
    if len(idx) == 0:  # a blob too small to thin: its voxels
        idx = np.argwhere(mask[box])
    return idx + np.array([s.start for s in box])


def _skeleton_curve(points_ras: np.ndarray, ijk: np.ndarray, step: float = 0.1) -> np.ndarray:
    """The skeleton as a curve: its voxels joined to their 26-neighbours, sampled every
    ``step`` mm (distances to it are then not quantised by the voxel size)."""
    if len(ijk) < 2:
        return points_ras
    pairs = cKDTree(ijk.astype(np.float64)).query_pairs(np.sqrt(3.0) + 1e-6, output_type="ndarray")
    if len(pairs) == 0:
        return points_ras
    a, b = points_ras[pairs[:, 0]], points_ras[pairs[:, 1]]
    n = max(int(np.ceil(np.linalg.norm(b - a, axis=1).max() / step)), 1)
    t = np.linspace(0.0, 1.0, n + 1)[None, :, None]
    dense = a[:, None, :] * (1 - t) + b[:, None, :] * t
    return np.vstack([points_ras, dense.reshape(-1, 3)])


def _index_to_ras(affine: np.ndarray, ijk: np.ndarray) -> np.ndarray:
    affine = np.asarray(affine, dtype=np.float64)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _densify(points: np.ndarray, step: float) -> np.ndarray:
    if len(points) < 2:
        return points
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)) + 1, 2)
    t = np.linspace(0.0, s[-1], n)
    return np.column_stack([np.interp(t, s, points[:, a]) for a in range(points.shape[1])])


def centreline_distance_mm(
    pred_mask: np.ndarray,
    true_centreline_ras: np.ndarray,
    affine: np.ndarray,
    *,
    symmetric: bool = False,
) -> float:
    """Mean distance (mm) from a true centreline to the skeleton of a predicted tube.

    Parameters
    ----------
    pred_mask : (I, J, K) array_like
        Predicted structure (e.g. the facial nerve's voxels).
    true_centreline_ras : (N, 3) array_like
        True centreline, patient RAS mm (a polyline; it is resampled at 0.1 mm). Only the part
        inside the grid's field of view is scored.
    affine : (4, 4) array_like
        Voxel index -> RAS mm of the mask's grid.
    symmetric : bool
        Also average in the mean distance from the predicted skeleton to the true centreline
        (which penalises false branches): the result is the mean of the two directions.

    Returns
    -------
    float
        Mean distance in mm; ``inf`` when the prediction is empty; ``nan`` when the true
        centreline lies outside the field of view.
    """
    mask = _mask(pred_mask, "pred_mask")
    if mask.ndim != 3:
        raise ValueError("pred_mask must be 3-D")
    line = np.asarray(true_centreline_ras, dtype=np.float64)
    if line.ndim != 2 or line.shape[1] != 3:
        raise ValueError(f"true_centreline_ras must be (N, 3), got shape {line.shape}")
    affine = np.asarray(affine, dtype=np.float64)
    line = _densify(line, 0.1)
    inv = np.linalg.inv(affine)
    ijk = line @ inv[:3, :3].T + inv[:3, 3]
    inside = np.all((ijk >= -0.5) & (ijk <= np.asarray(mask.shape) - 0.5), axis=1)
    line = line[inside]
    if len(line) == 0:
        return float("nan")
    skel = _skeleton_points(mask)
    if len(skel) == 0:
        return float("inf")
    skel_ras = _skeleton_curve(_index_to_ras(affine, skel.astype(np.float64)), skel)
    forward = cKDTree(skel_ras).query(line)[0].mean()
    if not symmetric:
        return float(forward)
    backward = cKDTree(line).query(skel_ras)[0].mean()
    return float(0.5 * (forward + backward))


def _surface(mask: np.ndarray) -> np.ndarray:
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return mask & ~ndimage.binary_erosion(mask, structure, border_value=0)


def surface_distances_mm(
    a: np.ndarray, b: np.ndarray, spacing_mm: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from each surface voxel of ``a`` to the surface of ``b``, and back.

    Surface voxels are those with a face neighbour outside the mask. Raises ``ValueError`` when
    a mask is empty.
    """
    a, b = _mask(a, "a"), _mask(b, "b")
    _same_shape(a, b)
    spacing = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64), (a.ndim,))
    if not a.any() or not b.any():
        raise ValueError("surface distances need two non-empty masks")
    # Work in the union's bounding box plus a margin: the distance transform is the cost.
    box = ndimage.find_objects((a | b).astype(np.uint8))[0]
    box = tuple(slice(max(s.start - 2, 0), min(s.stop + 2, n)) for s, n in zip(box, a.shape))
    a, b = a[box], b[box]
    sa, sb = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~sb, sampling=spacing)
    to_a = ndimage.distance_transform_edt(~sa, sampling=spacing)
    return to_b[sa], to_a[sb]


def hausdorff95_mm(a: np.ndarray, b: np.ndarray, spacing_mm: Sequence[float]) -> float:
    """95th-percentile symmetric surface distance (mm) between two masks.

    The 95th percentile of the pooled distances from the surface of ``a`` to that of ``b``
    and from ``b`` to ``a`` (as MedPy's ``hd95``).

    Parameters
    ----------
    a, b : (I, J[, K]) array_like
        Masks of the same shape.
    spacing_mm : sequence of float
        Voxel size along each axis in mm.

    Returns
    -------
    float
        0.0 when both masks are empty, ``inf`` when only one is.
    """
    a, b = _mask(a, "a"), _mask(b, "b")
    _same_shape(a, b)
    if not a.any() and not b.any():
        return 0.0
    if not a.any() or not b.any():
        return float("inf")
    d_ab, d_ba = surface_distances_mm(a, b, spacing_mm)
    return float(np.percentile(np.concatenate([d_ab, d_ba]), 95))


# --------------------------------------------------------------------------------------------
# Findings
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MatchResult:
    """Detection agreement between predicted and true findings.

    Attributes
    ----------
    true_positives, false_negatives, false_positives : int
    matches : list of (int, int, float)
        ``(pred_index, true_index, distance_mm)`` for each matched pair (indices into the lists
        given to `match_findings`).
    unmatched_true, unmatched_pred : list of int
    sensitivity : float or None
        TP / (TP + FN); None when there is no true positive finding.
    false_positives_per_side : float
        FP / ``n_sides``.
    false_positives_by_side : dict
        ``{"left": n, "right": n}``.
    grade_agreement : float or None
        Fraction of matched pairs with the same grade; None without matches.
    vessel_agreement : float or None
        Fraction of matched pairs naming the same vessel.
    position_errors_mm : list of float
        Euclidean distance between matched positions.
    along_nerve_errors_mm : list of float
        ``|distance_from_brainstem_mm|`` difference of matched pairs where both are known.
    mean_along_nerve_error_mm : float or None
    """

    true_positives: int
    false_negatives: int
    false_positives: int
    matches: list[tuple[int, int, float]]
    unmatched_true: list[int]
    unmatched_pred: list[int]
    sensitivity: float | None
    false_positives_per_side: float
    false_positives_by_side: dict[str, int] = field(default_factory=dict)
    grade_agreement: float | None = None
    vessel_agreement: float | None = None
    position_errors_mm: list[float] = field(default_factory=list)
    along_nerve_errors_mm: list[float] = field(default_factory=list)
    mean_along_nerve_error_mm: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "true_positives": self.true_positives,
            "false_negatives": self.false_negatives,
            "false_positives": self.false_positives,
            "matches": [list(m) for m in self.matches],
            "unmatched_true": list(self.unmatched_true),
            "unmatched_pred": list(self.unmatched_pred),
            "sensitivity": self.sensitivity,
            "false_positives_per_side": self.false_positives_per_side,
            "false_positives_by_side": dict(self.false_positives_by_side),
            "grade_agreement": self.grade_agreement,
            "vessel_agreement": self.vessel_agreement,
            "position_errors_mm": list(self.position_errors_mm),
            "along_nerve_errors_mm": list(self.along_nerve_errors_mm),
            "mean_along_nerve_error_mm": self.mean_along_nerve_error_mm,
        }


def _findings_list(
    findings: Sequence[Mapping[str, Any]] | Mapping[str, Any], name: str
) -> list[Mapping[str, Any]]:
    if isinstance(findings, Mapping):
        if "findings" not in findings:
            raise ValueError(f"{name} is a mapping without a 'findings' list")
        out = list(findings["findings"])
    else:
        out = list(findings)
    for k, f in enumerate(out):
        for key in ("side", "nerve", "position_ras"):
            if key not in f:
                raise ValueError(f"{name}[{k}] has no {key!r}")
        if len(f["position_ras"]) != 3:
            raise ValueError(f"{name}[{k}]['position_ras'] must hold 3 numbers")
    return out


def _counts(f: Mapping[str, Any]) -> bool:
    """A positive finding: graded above "none" and not rejected by the surgeon."""
    return f.get("grade", "contact") != "none" and f.get("origin") != "auto-rejected"


def match_findings(
    pred: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    true: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    max_distance_mm: float = 3.0,
    n_sides: int = 2,
) -> MatchResult:
    """Match predicted to true neurovascular-compression findings.

    Within each (side, nerve) group, all predicted-true pairs closer than ``max_distance_mm``
    (between ``position_ras``) are taken greedily, nearest first, each finding at most once.

    Parameters
    ----------
    pred, true : list of finding dicts, or findings documents (docs/design.md, section 4)
        Only positive findings take part: grade other than ``"none"``, origin other than
        ``"auto-rejected"``. Indices in the result refer to the given lists.
    max_distance_mm : float
        Largest distance (mm) between matched positions.
    n_sides : int
        Sides examined per case (2 for one case), for false positives per side.

    Returns
    -------
    MatchResult
    """
    if not max_distance_mm > 0:
        raise ValueError(f"max_distance_mm must be positive, got {max_distance_mm}")
    if n_sides < 1:
        raise ValueError(f"n_sides must be >= 1, got {n_sides}")
    pred_list = _findings_list(pred, "pred")
    true_list = _findings_list(true, "true")
    pred_idx = [k for k, f in enumerate(pred_list) if _counts(f)]
    true_idx = [k for k, f in enumerate(true_list) if _counts(f)]
    groups: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
    for k in pred_idx:
        f = pred_list[k]
        groups.setdefault((f["side"], f["nerve"]), ([], []))[0].append(k)
    for k in true_idx:
        f = true_list[k]
        groups.setdefault((f["side"], f["nerve"]), ([], []))[1].append(k)
    matches: list[tuple[int, int, float]] = []
    for p_keys, t_keys in groups.values():
        pairs = []
        for pk in p_keys:
            p_ras = np.asarray(pred_list[pk]["position_ras"], dtype=np.float64)
            for tk in t_keys:
                t_ras = np.asarray(true_list[tk]["position_ras"], dtype=np.float64)
                d = float(np.linalg.norm(p_ras - t_ras))
                if d <= max_distance_mm:
                    pairs.append((d, pk, tk))
        used_p: set[int] = set()
        used_t: set[int] = set()
        for d, pk, tk in sorted(pairs):
            if pk in used_p or tk in used_t:
                continue
            used_p.add(pk)
            used_t.add(tk)
            matches.append((pk, tk, d))
    matched_p = {m[0] for m in matches}
    matched_t = {m[1] for m in matches}
    unmatched_pred = [k for k in pred_idx if k not in matched_p]
    unmatched_true = [k for k in true_idx if k not in matched_t]
    tp, fn, fp = len(matches), len(unmatched_true), len(unmatched_pred)
    by_side = {"left": 0, "right": 0}
    for k in unmatched_pred:
        side = str(pred_list[k]["side"])
        by_side[side] = by_side.get(side, 0) + 1
    grade = [pred_list[p].get("grade") == true_list[t].get("grade") for p, t, _ in matches]
    vessel = [pred_list[p].get("vessel") == true_list[t].get("vessel") for p, t, _ in matches]
    along = []
    for p, t, _ in matches:
        dp = pred_list[p].get("distance_from_brainstem_mm")
        dt = true_list[t].get("distance_from_brainstem_mm")
        if dp is not None and dt is not None:
            along.append(abs(float(dp) - float(dt)))
    return MatchResult(
        true_positives=tp,
        false_negatives=fn,
        false_positives=fp,
        matches=sorted(matches),
        unmatched_true=unmatched_true,
        unmatched_pred=unmatched_pred,
        sensitivity=tp / (tp + fn) if tp + fn else None,
        false_positives_per_side=fp / n_sides,
        false_positives_by_side=by_side,
        grade_agreement=float(np.mean(grade)) if grade else None,
        vessel_agreement=float(np.mean(vessel)) if vessel else None,
        position_errors_mm=[m[2] for m in sorted(matches)],
        along_nerve_errors_mm=along,
        mean_along_nerve_error_mm=float(np.mean(along)) if along else None,
    )
