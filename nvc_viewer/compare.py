"""Both sides compared: the REZ of each nerve, left against right, in numbers and words.

Design note
-----------
Vessels touch the nerves of the asymptomatic side too (about one case in five), so a surgeon
reads the symptomatic side against the other. `compare_sides` measures, per side (left, right)
and nerve (VII, VIII, V), from what a case keeps -- the label map on the T2 grid, the landmarks,
the per-side identification and the findings -- so that a case reopened from its
``findings.json`` and label map is compared without re-running the analysis; the analysis'
nerve centrelines are used when they are at hand (`compare_result`).

* **The nerve's course.** The analysis' centreline (patient RAS mm, from the brainstem
  outward) when given; else one traced through the nerve's label voxels on that side: the
  voxels' geodesic distance (through the label, one-voxel gaps bridged) from the root exit
  point, or from the most medial voxel without one, averaged in 1 mm shells.
* **Distances along the nerve.** RExP -> RDP and RDP -> TZ are arclengths between the
  landmarks' closest points on that course (mm). VIII has no landmarks of its own: its REZ
  segments are counted from the facial root's RDP projected onto it (the two leave the
  brainstem together, docs/anatomy.md) and its distances are not given.
* **Calibre.** The median diameter of the free cisternal root, from the TZ's far boundary
  (``1.5 * tz`` beyond the RDP) to the porus (`nvc_viewer.annotate.PORUS_FROM_RDP_MM`): every
  0.5 mm along the course, the nerve voxels in a 1 mm slab across it give a cross-section area
  ``A`` and a diameter ``2 * sqrt(A / pi)``.
* **Vessels per REZ segment.** The segments are `nvc_viewer.anatomy.segment_name`'s (attached,
  RDP, TZ, cisternal). Where findings (not rejected) lie on a segment, the segment reports the
  highest graded one: its vessel, ``contact`` when its grade is above ``none``, its grade.
  Elsewhere the segment is measured on the label map: the nerve voxels whose closest course
  point falls in that segment's stretch, and the nearest artery or vein voxel to them. The gap is
  the voxel centres' distance less one voxel (the two half voxels); labels that touch (26
  neighbours) are ``contact``. A measured vessel is named when a finding of that side lies
  within 3 mm of it, else ``unknown``; a measured grade is ``contact`` or ``none`` (indentation
  and displacement need the image).

Positions are patient RAS mm through the label map's exact affine; distances in mm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import ndimage
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from .anatomy import segment_name
from .annotate import PORUS_FROM_RDP_MM, TZ_FROM_RDP_MM
from .findings import GRADES, CaseFindings, Finding, Landmark, NerveIdentification
from .labels import ARTERY, BRAINSTEM, CN5, CN7, CN8, VEIN
from .segment.centreline import polyline_distance
from .volume import Volume

__all__ = [
    "COMPARED_NERVES",
    "REZ_SEGMENTS",
    "SegmentVessel",
    "NerveSide",
    "SidesComparison",
    "compare_sides",
    "compare_case",
    "compare_result",
    "comparison_rows",
    "format_rows",
]

#: Nerves compared, in the order of the table.
COMPARED_NERVES: tuple[str, ...] = ("VII", "VIII", "V")
#: REZ segments reported per nerve, from the brainstem outward.
REZ_SEGMENTS: tuple[str, ...] = ("attached", "RDP", "TZ", "cisternal")
_VALUE = {"VII": CN7, "VIII": CN8, "V": CN5}
_SHELL_MM = 1.0
_SLAB_MM = 1.0
_STEP_MM = 0.5
_NAME_WITHIN_MM = 3.0

Source = Literal["finding", "measured", "none"]


@dataclass(frozen=True)
class SegmentVessel:
    """The nearest vessel of one REZ segment of one nerve.

    Attributes
    ----------
    segment : {"attached", "RDP", "TZ", "cisternal"}
    vessel : str or None
        Findings vocabulary (AICA, PICA, VA, BA, SCA, vein, perforator, unknown); None when no
        vessel lies within the search distance or the segment was not measured.
    vessel_kind : {"artery", "vein", "unknown"}
    gap_mm : float or None
        Surface gap in mm, 0.0 for a contact; None when unknown.
    grade : {"none", "contact", "indentation", "displacement"} or None
        From the findings on the segment, else measured (``contact`` / ``none``); None when
        nothing was measured.
    source : {"finding", "measured", "none"}
        ``"none"``: the segment has no stretch of nerve to measure (not traced, or V's attached
        segment, which has no length).
    finding_ids : tuple of str
        The findings the segment reports.
    """

    segment: str
    vessel: str | None = None
    vessel_kind: str = "unknown"
    gap_mm: float | None = None
    grade: str | None = None
    source: Source = "none"
    finding_ids: tuple[str, ...] = ()

    @property
    def contact(self) -> bool:
        """Whether the vessel touches the nerve (a grade above ``none``)."""
        return self.grade is not None and self.grade != "none"

    def text(self) -> str:
        """One cell: ``"AICA contact (indentation)"``, ``"vein 1.4 mm"``, ``"none within 5 mm"``."""
        if self.source == "none":
            return "-"
        if self.vessel is None:
            return "no vessel near"
        if self.contact:
            grade = "" if self.grade == "contact" else f" ({self.grade})"
            return f"{self.vessel} contact{grade}"
        gap = "" if self.gap_mm is None else f" {self.gap_mm:.1f} mm"
        return f"{self.vessel}{gap}"


@dataclass(frozen=True)
class NerveSide:
    """One nerve on one side, as compared (distances mm).

    Attributes
    ----------
    side : {"left", "right"}
    nerve : {"VII", "VIII", "V"}
    identified : bool
    confidence : float or None
        The identification's, when the case has one.
    reason : str or None
        Why the nerve was not identified, or why its name is uncertain.
    rexp_rdp_mm, rdp_tz_mm : float or None
        Arclength along the nerve between the landmarks; None without them.
    calibre_mm : float or None
        Median diameter of the free cisternal root; None without label voxels there.
    segments : tuple of SegmentVessel
        One per `REZ_SEGMENTS` entry, in that order.
    course : {"centreline", "labels", "none"}
        What the nerve's course was taken from.
    """

    side: str
    nerve: str
    identified: bool
    confidence: float | None = None
    reason: str | None = None
    rexp_rdp_mm: float | None = None
    rdp_tz_mm: float | None = None
    calibre_mm: float | None = None
    segments: tuple[SegmentVessel, ...] = ()
    course: str = "none"

    def segment(self, name: str) -> SegmentVessel:
        """The entry of REZ segment ``name``."""
        for s in self.segments:
            if s.segment == name:
                return s
        raise KeyError(name)


@dataclass(frozen=True)
class SidesComparison:
    """Every compared nerve of both sides.

    Attributes
    ----------
    nerves : tuple of NerveSide
        Per nerve of `COMPARED_NERVES`, left then right.
    symptomatic_side : {"left", "right", "bilateral"} or None
        From the case's clinical record, when known.
    """

    nerves: tuple[NerveSide, ...]
    symptomatic_side: str | None = None

    def get(self, side: str, nerve: str) -> NerveSide:
        """The entry of ``nerve`` on ``side`` (KeyError if none)."""
        for n in self.nerves:
            if n.side == side and n.nerve == nerve:
                return n
        raise KeyError((side, nerve))


# -- geometry helpers -------------------------------------------------------------------------
def _arclength(polyline: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(polyline, axis=0), axis=1))])


def _point_at(polyline: np.ndarray, s_cum: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """Point and unit tangent (over about +-1 mm) at arclength ``s``."""
    p = np.array([np.interp(s, s_cum, polyline[:, a]) for a in range(3)])
    lo = np.array([np.interp(s - 1.0, s_cum, polyline[:, a]) for a in range(3)])
    hi = np.array([np.interp(s + 1.0, s_cum, polyline[:, a]) for a in range(3)])
    t = hi - lo
    n = float(np.linalg.norm(t))
    return p, (t / n if n > 1e-9 else np.array([1.0, 0.0, 0.0]))


def _trace(points: np.ndarray, anchor: np.ndarray | None, spacing: np.ndarray) -> np.ndarray:
    """A course through label voxels (RAS mm): geodesic shells from the anchor, averaged."""
    if len(points) < 2:
        return points.copy()
    tree = cKDTree(points)
    graph = tree.sparse_distance_matrix(tree, 2.1 * float(spacing.max()), output_type="coo_matrix")
    start = (
        int(np.argmin(np.linalg.norm(points - anchor, axis=1)))
        if anchor is not None
        else int(np.argmin(points[:, 0] ** 2))
    )
    dist = dijkstra(graph.tocsr(), indices=start)
    ok = np.isfinite(dist)
    shells = np.floor(dist[ok] / _SHELL_MM).astype(int)
    pts = points[ok]
    line = [pts[shells == k].mean(axis=0) for k in np.unique(shells)]
    out = np.asarray(line)
    if anchor is not None:
        out = np.vstack([anchor, out])
    return out


def _grade_rank(grade: str | None) -> int:
    return -1 if grade is None else GRADES.index(grade)


# -- the measurement --------------------------------------------------------------------------
def _labelled_box(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest box of ``data`` holding every non-zero voxel, and its corner index."""
    low, high = [], []
    for axis in range(data.ndim):
        others = tuple(a for a in range(data.ndim) if a != axis)
        hit = np.flatnonzero(data.any(axis=others))
        if hit.size == 0:
            return data[tuple(slice(0, 0) for _ in range(data.ndim))], np.zeros(data.ndim, int)
        low.append(int(hit[0]))
        high.append(int(hit[-1]) + 1)
    box = tuple(slice(lo, hi) for lo, hi in zip(low, high))
    return data[box], np.asarray(low, dtype=int)


class _LabelSpace:
    """The label map's voxels in RAS mm, cropped to the nerves plus the search distance."""

    def __init__(self, labels: Volume, search_mm: float) -> None:
        data = np.asarray(labels.data)
        self.affine = np.asarray(labels.affine, dtype=np.float64)
        self.spacing = np.asarray(labels.spacing_mm, dtype=np.float64)
        # Voxels are looked for in the box that holds labels only (a label map is mostly
        # background): the same indices, once the box's corner is added back.
        labelled, corner = _labelled_box(data)
        nerves = np.isin(labelled, list(_VALUE.values()))
        if nerves.any():
            idx = np.argwhere(nerves) + corner
            margin = np.ceil(search_mm / self.spacing).astype(int) + 2
            lo = np.maximum(idx.min(axis=0) - margin, 0)
            hi = np.minimum(idx.max(axis=0) + margin + 1, data.shape)
        else:
            lo, hi = np.zeros(3, int), np.asarray(data.shape)
        self.offset = lo
        self.crop = data[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        vessel = np.isin(self.crop, (ARTERY, VEIN))
        self.has_vessels = bool(vessel.any())
        if self.has_vessels:
            self.vessel_dist, self.vessel_idx = ndimage.distance_transform_edt(
                ~vessel, sampling=self.spacing, return_indices=True
            )
        brainstem = np.argwhere(labelled == BRAINSTEM) + corner
        if len(brainstem):
            self.midline_x = float(np.median(self.ras(brainstem - self.offset)[:, 0]))
        else:
            allnerve = np.argwhere(nerves) + corner
            self.midline_x = (
                float(np.median(self.ras(allnerve - self.offset)[:, 0])) if len(allnerve) else 0.0
            )

    def ras(self, ijk_crop: np.ndarray) -> np.ndarray:
        """RAS mm of crop indices."""
        ijk = np.asarray(ijk_crop, dtype=np.float64) + self.offset
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def nerve_voxels(self, nerve: str, side: str) -> np.ndarray:
        """Crop indices of ``nerve``'s label voxels on ``side`` (by the brainstem midline)."""
        idx = np.argwhere(self.crop == _VALUE[nerve])
        if not len(idx):
            return idx
        x = self.ras(idx)[:, 0] - self.midline_x
        return idx[(x < 0) if side == "left" else (x > 0)]


def _by_nerve(
    landmarks: Iterable[Landmark],
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    out: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for lm in landmarks:
        out.setdefault((lm.side, lm.nerve), {})[lm.name] = np.asarray(lm.position_ras, float)
    return out


def _measure_segment(
    space: _LabelSpace,
    name: str,
    voxels: np.ndarray,
    side_findings: Sequence[Finding],
    search_mm: float,
) -> SegmentVessel:
    if not len(voxels):
        return SegmentVessel(name)
    if not space.has_vessels:
        return SegmentVessel(name, source="measured")
    d = space.vessel_dist[tuple(voxels.T)]
    k = int(np.argmin(d))
    centre = float(d[k])
    if centre > search_mm:
        return SegmentVessel(name, source="measured")
    near = tuple(space.vessel_idx[(slice(None), *voxels[k])])
    kind = "artery" if int(space.crop[near]) == ARTERY else "vein"
    touching = centre <= float(np.linalg.norm(space.spacing)) + 1e-6
    gap = 0.0 if touching else max(0.0, centre - float(space.spacing.mean()))
    vessel = "vein" if kind == "vein" else "unknown"
    at = space.ras(np.asarray(near)[None])[0]
    named = [
        (float(np.linalg.norm(np.asarray(f.position_ras) - at)), f)
        for f in side_findings
        if f.vessel != "unknown"
    ]
    named = [t for t in named if t[0] <= _NAME_WITHIN_MM]
    if named:
        vessel = min(named, key=lambda t: t[0])[1].vessel
    return SegmentVessel(
        name,
        vessel=vessel,
        vessel_kind=kind,
        gap_mm=round(gap, 2),
        grade="contact" if touching else "none",
        source="measured",
    )


def _one_nerve(
    space: _LabelSpace,
    side: str,
    nerve: str,
    marks: Mapping[str, np.ndarray],
    centreline: np.ndarray | None,
    findings: Sequence[Finding],
    ident: NerveIdentification | None,
    search_mm: float,
) -> NerveSide:
    voxels = space.nerve_voxels(nerve, side)
    course = "none"
    line: np.ndarray | None = None
    if centreline is not None and len(centreline) >= 2:
        line, course = np.asarray(centreline, dtype=np.float64).reshape(-1, 3), "centreline"
    elif len(voxels) >= 2:
        line = _trace(space.ras(voxels), marks.get("RExP"), space.spacing)
        course = "labels" if len(line) >= 2 else "none"
        if course == "none":
            line = None
    identified = ident.found if ident is not None else (line is not None or bool(marks))
    base: dict[str, Any] = {
        "side": side,
        "nerve": nerve,
        "identified": identified,
        "confidence": None if ident is None else ident.confidence,
        "reason": None if ident is None else ident.reason,
        "course": course,
    }
    mine = [f for f in findings if f.side == side and f.nerve == nerve]
    if line is None:
        return NerveSide(**base, segments=_from_findings_only(mine))
    s_cum = _arclength(line)

    def s_of(p: np.ndarray) -> float:
        return float(polyline_distance(p[None], line)[1][0])

    s_mark = {k: s_of(p) for k, p in marks.items()}
    rexp_rdp = rdp_tz = None
    if "RExP" in s_mark and "RDP" in s_mark:
        rexp_rdp = round(abs(s_mark["RDP"] - s_mark["RExP"]), 2)
    if "TZ" in s_mark and "RDP" in s_mark:
        rdp_tz = round(abs(s_mark["TZ"] - s_mark["RDP"]), 2)
    s_rdp = s_mark.get("RDP", 0.0)
    sign = 1.0
    if "RExP" in s_mark and abs(s_mark["RExP"] - s_rdp) > 1e-6:
        sign = 1.0 if s_mark["RExP"] < s_rdp else -1.0
    elif "TZ" in s_mark and abs(s_mark["TZ"] - s_rdp) > 1e-6:
        sign = 1.0 if s_mark["TZ"] > s_rdp else -1.0
    tz = rdp_tz if rdp_tz else float(TZ_FROM_RDP_MM.get(nerve, 2.6))
    porus = float(PORUS_FROM_RDP_MM.get(nerve, 12.4))
    d_start = -(rexp_rdp or 0.0) if "RExP" in s_mark else -np.inf

    # calibre of the free cisternal root
    calibre = None
    if len(voxels):
        pts = space.ras(voxels)
        voxel_mm3 = float(abs(np.linalg.det(space.affine[:3, :3])))
        diameters = []
        for d in np.arange(1.5 * tz, porus, _STEP_MM):
            s = s_rdp + sign * d
            if s < s_cum[0] + _SLAB_MM / 2 or s > s_cum[-1] - _SLAB_MM / 2:
                continue
            p, t = _point_at(line, s_cum, s)
            rel = pts - p
            along = rel @ t
            across = np.linalg.norm(rel - along[:, None] * t, axis=1)
            n = int(np.count_nonzero((np.abs(along) <= _SLAB_MM / 2) & (across <= 3.0)))
            if n:
                diameters.append(2.0 * np.sqrt(n * voxel_mm3 / _SLAB_MM / np.pi))
        if diameters:
            calibre = round(float(np.median(diameters)), 2)

    # nerve voxels per REZ segment
    side_findings = [f for f in findings if f.side == side]
    segs = []
    if len(voxels):
        _, s_vox, _ = polyline_distance(space.ras(voxels), line)
        d_vox = sign * (s_vox - s_rdp)
        names = np.array([segment_name(float(d), tz, porus) for d in d_vox])
        names[d_vox < d_start - 0.5] = ""
    else:
        names = np.array([], dtype=str)
    for name in REZ_SEGMENTS:
        on = [f for f in mine if f.segment == name]
        if on:
            segs.append(_worst(name, on))
            continue
        segs.append(_measure_segment(space, name, voxels[names == name], side_findings, search_mm))
    return NerveSide(
        **base, rexp_rdp_mm=rexp_rdp, rdp_tz_mm=rdp_tz, calibre_mm=calibre, segments=tuple(segs)
    )


def _worst(name: str, on: Sequence[Finding]) -> SegmentVessel:
    worst = max(on, key=lambda f: _grade_rank(f.grade))
    return SegmentVessel(
        name,
        vessel=worst.vessel,
        vessel_kind=worst.vessel_kind,
        gap_mm=0.0 if worst.grade != "none" else None,
        grade=worst.grade,
        source="finding",
        finding_ids=tuple(f.id for f in on),
    )


def _from_findings_only(mine: Sequence[Finding]) -> tuple[SegmentVessel, ...]:
    out = []
    for name in REZ_SEGMENTS:
        on = [f for f in mine if f.segment == name]
        out.append(_worst(name, on) if on else SegmentVessel(name))
    return tuple(out)


def compare_sides(
    labels: Volume,
    landmarks: Iterable[Landmark] = (),
    findings: Iterable[Finding] = (),
    identification: Iterable[NerveIdentification] = (),
    centrelines: Mapping[str, Any] | None = None,
    *,
    symptomatic_side: str | None = None,
    search_mm: float = 5.0,
) -> SidesComparison:
    """Compare VII, VIII and V of the left and right side.

    Parameters
    ----------
    labels : Volume
        The case's label map (docs/design.md, section 3) with its exact voxel -> RAS affine.
    landmarks : iterable of Landmark
        RExP / RDP / TZ per side and nerve (patient RAS mm).
    findings : iterable of Finding
        The case's findings; rejected ones (``auto-rejected``) are left out.
    identification : iterable of NerveIdentification
        Per side and nerve; without one a nerve counts as identified when it has a course or
        landmarks.
    centrelines : mapping of str to (N, 3) array_like, optional
        Nerve centrelines in patient RAS mm keyed ``"VII_left"`` ..., from the brainstem
        outward (the analysis'); other keys are ignored. Without one a nerve is traced through
        its label voxels.
    symptomatic_side : str, optional
        Recorded on the result.
    search_mm : float, optional
        Largest voxel-centre distance (mm) at which a measured vessel is reported.

    Returns
    -------
    SidesComparison
    """
    space = _LabelSpace(labels, search_mm)
    marks = _by_nerve(landmarks)
    kept = [f for f in findings if f.origin != "auto-rejected"]
    idents: dict[tuple[str, str], NerveIdentification] = {
        (str(i.side), str(i.nerve)): i for i in identification
    }
    lines = dict(centrelines or {})
    out = []
    for nerve in COMPARED_NERVES:
        for side in ("left", "right"):
            own = dict(marks.get((side, nerve), {}))
            ns = _one_nerve(
                space,
                side,
                nerve,
                own,
                _maybe_line(lines.get(f"{nerve}_{side}")),
                kept,
                idents.get((side, nerve)),
                search_mm,
            )
            if nerve == "VIII" and not own and "RDP" in marks.get((side, "VII"), {}):
                ns = _viii_from_vii(space, ns, marks[(side, "VII")], lines, kept, idents, search_mm)
            out.append(ns)
    return SidesComparison(tuple(out), symptomatic_side)


def _maybe_line(line: Any) -> np.ndarray | None:
    if line is None:
        return None
    arr = np.asarray(line, dtype=np.float64).reshape(-1, 3)
    return arr if len(arr) >= 2 else None


def _viii_from_vii(
    space: _LabelSpace,
    ns: NerveSide,
    vii_marks: Mapping[str, np.ndarray],
    lines: Mapping[str, Any],
    findings: Sequence[Finding],
    idents: Mapping[tuple[str, str], NerveIdentification],
    search_mm: float,
) -> NerveSide:
    """VIII's segments counted from the facial RDP projected onto VIII; distances left out."""
    if ns.course == "none":
        return ns
    line = _maybe_line(lines.get(f"VIII_{ns.side}"))
    voxels = space.nerve_voxels("VIII", ns.side)
    if line is None:
        line = _trace(space.ras(voxels), None, space.spacing)
    _, s, closest = polyline_distance(vii_marks["RDP"][None], line)
    start = line[0]
    redone = _one_nerve(
        space,
        ns.side,
        "VIII",
        {"RDP": closest[0], "RExP": start} if float(s[0]) > 1e-6 else {"RDP": closest[0]},
        line,
        findings,
        idents.get((ns.side, "VIII")),
        search_mm,
    )
    return NerveSide(
        **{**redone.__dict__, "rexp_rdp_mm": None, "rdp_tz_mm": None, "course": ns.course}
    )


def compare_case(
    labels: Volume, case: CaseFindings, centrelines: Mapping[str, Any] | None = None
) -> SidesComparison:
    """`compare_sides` of a case as saved (``findings.json`` and its label map)."""
    return compare_sides(
        labels,
        case.landmarks,
        case.findings,
        case.identification,
        centrelines,
        symptomatic_side=case.clinical.symptomatic_side,
    )


def compare_result(result: Any) -> SidesComparison:
    """`compare_sides` of an `nvc_viewer.analysis.AnalysisResult` (with its centrelines)."""
    return compare_sides(
        result.labels,
        result.landmarks,
        result.findings,
        getattr(result, "identification", ()),
        result.centrelines,
    )


# -- text -------------------------------------------------------------------------------------
def _mm(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} mm"


def _identified(n: NerveSide) -> str:
    if not n.identified:
        return f"no: {n.reason}" if n.reason else "no"
    text = "yes" if n.confidence is None else f"yes ({n.confidence:.2f})"
    return f"{text}, {n.reason}" if n.reason else text


def comparison_rows(comparison: SidesComparison) -> list[tuple[str, str, str]]:
    """The comparison as plain-text rows ``(measure, left, right)``, a header row first.

    Per nerve: identified, RExP-RDP, RDP-TZ, calibre, and the nearest vessel of each REZ
    segment (``"AICA contact"``, ``"vein 1.4 mm"``, ``"no vessel near"``, ``"-"`` when not
    measured).
    """
    sym = comparison.symptomatic_side
    head = [
        "left (symptomatic)" if sym in ("left", "bilateral") else "left",
        "right (symptomatic)" if sym in ("right", "bilateral") else "right",
    ]
    rows: list[tuple[str, str, str]] = [("", head[0], head[1])]
    for nerve in COMPARED_NERVES:
        left, right = comparison.get("left", nerve), comparison.get("right", nerve)
        rows.append((f"{nerve} identified", _identified(left), _identified(right)))
        rows.append((f"{nerve} RExP-RDP", _mm(left.rexp_rdp_mm), _mm(right.rexp_rdp_mm)))
        rows.append((f"{nerve} RDP-TZ", _mm(left.rdp_tz_mm), _mm(right.rdp_tz_mm)))
        rows.append((f"{nerve} calibre", _mm(left.calibre_mm), _mm(right.calibre_mm)))
        for seg in REZ_SEGMENTS:
            rows.append((f"{nerve} {seg}", left.segment(seg).text(), right.segment(seg).text()))
    return rows


def format_rows(rows: Sequence[tuple[str, str, str]]) -> str:
    """Rows as aligned plain text, one line each."""
    widths = [max(len(r[c]) for r in rows) for c in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
