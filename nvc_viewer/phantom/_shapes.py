"""Signed-distance shapes for the phantom: ellipsoids, half-spaces, tubes along 3-D curves.

Every shape answers ``sdf(points)``: a signed distance in mm (negative inside) at ``(N, 3)``
points in the phantom's local anatomical frame (RAS axes, origin on the brainstem axis at the
pontomedullary sulcus). Distances are exact for half-spaces and tubes and a close approximation
for ellipsoids (exact sign everywhere, error well under 0.1 mm within a voxel of the surface for
the radii used here); the renderer only needs the sign at sub-voxel samples and a distance good
enough to find the voxels a surface passes through.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = [
    "Shape",
    "Ellipsoid",
    "ProfileColumn",
    "HalfSpace",
    "Intersection",
    "Tube",
    "smooth_curve",
    "resample_polyline",
]

#: Vertex spacing of tube centrelines in mm: the nearest-vertex distance is then within
#: ``TUBE_STEP**2 / (8 * r)`` (< 0.002 mm for r >= 0.25 mm) of the distance to the curve.
TUBE_STEP = 0.05
#: Largest curvature x reach for which a tube's local second-order model is trusted.
_FAST_BEND = 0.8


class Shape:
    """A solid given by its signed distance function (mm, negative inside)."""

    #: The distance is exact (True) or an approximation whose error near the surface is small.
    exact: bool = True

    def sdf(self, points: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        """Signed distance in mm at ``(N, 3)`` points; returns ``(N,)``."""
        raise NotImplementedError

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box ``(low, high)`` (each ``(3,)``, mm) holding the whole solid."""
        raise NotImplementedError  # pragma: no cover - interface

    def banded_sdf(self, points: np.ndarray, band: float) -> np.ndarray:
        """The signed distance where it is within ``band`` of zero; elsewhere only its sign
        matters (shapes may return any value beyond the band, with the right sign)."""
        return self.sdf(points)

    def normals(self, points: np.ndarray, h: float = 0.02) -> np.ndarray:
        """Unit outward normal (gradient of the distance) at ``(N, 3)`` points."""
        g = np.empty_like(points, dtype=np.float64)
        for a in range(3):
            e = np.zeros(3)
            e[a] = h
            g[:, a] = self.sdf(points + e) - self.sdf(points - e)
        return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)

    def inside_offsets(
        self, centres: np.ndarray, offsets: np.ndarray, hint: np.ndarray | None = None
    ) -> np.ndarray:
        """Inside test at ``centres[:, None] + offsets[None]``: ``(N, M)`` bool.

        The renderer's sub-voxel samples. Shapes override this with forms that exploit the
        fixed offsets (one small matrix product instead of a distance per sample).
        """
        pts = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
        return (self.sdf(pts) < 0).reshape(len(centres), len(offsets))


@dataclass(init=False)
class Ellipsoid(Shape):
    """Axis-aligned ellipsoid; ``radii`` are the three semi-axes in mm."""

    centre: np.ndarray
    radii: np.ndarray
    exact = False

    def __init__(self, centre: ArrayLike, radii: ArrayLike) -> None:
        self.centre = np.asarray(centre, dtype=np.float64)
        self.radii = np.asarray(radii, dtype=np.float64)

    def sdf(self, points: np.ndarray) -> np.ndarray:
        q = (points - self.centre.astype(points.dtype)) / self.radii.astype(points.dtype)
        k0 = np.sqrt(np.einsum("ij,ij->i", q, q))
        q /= self.radii.astype(points.dtype)
        k1 = np.sqrt(np.einsum("ij,ij->i", q, q))
        # Quilez's bound: k0 (k0 - 1) / k1, exact on the surface and along the axes.
        out = k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)
        return np.where(k1 > 1e-12, out, -self.radii.min()).astype(points.dtype)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.centre - self.radii, self.centre + self.radii

    def banded_sdf(self, points: np.ndarray, band: float) -> np.ndarray:
        dt = points.dtype
        q = (points - self.centre.astype(dt)) / self.radii.astype(dt)
        k0 = np.sqrt(np.einsum("ij,ij->i", q, q))
        # near the surface the distance is about (k0 - 1) * radius: the band in k0 is narrow
        near = np.abs(k0 - 1.0) <= 1.5 * band / float(self.radii.min()) + 1e-6
        out = np.where(k0 < 1.0, np.float32(-2.0 * band - 1.0), np.float32(2.0 * band + 1.0))
        out = out.astype(dt)
        if np.any(near):
            out[near] = self.sdf(points[near])
        return out

    def normals(self, points: np.ndarray, h: float = 0.0) -> np.ndarray:
        g = (points - self.centre) / self.radii**2
        return g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)

    def inside_offsets(self, centres, offsets, hint=None):
        dt = centres.dtype
        q = (centres - self.centre.astype(dt)) / self.radii.astype(dt)
        o = offsets / self.radii.astype(dt)
        val = 2.0 * (q @ o.T)
        val += np.einsum("ij,ij->i", q, q)[:, None]
        val += np.einsum("ij,ij->i", o, o)[None, :]
        return val < 1.0


class ProfileColumn(Shape):
    """A column along S-I whose cross-section at height ``z`` is an ellipse with semi-axes
    ``a(z)`` (R-L) and ``b(z)`` (A-P) centred at ``(0, y(z))``: the brainstem.

    Parameters
    ----------
    z : (N,) ndarray
        Increasing heights (mm) of the profile table, evenly spaced.
    a, b, y : (N,) ndarray
        Semi-axes and centre at each height. Outside ``z`` the column ends (flat).
    """

    exact = False

    def __init__(self, z: np.ndarray, a: np.ndarray, b: np.ndarray, y: np.ndarray) -> None:
        self.z = np.asarray(z, dtype=np.float64)
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        dz = self.z[1] - self.z[0]
        slope = np.maximum.reduce([np.abs(np.gradient(v, dz)) for v in (self.a, self.b, self.y)])
        # The in-plane distance over-estimates the 3-D one where the profile slopes; dividing
        # by sqrt(1 + slope^2) keeps it a near-lower bound.
        self.shrink = 1.0 / np.sqrt(1.0 + slope**2)
        self._z0, self._dz = float(self.z[0]), float(dz)

    def _at(self, z: np.ndarray, table: np.ndarray) -> np.ndarray:
        f = np.clip((z - self._z0) / self._dz, 0, len(table) - 1.001)
        i = f.astype(np.int64)
        w = (f - i).astype(z.dtype)
        return table[i].astype(z.dtype) * (1 - w) + table[i + 1].astype(z.dtype) * w

    def sdf(self, points: np.ndarray) -> np.ndarray:
        dt = points.dtype
        z = points[:, 2]
        a, b, y = self._at(z, self.a), self._at(z, self.b), self._at(z, self.y)
        px = points[:, 0] / a
        py = (points[:, 1] - y) / b
        k0 = np.sqrt(px * px + py * py)
        k1 = np.sqrt((px / a) ** 2 + (py / b) ** 2)
        radial = np.where(k1 > 1e-9, k0 * (k0 - 1.0) / np.maximum(k1, 1e-9), -np.minimum(a, b))
        radial = radial * self._at(z, self.shrink)
        axial = np.maximum(self.z[0] - z, z - self.z[-1])
        return np.maximum(radial, axial).astype(dt)

    def inside_offsets(self, centres, offsets, hint=None):
        # An axial grid has only S distinct sample heights: interpolate the profile at those.
        dz, which = np.unique(offsets[:, 2], return_inverse=True)
        z = centres[:, 2:3] + dz[None, :]
        a, b, y = (self._at(z, t)[:, which] for t in (self.a, self.b, self.y))
        px = (centres[:, 0:1] + offsets[None, :, 0]) / a
        py = (centres[:, 1:2] + offsets[None, :, 1] - y) / b
        inside = px * px + py * py < 1.0
        zz = z[:, which]
        return inside & (zz > self.z[0]) & (zz < self.z[-1])

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        low = np.array([-self.a.max(), (self.y - self.b).min(), self.z[0]])
        high = np.array([self.a.max(), (self.y + self.b).max(), self.z[-1]])
        return low, high


@dataclass
class HalfSpace(Shape):
    """The points ``p`` with ``(p - point) . normal < 0`` (``normal`` points out of the solid)."""

    point: np.ndarray
    normal: np.ndarray
    box: tuple[np.ndarray, np.ndarray] = field(
        default_factory=lambda: (np.full(3, -1e4), np.full(3, 1e4))
    )

    def __post_init__(self) -> None:
        self.point = np.asarray(self.point, dtype=np.float64)
        n = np.asarray(self.normal, dtype=np.float64)
        self.normal = n / np.linalg.norm(n)

    def sdf(self, points: np.ndarray) -> np.ndarray:
        dt = points.dtype
        return ((points - self.point.astype(dt)) @ self.normal.astype(dt)).astype(dt)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.box

    def normals(self, points: np.ndarray, h: float = 0.0) -> np.ndarray:
        return np.broadcast_to(self.normal, points.shape).copy()

    def inside_offsets(self, centres, offsets, hint=None):
        dt = centres.dtype
        n = self.normal.astype(dt)
        return ((centres - self.point.astype(dt)) @ n)[:, None] + (offsets @ n)[None, :] < 0


@dataclass
class Intersection(Shape):
    """Points inside every part (``max`` of the distances; exact sign)."""

    parts: list[Shape]
    exact = False

    def sdf(self, points: np.ndarray) -> np.ndarray:
        out = self.parts[0].sdf(points)
        for part in self.parts[1:]:
            out = np.maximum(out, part.sdf(points))
        return out

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lows, highs = zip(*(p.bounds() for p in self.parts))
        return np.max(lows, axis=0), np.min(highs, axis=0)

    def inside_offsets(self, centres, offsets, hint=None):
        out = self.parts[0].inside_offsets(centres, offsets)
        for part in self.parts[1:]:
            out &= part.inside_offsets(centres, offsets)
        return out


class Tube(Shape):
    """A tube of varying radius along a 3-D curve (nerve root or vessel), with round ends.

    Parameters
    ----------
    centreline : (N, 3) ndarray
        Points along the curve in mm; resampled to `TUBE_STEP` spacing.
    radii : (N,) ndarray or float
        Radius in mm at each input point.
    """

    def __init__(self, centreline: np.ndarray, radii: np.ndarray | float) -> None:
        centreline = np.asarray(centreline, dtype=np.float64)
        radii = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(centreline),))
        points, self.radii, self.arclength = resample_polyline(centreline, radii, TUBE_STEP)
        if len(points) > 8:
            # round the corners of the input polyline (its vertices are 0.1-0.2 mm apart), so
            # that tangent and curvature are those of the smooth curve it samples
            points = ndimage.gaussian_filter1d(points, 2.0, axis=0, mode="nearest")
        self.points = points
        self.step = float(self.arclength[1] - self.arclength[0]) if len(self.points) > 1 else 1.0
        self.tangents = _tangents(self.points)
        self._tree = cKDTree(self.points)
        self.r_max = float(self.radii.max())
        if len(self.points) > 2:
            kappa = np.gradient(self.tangents, self.step, axis=0)
            # keep the curvature vector perpendicular to the tangent
            kappa -= np.einsum("ij,ij->i", kappa, self.tangents)[:, None] * self.tangents
            self.curvature = kappa
            self.radius_slope = np.gradient(self.radii, self.step)
        else:
            self.curvature = np.zeros_like(self.points)
            self.radius_slope = np.zeros(len(self.points))

    @property
    def length(self) -> float:
        """Curve length in mm."""
        return float(self.arclength[-1])

    def nearest(self, points: np.ndarray, max_distance: float = np.inf) -> tuple[np.ndarray, ...]:
        """Distance to and index of the nearest centreline vertex (index ``N`` when none)."""
        dist, index = self._tree.query(points, distance_upper_bound=max_distance)
        return dist, index

    def sdf(self, points: np.ndarray) -> np.ndarray:
        dist, index = self._tree.query(points)
        return (dist - self.radii[index]).astype(points.dtype)

    def sdf_near(self, points: np.ndarray, hint: np.ndarray) -> np.ndarray:
        """Signed distance at points known to lie near vertex ``hint`` (cheaper than `sdf`).

        The nearest vertex is found by stepping along the curve from ``hint`` by the projected
        arclength, then checking its two neighbours -- exact for curves whose radius of
        curvature is large against the step, which holds within a voxel of the surface.
        """
        n = len(self.points)
        dt = points.dtype
        c0 = self.points[hint].astype(dt)
        t0 = self.tangents[hint].astype(dt)
        along = np.einsum("ij,ij->i", points - c0, t0)
        k = np.clip(hint + np.rint(along / dt.type(self.step)).astype(np.int64), 0, n - 1)
        best = None
        for dk in (-1, 0, 1):
            kk = np.clip(k + dk, 0, n - 1)
            d = points - self.points[kk].astype(dt)
            dist = np.sqrt(np.einsum("ij,ij->i", d, d)) - self.radii[kk].astype(dt)
            best = dist if best is None else np.minimum(best, dist)
        assert best is not None  # the loop ran
        return best.astype(dt)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.points.min(axis=0) - self.r_max, self.points.max(axis=0) + self.r_max

    def inside_offsets(self, centres, offsets, hint=None):
        """Inside test at sub-voxel samples around voxel centres whose nearest centreline
        vertex is ``hint``.

        Locally the centreline is its second-order expansion ``c + s t + s^2 / 2 k`` at the
        hint vertex; one Newton step gives the closest parameter ``s`` of each sample, and the
        radius is extended linearly. Exact for straight tubes; where the curvature is strong
        against the sample spread, or near the tube's ends, the exact distance is used.
        """
        if hint is None:
            return super().inside_offsets(centres, offsets)
        dt = centres.dtype
        n = len(self.points)
        reach = float(np.sqrt(np.max(np.einsum("ij,ij->i", offsets, offsets)))) + self.r_max
        kmag = np.linalg.norm(self.curvature[hint], axis=1)
        ends = int(np.ceil((reach + 0.5) / self.step)) + 2
        exact = (kmag * (reach + 0.5) > _FAST_BEND) | (hint < ends) | (hint > n - 1 - ends)
        out = np.empty((len(centres), len(offsets)), dtype=bool)
        if np.any(exact):
            pts = (centres[exact][:, None, :] + offsets[None, :, :]).reshape(-1, 3)
            rows = np.repeat(hint[exact], len(offsets))
            out[exact] = (self.sdf_near(pts, rows) < 0).reshape(-1, len(offsets))
        fast = ~exact
        if np.any(fast):
            h = hint[fast]
            c = self.points[h].astype(dt)
            t = self.tangents[h].astype(dt)
            k = self.curvature[h].astype(dt)
            r0 = self.radii[h].astype(dt)
            dr = self.radius_slope[h].astype(dt)
            v = centres[fast] - c
            o = offsets.T
            along = (np.einsum("ij,ij->i", v, t))[:, None] + t @ o  # (p - c) . t
            bend = 1.0 - ((np.einsum("ij,ij->i", v, k))[:, None] + k @ o)
            s = along / np.maximum(bend, 0.25)
            vv = np.einsum("ij,ij->i", v, v)[:, None] + 2.0 * (v @ o)
            vv += np.einsum("ij,ij->j", o, o)[None, :]
            kk = np.einsum("ij,ij->i", k, k)[:, None]
            # |p - c(s)|^2 with |t| = 1 and t . k = 0
            dist2 = vv - 2.0 * s * along + s * s * bend + 0.25 * kk * s**4
            radius = r0[:, None] + dr[:, None] * s
            out[fast] = dist2 < radius * radius
        return out


def _tangents(points: np.ndarray) -> np.ndarray:
    if len(points) < 2:
        return np.tile([0.0, 0.0, 1.0], (len(points), 1))
    t = np.gradient(points, axis=0)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)


def resample_polyline(
    points: np.ndarray, values: np.ndarray, step: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resample a polyline (and a value per point) at a uniform arclength ``step`` in mm.

    Returns the points ``(M, 3)``, the values ``(M,)`` and the arclength ``(M,)``.
    """
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    keep = np.concatenate([[True], seg > 1e-9])
    s, points, values = s[keep], points[keep], values[keep]
    if len(s) < 2:
        return points.copy(), values.copy(), np.zeros(len(points))
    n = max(int(np.ceil(s[-1] / step)), 1) + 1
    s_new = np.linspace(0.0, s[-1], n)
    out = np.column_stack([np.interp(s_new, s, points[:, a]) for a in range(3)])
    return out, np.interp(s_new, s, values), s_new


def smooth_curve(waypoints: np.ndarray, step: float = 0.25) -> np.ndarray:
    """A smooth curve through ``waypoints`` ``(M, 3)``: a centripetal Catmull-Rom spline,
    which neither overshoots nor forms cusps between unevenly spaced points.

    Returns points ``(N, 3)`` about ``step`` mm apart.
    """
    p = np.asarray(waypoints, dtype=np.float64)
    keep = np.concatenate([[True], np.linalg.norm(np.diff(p, axis=0), axis=1) > 1e-6])
    p = p[keep]
    if len(p) == 2:
        n = max(int(np.ceil(np.linalg.norm(p[1] - p[0]) / step)), 1) + 1
        return np.linspace(p[0], p[1], n)
    # phantom end points continuing the first and last segments
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    pieces = []
    for k in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[k - 1], p[k], p[k + 1], p[k + 2]
        t0 = 0.0
        t1 = t0 + np.linalg.norm(p1 - p0) ** 0.5
        t2 = t1 + np.linalg.norm(p2 - p1) ** 0.5
        t3 = t2 + np.linalg.norm(p3 - p2) ** 0.5
        m = max(int(np.ceil(np.linalg.norm(p2 - p1) / step * 4)), 4)
        t = np.linspace(t1, t2, m, endpoint=False)[:, None]
        a1 = (t1 - t) / (t1 - t0) * p0 + (t - t0) / (t1 - t0) * p1
        a2 = (t2 - t) / (t2 - t1) * p1 + (t - t1) / (t2 - t1) * p2
        a3 = (t3 - t) / (t3 - t2) * p2 + (t - t2) / (t3 - t2) * p3
        b1 = (t2 - t) / (t2 - t0) * a1 + (t - t0) / (t2 - t0) * a2
        b2 = (t3 - t) / (t3 - t1) * a2 + (t - t1) / (t3 - t1) * a3
        pieces.append((t2 - t) / (t2 - t1) * b1 + (t - t1) / (t2 - t1) * b2)
    pieces.append(p[-2][None, :])
    dense = np.vstack(pieces)
    out, _, _ = resample_polyline(dense, np.zeros(len(dense)), step)
    return out
