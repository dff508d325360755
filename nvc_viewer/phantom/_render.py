"""Partial-volume rendering of a scene of signed-distance solids onto a voxel grid.

Design note
-----------
A scene is a list of `Structure` in increasing priority: where solids overlap, the higher one
is what the point is made of (a vessel beats a nerve beats the brainstem beats CSF ...). The grid
is processed in slabs of ``k`` slices, on two threads (numpy and the k-d tree release the GIL).

Per slab, every structure's distance is computed at the voxel centres over its bounding box
only. A voxel is *pure* when no structure of higher priority than the one that fully holds it
has its surface within half a voxel diagonal of the centre; its value is that material's. Every
other voxel is *mixed*: its ``S**3`` sub-voxel samples (``S = supersample``) are classified with
the exact inside tests of the structures that pass through it, and the voxel takes the average
of its samples -- analytic partial volume. Where the only surface crossing a voxel belongs to a
structure marked ``smooth`` (large solids whose radius of curvature is many voxels: cisterns,
cerebellum, bone, the head's layers) the voxel's fraction is computed exactly for the tangent
plane (`box_fraction`, the limit of infinite sub-sampling of a flat surface) instead, which keeps a
512 x 512 field of view cheap; any voxel crossed by a fine structure (brainstem, nerves, vessels,
IAM, fourth ventricle) or by two surfaces is sub-sampled. Labels come from the same samples: the
label with most samples (so any label covering more than half the voxel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._shapes import Shape, Tube

__all__ = ["Structure", "render"]

Texture = Callable[[np.ndarray], np.ndarray]


@dataclass
class Structure:
    """One solid of the scene.

    Attributes
    ----------
    name : str
    shape : Shape
    label : int
        Label value (docs/design.md, section 3) of the points inside.
    smooth : bool
        A large solid: voxels crossed by its surface alone use the plane formula instead of
        sub-samples.
    """

    name: str
    shape: Shape
    label: int
    smooth: bool = False


def _sub_offsets(supersample: int) -> np.ndarray:
    """Sub-voxel sample offsets ``(S**3, 3)`` in voxel units, centred on the voxel."""
    c = (np.arange(supersample) + 0.5) / supersample - 0.5
    g = np.stack(np.meshgrid(c, c, c, indexing="ij"), axis=-1)
    return g.reshape(-1, 3)


def render(
    structures: Sequence[Structure],
    textures: Sequence[Texture],
    shape: tuple[int, int, int],
    vox_to_local: np.ndarray,
    *,
    supersample: int = 8,
    background: Texture | None = None,
    modulate: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    labels: bool = False,
    threads: int = 2,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Render ``structures`` onto a grid.

    Parameters
    ----------
    structures : sequence of Structure
        In increasing priority.
    textures : sequence of callables
        One per structure: ``f(points (N, 3) float32, local mm) -> (N,) float32`` intensity.
    shape : (I, J, K)
    vox_to_local : (4, 4) ndarray
        Voxel index -> local frame mm.
    supersample : int
        Sub-samples per axis in mixed voxels.
    background : callable, optional
        Texture of points inside no structure (default 0).
    modulate : callable, optional
        ``f(points, values) -> values`` applied to every slab (bias field, banding).
    labels : bool
        Also return the label map (uint8).
    threads : int
        Worker threads.

    Returns
    -------
    image : (I, J, K) float32
    label_map : (I, J, K) uint8 or None
    """
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    if len(textures) != len(structures):
        raise ValueError("one texture per structure is needed")
    vox_to_local = np.asarray(vox_to_local, dtype=np.float64)
    local_to_vox = np.linalg.inv(vox_to_local)
    spacing = np.linalg.norm(vox_to_local[:3, :3], axis=0)
    half_diag = 0.5 * float(np.sqrt(np.sum(spacing**2)))
    ramp_width = float(np.mean(spacing))
    image = np.zeros(shape, dtype=np.float32)
    label_map = np.zeros(shape, dtype=np.uint8) if labels else None
    # Voxel-index boxes of the structures (inclusive low, exclusive high), clipped to the grid.
    boxes = []
    for st in structures:
        low, high = st.shape.bounds()
        corners = np.array(
            [
                [x, y, z]
                for x in (low[0], high[0])
                for y in (low[1], high[1])
                for z in (low[2], high[2])
            ]
        )
        corners = np.clip(corners, -1e5, 1e5)
        ijk = corners @ local_to_vox[:3, :3].T + local_to_vox[:3, 3]
        lo = np.floor(ijk.min(axis=0) - 1).astype(np.int64)
        hi = np.ceil(ijk.max(axis=0) + 2).astype(np.int64)
        boxes.append((np.clip(lo, 0, shape), np.clip(hi, 0, shape)))
    texture_list = [background or _zero] + list(textures)
    label_lut = np.array([0] + [st.label for st in structures], dtype=np.uint8)
    offsets = _sub_offsets(supersample) @ vox_to_local[:3, :3].T
    job = _SlabJob(
        structures,
        boxes,
        texture_list,
        label_lut,
        shape,
        vox_to_local,
        half_diag,
        ramp_width,
        offsets.astype(np.float32),
        modulate,
        image,
        label_map,
    )
    # About 1.5 M voxels per slab.
    per_slice = shape[0] * shape[1]
    depth = max(1, min(shape[2], int(1_500_000 // max(per_slice, 1))))
    starts = list(range(0, shape[2], depth))
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda k0: job(k0, min(k0 + depth, shape[2])), starts))
    else:
        for k0 in starts:
            job(k0, min(k0 + depth, shape[2]))
    return image, label_map


def _zero(points: np.ndarray) -> np.ndarray:
    return np.zeros(len(points), dtype=np.float32)


_zero.value = 0.0  # type: ignore[attr-defined]


class _SlabJob:
    def __init__(
        self,
        structures,
        boxes,
        textures,
        label_lut,
        shape,
        vox_to_local,
        half_diag,
        ramp_width,
        offsets,
        modulate,
        image,
        label_map,
    ) -> None:
        self.structures = structures
        self.boxes = boxes
        self.textures = textures
        self.label_lut = label_lut
        self.shape = shape
        self.vox_to_local = vox_to_local
        self.half_diag = half_diag
        self.ramp_width = ramp_width
        self.offsets = offsets
        self.modulate = modulate
        self.image = image
        self.label_map = label_map
        self.n_mat = len(structures) + 1
        values = [getattr(t, "value", None) for t in textures]
        self.is_textured = np.array([v is None for v in values])
        self.constant_lut = np.array([0.0 if v is None else v for v in values], dtype=np.float32)

    def centres(self, k0: int, k1: int) -> np.ndarray:
        ni, nj = self.shape[0], self.shape[1]
        i = np.arange(ni, dtype=np.float32)[:, None, None]
        j = np.arange(nj, dtype=np.float32)[None, :, None]
        k = np.arange(k0, k1, dtype=np.float32)[None, None, :]
        a = self.vox_to_local.astype(np.float32)
        out = np.empty((ni, nj, k1 - k0, 3), dtype=np.float32)
        for axis in range(3):
            out[..., axis] = a[axis, 0] * i + a[axis, 1] * j + (a[axis, 2] * k + a[axis, 3])
        return out.reshape(-1, 3)

    def __call__(self, k0: int, k1: int) -> None:
        ni, nj = self.shape[0], self.shape[1]
        nk = k1 - k0
        pts = self.centres(k0, k1)
        n = len(pts)
        full = np.zeros(n, dtype=np.uint8)
        pair_vox, pair_sid, pair_hint, pair_sd = [], [], [], []
        for sid0, (st, (lo, hi)) in enumerate(zip(self.structures, self.boxes)):
            sid = sid0 + 1
            blo, bhi = max(lo[2], k0), min(hi[2], k1)
            if blo >= bhi or lo[0] >= hi[0] or lo[1] >= hi[1]:
                continue
            if (
                lo[0] == 0
                and lo[1] == 0
                and hi[0] == ni
                and hi[1] == nj
                and blo == k0
                and bhi == k1
            ):
                idx = np.arange(n)  # the whole slab: no gather
                p = pts
            else:
                ii = np.arange(lo[0], hi[0])
                jj = np.arange(lo[1], hi[1])
                kk = np.arange(blo, bhi) - k0
                idx = (
                    (ii[:, None, None] * nj + jj[None, :, None]) * nk + kk[None, None, :]
                ).ravel()
                p = pts[idx]
            margin = self.half_diag * (1.0 if st.shape.exact else 1.3) + 1e-3
            if isinstance(st.shape, Tube):
                dist, hint = st.shape.nearest(p, st.shape.r_max + margin + 1e-3)
                ok = hint < len(st.shape.points)
                sd = np.full(len(p), np.inf, dtype=np.float32)
                sd[ok] = dist[ok] - st.shape.radii[hint[ok]]
                hint = np.where(ok, hint, 0)
            else:
                sd = st.shape.banded_sdf(p, margin)
                hint = None
            inner = sd < -margin
            full[idx[inner]] = sid
            act = np.abs(sd) <= margin
            if np.any(act):
                pair_vox.append(idx[act])
                pair_sid.append(np.full(int(act.sum()), sid, dtype=np.int32))
                pair_hint.append(
                    hint[act] if hint is not None else np.zeros(int(act.sum()), dtype=np.int64)
                )
                pair_sd.append(sd[act].astype(np.float32))
        values = np.zeros(n, dtype=np.float32)
        labels = self.label_lut[full] if self.label_map is not None else None
        mixed = np.zeros(n, dtype=bool)
        if pair_vox:
            vox = np.concatenate(pair_vox)
            sids = np.concatenate(pair_sid)
            hints = np.concatenate(pair_hint)
            sds = np.concatenate(pair_sd)
            relevant = sids > full[vox]
            vox, sids, hints, sds = vox[relevant], sids[relevant], hints[relevant], sds[relevant]
            if len(vox):
                # Sub-samples wherever a fine structure or two surfaces pass through a voxel;
                # the exact plane formula where a single smooth surface does.
                smooth_sid = np.array([False] + [st.smooth for st in self.structures])
                needs_sub = np.zeros(n, dtype=bool)
                needs_sub[vox[~smooth_sid[sids]]] = True
                needs_sub |= np.bincount(vox, minlength=n) > 1
                sub_pairs = needs_sub[vox]
                self._supersample(
                    pts, full, vox[sub_pairs], sids[sub_pairs], hints[sub_pairs], values, labels
                )
                mixed |= needs_sub
                plane_pairs = ~sub_pairs
                if np.any(plane_pairs):
                    self._planar(
                        pts,
                        full,
                        vox[plane_pairs],
                        sids[plane_pairs],
                        sds[plane_pairs],
                        values,
                        labels,
                    )
                    mixed[vox[plane_pairs]] = True
        pure = ~mixed
        # Pure voxels: materials of constant intensity by one table look-up, the others
        # (textured) one by one.
        pure_values = self.constant_lut[full]
        values = np.where(pure, pure_values, values)
        textured = pure & self.is_textured[full]
        if np.any(textured):
            t_idx = np.flatnonzero(textured)
            t_mat = full[t_idx]
            for m in np.unique(t_mat):
                sel = t_idx[t_mat == m]
                values[sel] = self.textures[m](pts[sel])
        if self.modulate is not None:
            values = self.modulate(pts, values)
        self.image[:, :, k0:k1] = values.reshape(ni, nj, nk)
        if self.label_map is not None and labels is not None:  # both or neither
            self.label_map[:, :, k0:k1] = labels.reshape(ni, nj, nk)

    def _supersample(self, pts, full, vox, sids, hints, values, labels) -> None:
        if len(vox) == 0:
            return
        order = np.argsort(vox, kind="stable")
        vox, sids, hints = vox[order], sids[order], hints[order]
        uniq, row_of_pair = np.unique(vox, return_inverse=True)
        s3 = len(self.offsets)
        chunk = max(1, 1_000_000 // s3)
        lut = self.label_lut
        n_lab = int(lut.max()) + 1
        onehot = np.zeros((self.n_mat, n_lab), dtype=np.float32)
        onehot[np.arange(self.n_mat), lut] = 1.0
        for c0 in range(0, len(uniq), chunk):
            c1 = min(c0 + chunk, len(uniq))
            rows_vox = uniq[c0:c1]
            sub = np.repeat(full[rows_vox][:, None], s3, axis=1)
            psel = (row_of_pair >= c0) & (row_of_pair < c1)
            p_rows = row_of_pair[psel] - c0
            p_sids = sids[psel]
            p_hints = hints[psel]
            for sid in np.unique(p_sids):
                m = p_sids == sid
                rows = p_rows[m]
                st = self.structures[sid - 1]
                centres = pts[rows_vox[rows]]
                hint = p_hints[m] if isinstance(st.shape, Tube) else None
                inside = st.shape.inside_offsets(centres, self.offsets, hint)
                # Structures come in increasing priority: a later one covers an earlier one.
                sub[rows] = np.where(inside, np.uint8(sid), sub[rows])
            counts = np.zeros((c1 - c0, self.n_mat), dtype=np.float32)
            present = np.flatnonzero(np.bincount(sub.ravel(), minlength=self.n_mat))
            for m in present:
                counts[:, m] = np.count_nonzero(sub == m, axis=1)
            counts /= s3
            centre = pts[rows_vox]
            val = np.zeros(c1 - c0, dtype=np.float32)
            for m in np.flatnonzero(counts.sum(axis=0)):
                r = counts[:, m] > 0
                val[r] += counts[r, m] * self.textures[m](centre[r])
            values[rows_vox] = val
            if labels is not None:
                labels[rows_vox] = np.argmax(counts @ onehot, axis=1).astype(np.uint8)

    def _planar(self, pts, full, vox, sids, sds, values, labels) -> None:
        """Voxels crossed by a single smooth surface: the exact fraction of the voxel box on the
        inside of the tangent plane (the limit of infinite sub-sampling for a flat surface)."""
        axes = self.vox_to_local[:3, :3]
        spacing = np.linalg.norm(axes, axis=0)
        rotation = axes / spacing
        for sid in np.unique(sids):
            m = sids == sid
            v = vox[m]
            normal = self.structures[sid - 1].shape.normals(pts[v].astype(np.float64))
            frac = box_fraction(-sds[m].astype(np.float64), normal @ rotation, spacing)
            frac = frac.astype(np.float32)
            base = full[v]
            below = np.zeros(len(v), dtype=np.float32)
            for mat in np.unique(base):
                r = base == mat
                below[r] = self.textures[mat](pts[v[r]])
            values[v] = frac * self.textures[sid](pts[v]) + (1.0 - frac) * below
            if labels is not None:
                labels[v] = np.where(frac >= 0.5, self.label_lut[sid], self.label_lut[base])


def box_fraction(depth: np.ndarray, normal: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Fraction of a voxel box on the inside of a plane.

    Parameters
    ----------
    depth : (N,) ndarray
        How far (mm) the voxel centre lies inside the plane (minus the signed distance).
    normal : (N, 3) ndarray
        Outward unit normal of the plane in the voxel's axes.
    spacing : (3,) ndarray
        Voxel size (mm).

    Returns
    -------
    (N,) ndarray
        In [0, 1]. The volume of ``{x in box : normal . x <= depth}`` (box centred at 0) is a
        piecewise cubic: the distribution function of a sum of three uniform variables.
    """
    # Components near zero make the closed form ill-conditioned: tilt by at most ~1 degree.
    m = np.maximum(np.abs(normal), 0.02)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    w = m * (np.asarray(spacing)[None, :])  # widths of the three uniform terms
    total = depth + 0.5 * w.sum(axis=1)
    vol = np.zeros(len(depth))
    for cx in (0, 1):
        for cy in (0, 1):
            for cz in (0, 1):
                shift = cx * w[:, 0] + cy * w[:, 1] + cz * w[:, 2]
                sign = -1.0 if (cx + cy + cz) % 2 else 1.0
                vol += sign * np.maximum(total - shift, 0.0) ** 3
    frac = vol / (6.0 * w[:, 0] * w[:, 1] * w[:, 2])
    return np.clip(frac, 0.0, 1.0)
