"""Seeded local refinement: the surgeon clicks, the analysis is redone in a small box.

Design note
-----------
A click says either "a nerve runs here" (the automatic track missed it or strayed) or "this is
a vessel" (a nerve track went through it). The box around the click is re-analysed with the
levels, brainstem frame and TOF alignment of the full run, and the previous nerve tracks are
carried over into it:

- ``kind="nerve"``: the nearest previous track of that side (within 5 mm) is re-routed through
  the click between the points where it enters and leaves the box; without one, a new track is
  traced from the click to the brainstem and outward. A track far from any known one is named
  by height: above the facial root exit by more than 6 mm it is V, otherwise VII.
- ``kind="vessel"``: the dark tube at the click becomes a vessel; every track passing through it
  is re-routed around it inside the box.

Only the box changes: labels outside it, and the findings and landmarks of the other nerves,
stay as they were.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage

from . import centreline as cl
from .crop import Box
from .masks import dilate_mm
from .nerves import NERVE_RADIUS_MM, NerveTrack, tracking_costs
from .paths import cheapest_path, cost_from_strength, extend_tube
from .roots import STEP_MM, centreline_from_path, distance_to_surface, find_rdp, surface_tree
from .scene import Scene

__all__ = ["refine_scene"]

_SCALE = {"VII": 0.4, "VIII": 0.75, "V": 1.0}


def _carry_tracks(scene: Scene, prev: Scene | None) -> dict[str, NerveTrack]:
    """The previous run's tracks, in the new scene's voxel frame."""
    out: dict[str, NerveTrack] = {}
    if prev is None:
        return out
    for key, t in prev.nerves.items():
        pts = scene.to_ijk(prev.to_ras(t.points))
        out[key] = NerveTrack(
            t.name, t.side, pts, t.radius_mm.copy(), t.i_rexp, t.i_rdp, t.confidence, t.s_mm.copy()
        )
    return out


def _inside(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.all((points >= 0) & (points <= np.asarray(shape) - 1), axis=1)


def _stitch(scene: Scene, old: NerveTrack, local: np.ndarray, exclude: np.ndarray) -> NerveTrack:
    """Replace the part of ``old`` inside the box by the voxel path ``local``."""
    sp = scene.spacing
    inside = _inside(old.points, scene.shape)
    idx = np.flatnonzero(inside)
    before = old.points[: idx[0]] if idx.size else old.points
    after = old.points[idx[-1] + 1 :] if idx.size else np.zeros((0, 3))
    pts_local, r_local = centreline_from_path(scene, local, NERVE_RADIUS_MM[old.name], exclude)
    pts = np.vstack([before, pts_local, after])
    r_med = float(np.median(old.radius_mm))
    mm = cl.resample(pts * sp, STEP_MM)
    pts = mm / sp
    s = cl.arclength(mm)
    # keep the previous RDP where it was unless it lay in the box
    rdp_ras = old.points[old.i_rdp]
    i_rdp = int(np.argmin(np.linalg.norm((pts - rdp_ras) * sp, axis=1)))
    if inside[old.i_rdp] and old.name == "VII":
        tree = surface_tree(scene.masks.brainstem, sp)
        dist = distance_to_surface(pts, scene.masks.brainstem, sp, tree)
        in_box = _inside(pts, scene.shape)
        dist[~in_box] = 10.0
        i_rdp = find_rdp(dist, s, r_med)
    radius = np.full(len(pts), r_med)
    if len(r_local):
        near = np.interp(np.arange(len(pts)), [0, len(pts) - 1], [0, len(r_local) - 1])
        radius = np.where(
            _inside(pts, scene.shape),
            np.asarray(r_local)[np.clip(near.astype(int), 0, len(r_local) - 1)],
            r_med,
        )
    return NerveTrack(old.name, old.side, pts, radius, 0, i_rdp, old.confidence, s)


def _route(scene: Scene, cost: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    return cheapest_path(cost, a[None].astype(int), b[None].astype(int), scene.spacing)


def refine_scene(
    scene: Scene, prev: Scene | None, result: Any, seed_ras: np.ndarray, kind: str
) -> tuple[list[str], np.ndarray | None]:
    """Redo the nerves of a small scene around a click (see the module note).

    Parameters
    ----------
    scene : Scene
        The box around the click, masks built, TOF aligned.
    prev : Scene or None
        The full run's scene (its tracks are carried over).
    result : AnalysisResult
        The full run's result.
    seed_ras : (3,) ndarray
        The click, RAS mm.
    kind : {"nerve", "vessel"}

    Returns
    -------
    changed : list of str
        Keys of the nerves whose course changed.
    forced_vessel : (I, J, K) bool ndarray or None
        Voxels the surgeon declared a vessel.
    """
    sp = scene.spacing
    tracks = _carry_tracks(scene, prev)
    seed = scene.to_ijk(seed_ras)
    seed_v = np.clip(np.rint(seed).astype(int), 0, np.array(scene.shape) - 1)
    x_mid = float(scene.frame.midline_x(seed_ras[2]))
    side = "right" if seed_ras[0] > x_mid else "left"
    costs = tracking_costs(scene)
    scene.costs = costs
    changed: list[str] = []
    forced = None
    if kind == "vessel":
        dark = scene.masks.dark | (scene.norm < 0.62) & scene.masks.cistern & ~scene.masks.brainstem
        near = Box.around(seed, 3.0, sp, scene.shape)
        local = np.zeros(scene.shape, bool)
        local[near.slices] = dark[near.slices]
        lab, _ = ndimage.label(local, structure=np.ones((3, 3, 3)))
        pts = np.argwhere(lab > 0)
        if len(pts):
            j = int(np.argmin(np.linalg.norm((pts - seed) * sp, axis=1)))
            forced = lab == lab[tuple(pts[j])]
        if forced is not None:
            block = dilate_mm(forced, 0.3, sp)
            for key, t in tracks.items():
                ij = np.clip(np.rint(t.points).astype(int), 0, np.array(scene.shape) - 1)
                ins = _inside(t.points, scene.shape)
                if not (ins & block[tuple(ij.T)]).any():
                    continue
                idx = np.flatnonzero(ins)
                cost = cost_from_strength(costs.small if t.name == "VII" else costs.large, 0.2)
                cost = cost * costs.penalty
                cost[~costs.cand | block] = np.inf
                a, b = t.points[idx[0]], t.points[idx[-1]]
                for p in (a, b):
                    cost[tuple(np.clip(np.rint(p).astype(int), 0, np.array(scene.shape) - 1))] = 1.0
                path = _route(scene, cost, np.rint(a), np.rint(b))
                if path is None:
                    continue
                tracks[key] = _stitch(scene, t, path, block)
                changed.append(key)
    else:
        cands = []
        for key, t in tracks.items():
            if t.side != side or len(t.points) == 0:
                continue
            d = float(np.min(np.linalg.norm((t.points - seed) * sp, axis=1)))
            cands.append((d, key))
        cands.sort()
        if cands and cands[0][0] <= 5.0:
            key = cands[0][1]
            t = tracks[key]
            cost = cost_from_strength(costs.at_scale(_SCALE[t.name]), 0.2) * costs.penalty
            cost[~(costs.cand | dilate_mm(_point(seed_v, scene.shape), 0.6, sp))] = np.inf
            cost[tuple(seed_v)] = 1.0
            ins = np.flatnonzero(_inside(t.points, scene.shape))
            if ins.size >= 2:
                a = np.rint(t.points[ins[0]]).astype(int)
                b = np.rint(t.points[ins[-1]]).astype(int)
                cost[tuple(a)] = cost[tuple(b)] = 1.0
                p1 = _route(scene, cost, a, seed_v)
                p2 = _route(scene, cost, seed_v, b)
                if p1 is not None and p2 is not None:
                    tracks[key] = _stitch(scene, t, np.vstack([p1, p2[1:]]), costs.arteries)
                    changed.append(key)
        else:
            vii = tracks.get(f"VII_{side}")
            name = "VII"
            if vii is not None:
                z_exit = float(scene.to_ras(vii.points[0])[2])
                if seed_ras[2] > z_exit + 6.0:
                    name = "V"
            cost = cost_from_strength(costs.at_scale(_SCALE[name]), 0.2) * costs.penalty
            cost[~costs.cand] = np.inf
            cost[tuple(seed_v)] = 1.0
            inward = cheapest_path(cost, seed_v[None], np.argwhere(costs.shell & costs.cand), sp)
            outward = extend_tube(cost, seed_v, sp, max_mean_cost=8.0)
            parts = []
            if inward is not None:
                parts.append(inward[::-1])
            if outward is not None:
                parts.append(outward[1:] if parts else outward)
            if parts:
                path = np.vstack(parts)
                pts, r = centreline_from_path(scene, path, NERVE_RADIUS_MM[name], costs.arteries)
                s = cl.arclength(pts * sp)
                dist = distance_to_surface(pts, scene.masks.brainstem, sp)
                i_rdp = find_rdp(dist, s, NERVE_RADIUS_MM[name]) if name == "VII" else 0
                key = f"{name}_{side}"
                tracks[key] = NerveTrack(name, side, pts, r, 0, i_rdp, 0.6, s)
                changed.append(key)
    scene.nerves = tracks
    return changed, forced


def _point(ijk: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    m = np.zeros(shape, bool)
    m[tuple(ijk)] = True
    return m
