"""Manual annotation helpers: describe a hand-placed point, bring an edited label map home.

Design note
-----------
A surgeon who places a finding by hand clicks a point; the rest of the record -- which nerve on
which side, how far along the nerve from the brainstem, which REZ segment, which vessel is
nearest and at what angle it crosses -- is measured here from what the analysis left behind: the
nerve and vessel centrelines (``(N, 3)`` patient RAS mm, keyed ``"VII_left"``, ``"AICA_right"``,
``"BA"`` ...) and the RExP / RDP / TZ landmarks. When a case is reopened without its
centrelines, each nerve is approximated by the polyline through its landmarks (RExP -> RDP ->
TZ), extended straight beyond the last one.

``distance_from_brainstem_mm`` follows the findings schema (docs/design.md, section 4): arclength
along the nerve from the root detachment point (RDP), negative on the attached segment. The segment
names and boundaries are the analysis' own (`nvc_viewer.anatomy.segment_name`), so a
hand-placed finding and a machine one at the same place get the same segment.

`volume_from_display` undoes the viewer's flips and transposes (`nvc_viewer.geometry.to_display`)
so that a label map painted in the viewer is saved and exported on the T2 grid, exactly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .anatomy import segment_name
from .errors import InvalidFindingError, InvalidVolumeError
from .findings import LANDMARK_NAMES, Landmark
from .geometry import DisplayGrid, to_display
from .volume import Volume

__all__ = [
    "TZ_FROM_RDP_MM",
    "PORUS_FROM_RDP_MM",
    "PointDescription",
    "describe_point",
    "nerve_key",
    "vessel_of_key",
    "volume_from_display",
]

#: Transition zone, mm along the nerve from the RDP, when no TZ landmark is known. VII: 2.6 mm
#: (docs/anatomy.md); VIII *assumed* as VII; V and IX *assumed* 2.0 mm.
TZ_FROM_RDP_MM: Mapping[str, float] = MappingProxyType(
    {"V": 2.0, "VII": 2.6, "VIII": 2.6, "IX": 2.0}
)

#: Where the cisternal course ends (porus), mm along the nerve from the RDP: the published
#: cisternal lengths VII 12.4, VIII 11.5, V 13.6 mm (docs/anatomy.md); IX *assumed* 12 mm.
PORUS_FROM_RDP_MM: Mapping[str, float] = MappingProxyType(
    {"V": 13.6, "VII": 12.4, "VIII": 11.5, "IX": 12.0}
)

_NERVE_KEY = re.compile(r"^(V|VII|VIII|IX)_(left|right)$")
_ARTERIES = ("AICA", "PICA", "VA", "BA", "SCA")


def nerve_key(key: str) -> tuple[str, str] | None:
    """``(nerve, side)`` of a centreline key such as ``"VII_left"``; None for a vessel."""
    match = _NERVE_KEY.match(key)
    return (match.group(1), match.group(2)) if match else None


def vessel_of_key(key: str) -> tuple[str, str]:
    """``(vessel, vessel_kind)`` of a vessel centreline key (findings vocabulary).

    ``"AICA_left"`` -> ``("AICA", "artery")``, ``"vein_sp_right"`` -> ``("vein", "vein")``;
    anything else -> ``("unknown", "unknown")``.
    """
    head = key.split("_", 1)[0]
    if head in _ARTERIES:
        return head, "artery"
    if head.lower() == "vein":
        return "vein", "vein"
    return "unknown", "unknown"


@dataclass(frozen=True)
class PointDescription:
    """What `describe_point` measured for one point (RAS mm, angles in degrees).

    Attributes
    ----------
    side : {"left", "right"}
    nerve : {"V", "VII", "VIII", "IX"}
        The nerve whose centreline is nearest.
    distance_to_nerve_mm : float
        From the point to that centreline.
    distance_from_brainstem_mm : float or None
        Along the nerve from the RDP (negative on the attached segment); None without an RDP.
    segment : {"attached", "RDP", "TZ", "cisternal", "meatal"}
        ``"cisternal"`` when the distance is unknown.
    vessel : str
        Nearest vessel within the search radius (findings vocabulary), else ``"unknown"``.
    vessel_kind : {"artery", "vein", "unknown"}
    distance_to_vessel_mm : float or None
    crossing_angle_deg : float or None
        Angle between the nerve and vessel centrelines at their closest points, 0..90.
    """

    side: str
    nerve: str
    distance_to_nerve_mm: float
    distance_from_brainstem_mm: float | None
    segment: str
    vessel: str = "unknown"
    vessel_kind: str = "unknown"
    distance_to_vessel_mm: float | None = None
    crossing_angle_deg: float | None = None


def _nerve_lines(
    centrelines: Mapping[str, np.ndarray], landmarks: Sequence[Landmark]
) -> dict[tuple[str, str], tuple[np.ndarray, bool]]:
    """Polyline of every known nerve: ``(nerve, side) -> (points, from_landmarks)``."""
    lines: dict[tuple[str, str], tuple[np.ndarray, bool]] = {}
    for key, points in centrelines.items():
        parsed = nerve_key(key)
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        if parsed is not None and len(points):
            lines[parsed] = (points, False)
    order = {name: n for n, name in enumerate(LANDMARK_NAMES)}
    grouped: dict[tuple[str, str], list[Landmark]] = {}
    for lm in landmarks:
        grouped.setdefault((lm.nerve, lm.side), []).append(lm)
    for nerve_side, lms in grouped.items():
        if nerve_side in lines or len(lms) < 2:
            continue
        pts = np.array([lm.position_ras for lm in sorted(lms, key=lambda x: order[x.name])])
        # Extend past the last landmark (to the porus and beyond) along the last direction.
        step = pts[-1] - pts[-2]
        norm = float(np.linalg.norm(step))
        if norm > 1e-9:
            pts = np.vstack([pts, pts[-1] + step / norm * 2 * max(PORUS_FROM_RDP_MM.values())])
        lines[nerve_side] = (pts, True)
    return lines


def polyline_distance(
    points: np.ndarray, polyline: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`nvc_viewer.segment.centreline.polyline_distance`, imported on first use: that module
    loads scipy.ndimage and scikit-image, which opening a case does not need."""
    from .segment.centreline import polyline_distance as distance

    return distance(points, polyline)


def _arclength_of(point: np.ndarray, polyline: np.ndarray) -> float:
    _, s, _ = polyline_distance(point[None], polyline)
    return float(s[0])


def _tangent_at(polyline: np.ndarray, s: float) -> np.ndarray | None:
    if len(polyline) < 2:
        return None
    seg = np.linalg.norm(np.diff(polyline, axis=0), axis=1)
    s_cum = np.concatenate([[0.0], np.cumsum(seg)])
    i = int(np.clip(np.searchsorted(s_cum, s) - 1, 0, len(polyline) - 2))
    # The chord over about 1 mm on each side: robust to a staircase centreline.
    lo = int(np.clip(np.searchsorted(s_cum, s_cum[i] - 1.0), 0, len(polyline) - 1))
    hi = int(np.clip(np.searchsorted(s_cum, s_cum[i + 1] + 1.0), 0, len(polyline) - 1))
    d = polyline[hi] - polyline[lo]
    norm = float(np.linalg.norm(d))
    return d / norm if norm > 1e-9 else None


def describe_point(
    position_ras: Sequence[float] | np.ndarray,
    centrelines: Mapping[str, np.ndarray],
    landmarks: Sequence[Landmark] = (),
    *,
    vessel_search_mm: float = 4.0,
    tz_from_rdp_mm: Mapping[str, float] = TZ_FROM_RDP_MM,
    porus_from_rdp_mm: Mapping[str, float] = PORUS_FROM_RDP_MM,
) -> PointDescription:
    """Measure where a hand-placed point lies on the nearest nerve, and which vessel is near.

    Parameters
    ----------
    position_ras : (3,) array_like
        The point, patient RAS mm.
    centrelines : mapping of str to (N, 3) array_like
        Centrelines in patient RAS mm. Nerve keys are ``"<nerve>_<side>"`` (``"VII_left"``);
        every other key is a vessel (``"AICA_left"``, ``"BA"``, ``"vein_sp_right"`` ...). A
        nerve centreline runs from the brainstem outward unless its landmarks say otherwise.
    landmarks : sequence of Landmark, optional
        RExP / RDP / TZ per nerve and side. The RDP is the zero of the distance along the nerve;
        the TZ sets the RDP/TZ segment boundaries (else `TZ_FROM_RDP_MM`). A nerve without a
        centreline but with two or more landmarks is approximated by their polyline.
    vessel_search_mm : float, optional
        Largest distance (mm) from the point to a vessel centreline for that vessel to be named.
    tz_from_rdp_mm, porus_from_rdp_mm : mapping of str to float, optional
        Per nerve, mm from the RDP, when no TZ landmark is known / where the cisternal course
        ends.

    Returns
    -------
    PointDescription

    Raises
    ------
    InvalidFindingError
        If ``position_ras`` is not 3 finite numbers, or no nerve is known (no nerve
        centreline and fewer than two landmarks of any nerve).
    """
    point = np.asarray(position_ras, dtype=np.float64)
    if point.shape != (3,) or not np.all(np.isfinite(point)):
        raise InvalidFindingError(
            f"position_ras must be 3 finite numbers (x, y, z) in RAS mm; got {position_ras!r}"
        )
    lines = _nerve_lines(centrelines, landmarks)
    if not lines:
        raise InvalidFindingError(
            "no nerve is known for this case (no nerve centreline, fewer than two landmarks "
            "per nerve): run the analysis first, or set side and nerve by hand"
        )
    best: tuple[float, tuple[str, str]] | None = None
    for nerve_side, (pts, _) in lines.items():
        dist, _, _ = polyline_distance(point[None], pts)
        if best is None or float(dist[0]) < best[0]:
            best = (float(dist[0]), nerve_side)
    assert best is not None
    distance_to_nerve, (nerve, side) = best
    polyline = lines[(nerve, side)][0]
    s_point = _arclength_of(point, polyline)
    marks = {
        lm.name: _arclength_of(np.asarray(lm.position_ras), polyline)
        for lm in landmarks
        if lm.nerve == nerve and lm.side == side
    }
    distance: float | None = None
    segment = "cisternal"
    if "RDP" in marks:
        s_rdp = marks["RDP"]
        # Which way is "outward" along the stored polyline.
        if "RExP" in marks and abs(marks["RExP"] - s_rdp) > 1e-6:
            sign = 1.0 if marks["RExP"] < s_rdp else -1.0
        elif "TZ" in marks and abs(marks["TZ"] - s_rdp) > 1e-6:
            sign = 1.0 if marks["TZ"] > s_rdp else -1.0
        else:
            sign = 1.0
        distance = sign * (s_point - s_rdp)
        tz = abs(marks["TZ"] - s_rdp) if "TZ" in marks else 0.0
        if tz <= 1e-6:
            tz = float(tz_from_rdp_mm.get(nerve, TZ_FROM_RDP_MM["VII"]))
        porus = float(porus_from_rdp_mm.get(nerve, PORUS_FROM_RDP_MM["VII"]))
        segment = segment_name(distance, tz, porus)

    vessel, kind, vessel_distance, angle = "unknown", "unknown", None, None
    nearest: tuple[float, str, float] | None = None
    for key, pts in centrelines.items():
        if nerve_key(key) is not None:
            continue
        pts = np.asarray(pts, dtype=np.float64).reshape(-1, 3)
        if not len(pts):
            continue
        dist, s_v, _ = polyline_distance(point[None], pts)
        if nearest is None or float(dist[0]) < nearest[0]:
            nearest = (float(dist[0]), key, float(s_v[0]))
    if nearest is not None and nearest[0] <= vessel_search_mm:
        vessel_distance = nearest[0]
        vessel, kind = vessel_of_key(nearest[1])
        t_nerve = _tangent_at(polyline, s_point)
        t_vessel = _tangent_at(np.asarray(centrelines[nearest[1]], dtype=np.float64), nearest[2])
        if t_nerve is not None and t_vessel is not None:
            cos = abs(float(np.dot(t_nerve, t_vessel)))
            angle = float(np.degrees(np.arccos(np.clip(cos, 0.0, 1.0))))
    return PointDescription(
        side=side,
        nerve=nerve,
        distance_to_nerve_mm=distance_to_nerve,
        distance_from_brainstem_mm=distance,
        segment=segment,
        vessel=vessel,
        vessel_kind=kind,
        distance_to_vessel_mm=vessel_distance,
        crossing_angle_deg=angle,
    )


def volume_from_display(data: np.ndarray, grid: DisplayGrid, like: Volume) -> Volume:
    """Put a display-ordered array (e.g. a label map painted in the viewer) back on a grid.

    Undoes the flips and transposes of `nvc_viewer.geometry.to_display` exactly (no
    interpolation).

    Parameters
    ----------
    data : (S, P, L) ndarray
        Display-ordered voxels, shape ``grid.shape``.
    grid : DisplayGrid
        The display grid of ``like`` (``to_display(like)[1]``).
    like : Volume
        The volume whose voxel grid the result takes (the T2 reference).

    Returns
    -------
    Volume
        ``data`` in ``like``'s ``[i, j, k]`` order with ``like``'s affine; role ``"label"``.

    Raises
    ------
    InvalidVolumeError
        If ``data``'s shape is not ``grid.shape`` or ``grid`` is not ``like``'s display grid.
    """
    data = np.asarray(data)
    if tuple(data.shape) != tuple(grid.shape):
        raise InvalidVolumeError(
            f"display array has shape {data.shape}; the display grid has {tuple(grid.shape)}"
        )
    source_axes = [0, 0, 0]  # display axis shown on each source axis
    for display_axis, src_axis in enumerate(grid.permutation):
        source_axes[src_axis] = display_axis
    out = np.transpose(data, source_axes)
    flips = tuple(a for a in range(3) if grid.flips[source_axes[a]])
    if flips:
        out = np.flip(out, axis=flips)
    out = np.ascontiguousarray(out)
    if out.shape != like.shape:
        raise InvalidVolumeError(
            f"display grid of shape {tuple(grid.shape)} does not belong to a volume of shape "
            f"{like.shape}"
        )
    result = like.with_data(out, role="label", description="labels")
    # The round trip must land on like's affine; a grid from another volume would not.
    _, own = to_display(result)
    if not np.allclose(own.affine_ras, grid.affine_ras, atol=1e-6):
        raise InvalidVolumeError("the display grid does not belong to the given volume")
    return result
