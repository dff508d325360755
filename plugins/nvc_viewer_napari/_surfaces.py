"""3-D surfaces of the label map (brainstem, nerves, vessels) for napari Surface layers.

Display geometry only, no analysis: each structure's voxels are smoothed a little (a Gaussian of
a fraction of a millimetre, so that the staircase does not show and a 1 mm nerve does not
vanish) and meshed with marching cubes (`skimage.measure.marching_cubes`). Vertices are in the
display-array index space of the label map, so the layers take the T2 image's ``scale`` and
``translate`` and sit exactly on it.

Runs in a worker thread (no Qt, no napari). The Gaussian filter and marching cubes hold the GIL
for the whole of each call, which would freeze the GUI thread for as long; so both work through
the volume in slabs of a few slices (`SLAB`), each call short, and the GUI thread gets its turn
between them. Slabs overlap by one slice for marching cubes (the meshes meet on a shared plane)
and by the filter's reach for the smoothing (the result is the same as in one piece).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from nvc_viewer.labels import CSF, LABELS

from ._layers import LABEL_COLORS

__all__ = ["SURFACE_STRUCTURES", "SLAB", "SurfaceMesh", "label_surfaces"]

#: Slices per slab: a marching-cubes or filter call on a slab of a 512 x 512 scan stays within
#: a few tens of milliseconds.
SLAB = 8

#: Label value -> surface name (the label table, `nvc_viewer.labels`); the CSF is left out (it
#: hides the rest).
SURFACE_STRUCTURES: dict[int, str] = {
    value: info.display_name for value, info in LABELS.items() if value != CSF
}


@dataclass(frozen=True)
class SurfaceMesh:
    """One structure's surface.

    Attributes
    ----------
    name : str
    value : int
        Label value.
    vertices : (V, 3) float ndarray
        Display-array index coordinates (S, P, L order).
    faces : (F, 3) int ndarray
    color : str
        Hex colour of the structure (the label map's).
    """

    name: str
    value: int
    vertices: np.ndarray
    faces: np.ndarray
    color: str


def label_surfaces(
    labels: np.ndarray,
    spacing_mm: np.ndarray,
    *,
    smooth_mm: float = 0.35,
    structures: dict[int, str] | None = None,
) -> list[SurfaceMesh]:
    """Mesh each structure of a display-ordered label map.

    Parameters
    ----------
    labels : (S, P, L) integer ndarray
        Label map in display order (the Labels layer's data).
    spacing_mm : (3,) array_like
        Voxel size along the display axes, mm (the layer ``scale``).
    smooth_mm : float, optional
        Gaussian sigma applied to each structure's mask before meshing, mm.
    structures : dict of int to str, optional
        Which label values to mesh; default `SURFACE_STRUCTURES`.

    Returns
    -------
    list of SurfaceMesh
        One per structure present, in label order.
    """
    labels = np.asarray(labels)
    spacing = np.asarray(spacing_mm, dtype=np.float64)
    sigma = smooth_mm / spacing
    pad = int(np.ceil(4 * float(sigma.max()))) + 1  # the filter reaches 4 sigma
    structures = SURFACE_STRUCTURES if structures is None else structures
    from skimage.measure import marching_cubes

    meshes = []
    objects = ndimage.find_objects(labels.astype(np.int32, copy=False))
    for value, name in structures.items():
        if value > len(objects) or objects[value - 1] is None:
            continue
        box = tuple(
            slice(max(s.start - pad, 0), min(s.stop + pad, n))
            for s, n in zip(objects[value - 1], labels.shape)
        )
        mask = (labels[box] == value).astype(np.float32)
        # Zero padding all round so that a structure cut by the field of view is closed.
        mask = np.pad(mask, 1)
        smooth = _smooth_in_slabs(mask, sigma, pad)
        level = min(0.5, 0.5 * float(smooth.max()))
        if level <= 0:
            continue
        vertices, faces = _marching_cubes_in_slabs(smooth, level, marching_cubes)
        if not len(faces):
            continue
        vertices += np.array([s.start for s in box], dtype=np.float64) - 1.0
        meshes.append(
            SurfaceMesh(
                name=name,
                value=value,
                vertices=vertices.astype(np.float32),
                faces=faces.astype(np.int32),
                color=str(LABEL_COLORS.get(value, "yellow")),
            )
        )
    return meshes


def _smooth_in_slabs(mask: np.ndarray, sigma: np.ndarray, reach: int) -> np.ndarray:
    """`scipy.ndimage.gaussian_filter` of ``mask``, computed slab by slab along axis 0."""
    out = np.empty_like(mask)
    n = mask.shape[0]
    for start in range(0, n, SLAB):
        stop = min(start + SLAB, n)
        lo, hi = max(start - reach, 0), min(stop + reach, n)
        part = ndimage.gaussian_filter(mask[lo:hi], sigma, mode="constant")
        out[start:stop] = part[start - lo : stop - lo]
    return out


def _marching_cubes_in_slabs(
    volume: np.ndarray, level: float, marching_cubes: object
) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes slab by slab (slabs share their boundary slice); one mesh."""
    n = volume.shape[0]
    all_vertices, all_faces, count = [], [], 0
    for start in range(0, max(n - 1, 1), SLAB):
        part = volume[start : min(start + SLAB + 1, n)]
        if part.shape[0] < 2 or part.max() < level or part.min() > level:
            continue
        vertices, faces, _, _ = marching_cubes(part, level=level)  # type: ignore[operator]
        vertices[:, 0] += start
        all_vertices.append(vertices)
        all_faces.append(faces + count)
        count += len(vertices)
    if not all_vertices:
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    return np.concatenate(all_vertices), np.concatenate(all_faces)
