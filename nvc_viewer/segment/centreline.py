"""Centrelines: minimal paths through a cost volume, resampling, smoothing, arclength.

A centreline is an ``(N, 3)`` array of points ordered along the structure, in RAS mm once it
leaves the pipeline (voxel indices of a crop inside it). Paths are found with
`skimage.graph.MCP_Geometric` (Dijkstra on the 26-neighbour grid, step length in mm) through a
cost that is low on the axis of the tube, then smoothed along their arclength so that the
voxel staircase does not pass for a bend.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.graph import MCP_Geometric

__all__ = [
    "VoxelGraph",
    "arclength",
    "resample",
    "smooth",
    "minimal_path",
    "tangents",
    "polyline_distance",
]


def arclength(points: np.ndarray) -> np.ndarray:
    """Cumulative length along a polyline ``(N, 3)`` -> ``(N,)`` (same units)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) == 0:
        return np.zeros(0)
    return np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])


def resample(points: np.ndarray, step: float, values: np.ndarray | None = None):
    """Resample a polyline at a uniform arclength ``step``.

    Parameters
    ----------
    points : (N, 3) ndarray
    step : float
        Spacing of the output points (units of ``points``).
    values : (N, ...) ndarray, optional
        Per-point values, interpolated linearly.

    Returns
    -------
    (M, 3) ndarray, or ((M, 3) ndarray, (M, ...) ndarray) when ``values`` is given.
    """
    points = np.asarray(points, dtype=np.float64)
    s = arclength(points)
    keep = np.concatenate([[True], np.diff(s) > 1e-9]) if len(s) else np.zeros(0, bool)
    s, points = s[keep], points[keep]
    if len(points) < 2:
        if values is None:
            return points
        return points, np.asarray(values)[keep]
    n = max(int(np.round(s[-1] / step)), 1) + 1
    s_new = np.linspace(0.0, s[-1], n)
    out = np.column_stack([np.interp(s_new, s, points[:, a]) for a in range(3)])
    if values is None:
        return out
    values = np.asarray(values, dtype=np.float64)[keep]
    flat = values.reshape(len(values), -1)
    vals = np.column_stack([np.interp(s_new, s, flat[:, a]) for a in range(flat.shape[1])])
    return out, vals.reshape((n,) + values.shape[1:])


def smooth(points: np.ndarray, sigma: float, *, keep_ends: bool = True) -> np.ndarray:
    """Gaussian smoothing of a uniformly sampled polyline along its length.

    Parameters
    ----------
    points : (N, 3) ndarray
        Uniformly spaced points.
    sigma : float
        Width in *points* (not mm).
    keep_ends : bool
        Pin the two end points (smoothing would pull them inwards).
    """
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 3 or sigma <= 0:
        return points.copy()
    out = ndimage.gaussian_filter1d(points, sigma, axis=0, mode="nearest")
    if keep_ends:
        # blend back to the raw ends over about one sigma so that ends are not shortened
        n = len(points)
        w = np.clip(np.minimum(np.arange(n), np.arange(n)[::-1]) / max(sigma, 1e-9), 0.0, 1.0)
        out = w[:, None] * out + (1.0 - w[:, None]) * points
    return out


def tangents(points: np.ndarray) -> np.ndarray:
    """Unit tangents ``(N, 3)`` of a polyline (central differences)."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return np.tile([0.0, 0.0, 1.0], (len(points), 1))
    t = np.gradient(points, axis=0)
    return t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)


class VoxelGraph:
    """The 26-neighbour graph of the voxels where a cost is finite, for shortest paths.

    Only those voxels become nodes, so a search costs in proportion to the candidate tube
    voxels (a few per cent of a crop), not to the box around them, which
    `skimage.graph.MCP_Geometric` allocates and scans whole. An edge between neighbours weighs
    the mean of their costs times their distance in mm, as in `MCP_Geometric`.

    Parameters
    ----------
    cost : (I, J, K) ndarray
        Cost per mm; ``inf`` where a path may not go.
    spacing_mm : (3,) array_like
    """

    def __init__(self, cost: np.ndarray, spacing_mm: np.ndarray) -> None:
        from scipy import sparse

        shape = np.array(cost.shape)
        self.shape = tuple(int(n) for n in shape)
        self.flat = np.flatnonzero(np.isfinite(cost))
        lookup = np.full(int(np.prod(shape)), -1, np.int64)
        lookup[self.flat] = np.arange(self.flat.size)
        self._lookup = lookup
        c = np.asarray(cost, dtype=np.float64).ravel()[self.flat]
        ijk = np.stack(np.unravel_index(self.flat, self.shape), axis=1)
        self._sp = np.asarray(spacing_mm, dtype=np.float64)
        rows, cols, w, lengths = [], [], [], []
        offsets = [
            (a, b, d)
            for a in (-1, 0, 1)
            for b in (-1, 0, 1)
            for d in (-1, 0, 1)
            if (a, b, d) > (0, 0, 0)
        ]
        for off in offsets:
            o = np.array(off)
            q = ijk + o
            ok = np.all((q >= 0) & (q < shape), axis=1)
            nb = np.full(len(ijk), -1, np.int64)
            nb[ok] = lookup[np.ravel_multi_index(q[ok].T, self.shape)]
            src = np.flatnonzero(nb >= 0)
            dst = nb[src]
            step = float(np.linalg.norm(o * self._sp))
            rows.append(src)
            cols.append(dst)
            w.append(0.5 * (c[src] + c[dst]) * step)
            lengths.append(np.full(src.size, step))
        n = self.flat.size
        r = np.concatenate(rows)
        k = np.concatenate(cols)
        self.graph = sparse.csr_matrix((np.concatenate(w), (r, k)), shape=(n, n))
        self.unit_graph = sparse.csr_matrix((np.concatenate(lengths), (r, k)), shape=(n, n))

    def node(self, ijk: np.ndarray) -> np.ndarray:
        """Node ids of voxel indices ``(N, 3)`` (-1 where the voxel is not a node)."""
        ijk = np.atleast_2d(np.asarray(ijk, dtype=np.int64))
        ok = np.all((ijk >= 0) & (ijk < np.array(self.shape)), axis=1)
        out = np.full(len(ijk), -1, np.int64)
        out[ok] = self._lookup[np.ravel_multi_index(ijk[ok].T, self.shape)]
        return out

    def distances(self, sources: np.ndarray, *, unit: bool = False) -> tuple[np.ndarray, ...]:
        """Shortest-path distance from the nearest source node to every node.

        Returns the distances and each node's predecessor (negative for none). With ``unit``
        edges weigh their length in mm only (geodesic length).
        """
        from scipy.sparse import csgraph

        src = np.unique(np.asarray(sources, dtype=np.int64))
        src = src[src >= 0]
        if src.size == 0:
            n = self.flat.size
            return np.full(n, np.inf), np.full(n, -9999)
        dist, pred, _ = csgraph.dijkstra(
            self.unit_graph if unit else self.graph,
            directed=False,
            indices=src,
            return_predecessors=True,
            min_only=True,
        )
        return dist, pred

    def path_to(self, predecessors: np.ndarray, node: int) -> np.ndarray:
        """Voxel indices ``(M, 3)`` from a source to ``node`` along the predecessors."""
        out = [int(node)]
        while predecessors[out[-1]] >= 0:
            out.append(int(predecessors[out[-1]]))
        idx = self.flat[np.array(out[::-1])]
        return np.stack(np.unravel_index(idx, self.shape), axis=1)

    def ijk(self) -> np.ndarray:
        """Voxel indices ``(N, 3)`` of all nodes."""
        return np.stack(np.unravel_index(self.flat, self.shape), axis=1)


def minimal_path(
    cost: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    spacing_mm: np.ndarray,
) -> np.ndarray | None:
    """Cheapest 26-connected path from any start voxel to any end voxel.

    Parameters
    ----------
    cost : (I, J, K) ndarray
        Positive cost per mm travelled through each voxel; ``inf`` forbids a voxel.
    starts, ends : (N, 3) int ndarray
        Voxel indices.
    spacing_mm : (3,) array_like
        Voxel size (the step length is measured in mm).

    Returns
    -------
    (M, 3) int ndarray or None
        The path from a start to an end (voxel indices), or None when no end can be reached.
    """
    starts = np.atleast_2d(np.asarray(starts, dtype=np.int64))
    ends = np.atleast_2d(np.asarray(ends, dtype=np.int64))
    if len(starts) == 0 or len(ends) == 0:
        return None
    mcp = MCP_Geometric(cost, sampling=tuple(float(s) for s in spacing_mm))
    cum, _ = mcp.find_costs(
        [tuple(p) for p in starts], [tuple(p) for p in ends], find_all_ends=False
    )
    end_costs = cum[tuple(ends.T)]
    if not np.isfinite(end_costs).any():
        return None
    best = ends[int(np.argmin(end_costs))]
    return np.asarray(mcp.traceback(tuple(best)), dtype=np.int64)


def polyline_distance(
    points: np.ndarray, polyline: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance from points to a polyline (exact, to its segments).

    Parameters
    ----------
    points : (P, 3) ndarray
    polyline : (N, 3) ndarray, N >= 1

    Returns
    -------
    dist : (P,) ndarray
    s : (P,) ndarray
        Arclength along the polyline of the closest point.
    closest : (P, 3) ndarray
    """
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    polyline = np.atleast_2d(np.asarray(polyline, dtype=np.float64))
    if len(polyline) == 1:
        d = np.linalg.norm(points - polyline[0], axis=1)
        return d, np.zeros(len(points)), np.repeat(polyline, len(points), axis=0)
    a = polyline[:-1]
    ab = polyline[1:] - a
    ll = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18)
    s_cum = arclength(polyline)
    best_d = np.full(len(points), np.inf)
    best_s = np.zeros(len(points))
    best_c = np.zeros((len(points), 3))
    # chunk over points to bound memory (P x segments)
    chunk = max(1, 2_000_000 // max(len(a), 1))
    for p0 in range(0, len(points), chunk):
        p = points[p0 : p0 + chunk]
        t = np.clip(np.einsum("pij,ij->pi", p[:, None, :] - a[None], ab) / ll, 0.0, 1.0)
        c = a[None] + t[..., None] * ab[None]
        d = np.linalg.norm(p[:, None, :] - c, axis=2)
        k = np.argmin(d, axis=1)
        r = np.arange(len(p))
        best_d[p0 : p0 + chunk] = d[r, k]
        best_c[p0 : p0 + chunk] = c[r, k]
        best_s[p0 : p0 + chunk] = s_cum[k] + t[r, k] * np.sqrt(ll[k])
    return best_d, best_s, best_c
