"""Root exit zone landmarks on a tracked nerve: RExP, RDP, TZ.

Vocabulary (docs/anatomy.md): the root exit point (RExP) is where the root leaves the brainstem; the
facial root then lies on the pons (the attached segment, about 10 mm) to the root detachment
point (RDP), where it leaves the surface; the transition zone (TZ) between central and
peripheral myelin lies 2.6 mm (1.6-3.5) beyond the RDP along the nerve. The trigeminal root
leaves the pons directly (RExP = RDP); its TZ distance is an assumption (default 2.0 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..findings import LandmarkName
from .nerves import NerveTrack
from .scene import Scene

__all__ = ["TZ_DISTANCE_MM", "LandmarkPoint", "landmarks_of", "rez_zone"]

#: RDP -> TZ distance along the nerve, mm (VII: published 2.6; V: *assumed*).
TZ_DISTANCE_MM = {"VII": 2.6, "V": 2.0, "VIII": 2.0}


@dataclass(frozen=True)
class LandmarkPoint:
    """A landmark before it becomes a `nvc_viewer.findings.Landmark`."""

    name: LandmarkName
    side: str
    nerve: str
    position_ras: tuple[float, float, float]
    index: int


def _at_arclength(track: NerveTrack, s_target: float) -> tuple[np.ndarray, int]:
    s = track.s_mm
    i = int(np.clip(np.searchsorted(s, s_target), 0, len(s) - 1))
    if i == 0 or s[i] == s[i - 1]:
        return track.points[i], i
    f = (s_target - s[i - 1]) / (s[i] - s[i - 1])
    return track.points[i - 1] + f * (track.points[i] - track.points[i - 1]), i


def landmarks_of(
    scene: Scene, track: NerveTrack, *, tz_mm: float | None = None
) -> list[LandmarkPoint]:
    """RExP, RDP and TZ of a tracked VII or V root (RAS mm).

    Parameters
    ----------
    scene : Scene
    track : NerveTrack
    tz_mm : float, optional
        RDP -> TZ distance along the nerve; default `TZ_DISTANCE_MM`.

    Returns
    -------
    list of LandmarkPoint
        Empty for VIII.
    """
    if track.name not in ("VII", "V") or len(track.points) < 2:
        return []
    tz = TZ_DISTANCE_MM[track.name] if tz_mm is None else float(tz_mm)
    i_rdp = track.i_rdp if track.name == "VII" else 0
    rexp = track.points[0]
    rdp = track.points[i_rdp]
    tz_pt, i_tz = _at_arclength(track, track.s_mm[i_rdp] + tz)

    def ras(p: np.ndarray) -> tuple[float, float, float]:
        x = scene.to_ras(p)
        return (float(x[0]), float(x[1]), float(x[2]))

    return [
        LandmarkPoint("RExP", track.side, track.name, ras(rexp), 0),
        LandmarkPoint("RDP", track.side, track.name, ras(rdp), i_rdp),
        LandmarkPoint("TZ", track.side, track.name, ras(tz_pt), i_tz),
    ]


def rez_zone(track: NerveTrack, *, beyond_rdp_mm: float = 4.0) -> tuple[int, int]:
    """Index range of the root exit zone: from the RExP to ``beyond_rdp_mm`` past the RDP.

    docs/anatomy.md: the facial nerve is vulnerable from its exit over the attached segment to about
    4 mm lateral to the RDP.
    """
    s_end = track.s_mm[track.i_rdp] + beyond_rdp_mm
    i_end = int(np.clip(np.searchsorted(track.s_mm, s_end), 0, len(track.s_mm) - 1))
    return 0, i_end
