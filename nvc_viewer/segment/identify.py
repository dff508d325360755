"""Which tracked root is which nerve, how sure that is, and why a nerve was not identified.

Design note
-----------
The trackers (`nerves`) find dark tubes that run from the brainstem to a porus; this module
checks their names against relations that hold in every patient, whatever the image contrast:

- VII and VIII leave together at the pontomedullary junction and cross the cistern side by
  side, out to the internal acoustic porus (more laterally than forward), VII anterior and
  superior to VIII, and VII is the thinner (about 1.2 against 2.1 mm). A root that runs
  forward more than out is not taken for either. Two roots that do not run beside each other
  (VII's free course more than `PAIR_APART_MM` from VIII, median) are not a pair: the one that
  reaches less far out towards the porus loses its name, the other is named alone.
  Each relation that holds adds to the pair's confidence; one that is contradicted lowers it
  (VII lying behind and below VIII leaves the names in doubt, whatever the calibres say); when
  both are contradicted the tracker's names are not trusted and neither root is named.
- V leaves the lateral pons well above the facial pair (8-12 mm on thin-slab CISS) and runs
  forward to Meckel's cave. A thick root is named V when the height of the facial pair is
  known (on its side or the other), it leaves at least `V_ABOVE_PAIR_MM` above it and its
  course has a forward component; with no facial pair in the slab, a thick root running
  forward is named V with low confidence. A thick root at the level of the pair is VIII, or
  VII and VIII together -- never V.

A root that is not named is kept in `Scene.unnamed`: its voxels are not offered to the vessel
classifier (a nerve must not become an artery because nobody could name it) and the label map
leaves them unlabelled. Every (side, nerve) gets a `nvc_viewer.findings.NerveIdentification`,
and every nerve not identified a plain-language case warning.
"""

from __future__ import annotations

import numpy as np

from ..findings import LandmarkNerve, Side
from ..findings import NerveIdentification as Identification
from .nerves import NerveTrack
from .scene import Scene

__all__ = ["identify_nerves", "V_ABOVE_PAIR_MM", "PAIR_APART_MM"]

#: V must leave the brainstem at least this far (mm, along S) above the facial pair's exit.
V_ABOVE_PAIR_MM = 4.0
#: Largest median distance (mm) from VII's free course to VIII for the two to be a pair: they
#: cross the cistern together, a few mm apart at most, into one porus.
PAIR_APART_MM = 5.0
#: Arclength (mm) of free course, past the root detachment, on which VII and VIII are compared.
_COMPARE_MM = 8.0
_SIDES: tuple[Side, Side] = ("left", "right")
_FACIAL_PAIR: tuple[LandmarkNerve, LandmarkNerve] = ("VII", "VIII")


def _ras(scene: Scene, track: NerveTrack) -> np.ndarray:
    return scene.to_ras(track.points)


def _free_course(track: NerveTrack, length_mm: float = _COMPARE_MM) -> np.ndarray:
    s = track.s_from_rdp()
    sel = (s >= 0.0) & (s <= length_mm)
    return sel if sel.sum() >= 3 else np.ones(len(s), bool)


def _pair_relations(scene: Scene, vii: NerveTrack, viii: NerveTrack) -> tuple[int, list[str], bool]:
    """+1 / -1 / 0 per relation (VII anterosuperior, VII thinner), the contradictions, and
    whether the root named VII lies behind and below the one named VIII."""
    p7 = _ras(scene, vii)[_free_course(vii)]
    p8 = _ras(scene, viii)
    nearest = p8[np.argmin(np.linalg.norm(p7[:, None, :] - p8[None, :, :], axis=2), axis=1)]
    d = p7 - nearest
    # anterior (+y) and superior (+z) together: in the meatus VII is anterosuperior
    antsup = float(np.median(d[:, 1] + d[:, 2]))
    r7 = float(np.median(vii.radius_mm[_free_course(vii)]))
    r8 = float(np.median(viii.radius_mm[_free_course(viii)]))
    votes = 0
    against: list[str] = []
    misplaced = antsup < -0.3
    if antsup > 0.3:
        votes += 1
    elif misplaced:
        votes -= 1
        against.append("the root named VII lies behind and below the one named VIII")
    if r7 < 0.9 * r8:
        votes += 1
    elif r7 > 1.1 * r8:
        votes -= 1
        against.append(
            f"the root named VII is not the thinner ({2 * r7:.1f} against {2 * r8:.1f} mm)"
        )
    return votes, against, misplaced


def _apart_mm(scene: Scene, vii: NerveTrack, viii: NerveTrack) -> float:
    """Median distance (mm) from VII's free course to the nearest point of VIII."""
    p7 = _ras(scene, vii)[_free_course(vii)]
    p8 = _ras(scene, viii)
    return float(np.median(np.linalg.norm(p7[:, None, :] - p8[None, :, :], axis=2).min(axis=1)))


def _reach_mm(scene: Scene, track: NerveTrack) -> float:
    """How far out from the midline (mm) a root reaches: towards its porus."""
    p = _ras(scene, track)
    return float(np.max(np.abs(p[:, 0] - scene.frame.midline_x(p[0, 2]))))


def _exit_z(scene: Scene, track: NerveTrack) -> float:
    return float(scene.to_ras(track.points[:1])[0, 2])


def _forward(scene: Scene, track: NerveTrack) -> bool:
    """Whether a root's course heads forward (V runs anterolaterally to Meckel's cave)."""
    p = _ras(scene, track)
    d = p[-1] - p[0]
    mid = scene.frame.midline_x(p[0, 2])
    lateral = abs(p[-1, 0] - mid) - abs(p[0, 0] - mid)
    return bool(d[1] > 0.3 * max(lateral, 0.0) and d[1] > 1.0)


def _lateral(scene: Scene, track: NerveTrack) -> bool:
    """Whether a root heads out more than forward (VII and VIII run to the porus laterally)."""
    p = _ras(scene, track)
    mid = scene.frame.midline_x(p[0, 2])
    lateral = abs(p[-1, 0] - mid) - abs(p[0, 0] - mid)
    return bool(lateral >= abs(p[-1, 1] - p[0, 1]))


def identify_nerves(scene: Scene) -> list[Identification]:
    """Check the names of ``scene.nerves`` against anatomy (see the module note).

    Tracks whose name does not hold are moved from ``scene.nerves`` to ``scene.unnamed``;
    the confidence of the others is set to their identification confidence.

    Returns
    -------
    list of NerveIdentification
        One per side and nerve (V, VII, VIII), in that order per side.
    """
    out: list[Identification] = []
    pair_z: dict[str, float] = {}
    found: dict[tuple[Side, LandmarkNerve], Identification] = {}
    reason: str | None
    for side in _SIDES:
        for name in _FACIAL_PAIR:
            t = scene.nerves.get(f"{name}_{side}")
            if t is not None and not _lateral(scene, t):
                # a root running forward rather than out to the porus is not VII or VIII
                _unname(scene, t)
        vii: NerveTrack | None = scene.nerves.get(f"VII_{side}")
        viii: NerveTrack | None = scene.nerves.get(f"VIII_{side}")
        if vii is not None and viii is not None and _apart_mm(scene, vii, viii) > PAIR_APART_MM:
            # not side by side: the root that stops short of the porus is not trusted
            if _reach_mm(scene, vii) < _reach_mm(scene, viii):
                _unname(scene, vii)
                vii = None
            else:
                _unname(scene, viii)
                viii = None
        if vii is not None and viii is not None:
            pair: tuple[tuple[NerveTrack, LandmarkNerve], ...] = ((vii, "VII"), (viii, "VIII"))
            votes, against, misplaced = _pair_relations(scene, vii, viii)
            if votes <= -2:
                reason = "; ".join(against) + ": the two roots cannot be told apart"
                for t, nerve in pair:
                    _unname(scene, t)
                    found[(side, nerve)] = Identification(side, nerve, False, 0.0, reason)
            else:
                conf = {2: 0.9, 1: 0.75, 0: 0.6}.get(votes, 0.4)
                if misplaced:
                    # VII anterosuperior to VIII holds in every patient; calibres are read off
                    # partial volume: against the first, the names are in doubt whatever the
                    # calibres say
                    conf = min(conf, 0.4)
                reason = "; ".join(against) or None
                if reason is None and votes < 2:
                    reason = (
                        "VII and VIII are side by side but their calibres or positions "
                        "are too close to confirm which is which"
                    )
                for t, nerve in pair:
                    t.confidence = conf
                    found[(side, nerve)] = Identification(side, nerve, True, conf, reason)
            pair_z[side] = min(_exit_z(scene, vii), _exit_z(scene, viii))
        elif vii is not None:
            pair_z[side] = _lone_root(scene, found, side, vii, "VII", "VIII")
        elif viii is not None:
            pair_z[side] = _lone_root(scene, found, side, viii, "VIII", "VII")
        else:
            for name in _FACIAL_PAIR:
                found[(side, name)] = Identification(
                    side,
                    name,
                    False,
                    0.0,
                    "no root runs from the pontomedullary junction to a porus",
                )
    for side in _SIDES:
        v: NerveTrack | None = scene.nerves.get(f"V_{side}")
        if v is None:
            found[(side, "V")] = Identification(
                side,
                "V",
                False,
                0.0,
                "no thick root leaves the pons above the facial nerve (the slab may not reach it)",
            )
            continue
        ref = pair_z.get(side, pair_z.get("right" if side == "left" else "left"))
        reason = None
        if ref is None:
            # nothing to place it against: a thick root running forward may be V, unsure
            if _forward(scene, v):
                v.confidence = 0.5
                found[(side, "V")] = Identification(
                    side,
                    "V",
                    True,
                    0.5,
                    "no facial nerve in the slab to place it against; named from its calibre "
                    "and forward course only",
                )
                continue
            reason = (
                "no facial-vestibulocochlear pair gives the pontomedullary level to "
                "place it against, and the thick root does not run forward"
            )
        elif _exit_z(scene, v) < ref + V_ABOVE_PAIR_MM:
            reason = "the thick root leaves the brainstem at the level of VII and VIII"
        elif not _forward(scene, v):
            reason = "the thick root does not run forward, as V does to Meckel's cave"
        if reason is not None:
            _unname(scene, v)
            found[(side, "V")] = Identification(side, "V", False, 0.0, reason)
        else:
            conf = 0.85 if side in pair_z else 0.65
            why = None if side in pair_z else "placed against the other side's facial nerve"
            v.confidence = conf
            found[(side, "V")] = Identification(side, "V", True, conf, why)
    for side in _SIDES:
        out += [found[(side, "V")], found[(side, "VII")], found[(side, "VIII")]]
    return out


def _lone_root(
    scene: Scene,
    found: dict[tuple[Side, LandmarkNerve], Identification],
    side: Side,
    t: NerveTrack,
    nerve: LandmarkNerve,
    other: LandmarkNerve,
) -> float:
    """Name a VII or VIII with no partner beside it (low confidence); its exit height."""
    t.confidence = 0.5
    found[(side, nerve)] = Identification(
        side,
        nerve,
        True,
        0.5,
        f"no {other} beside it to confirm the name: the root may be VII and VIII together",
    )
    found[(side, other)] = Identification(
        side, other, False, 0.0, f"no second root runs beside the {nerve} to the porus"
    )
    return _exit_z(scene, t)


def _unname(scene: Scene, track: NerveTrack) -> None:
    scene.nerves.pop(track.key, None)
    scene.unnamed.append(track)
