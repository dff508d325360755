"""Boxes of voxels: where the work is done.

Every filter of the pipeline runs on a crop of the T2 grid (the cisterns around the brainstem);
a `Box` records where the crop sits so that results go back into the full grid and positions
back to patient RAS mm through the exact affine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Box"]


@dataclass(frozen=True)
class Box:
    """A box of voxel indices ``lo <= ijk < hi`` inside a grid of shape ``grid_shape``.

    Attributes
    ----------
    lo, hi : tuple of int
        Inclusive lower and exclusive upper index along ``i, j, k``.
    grid_shape : tuple of int
        Shape of the full grid the box lives in (the box is clipped to it).
    """

    lo: tuple[int, int, int]
    hi: tuple[int, int, int]
    grid_shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        lo = tuple(int(max(0, min(a, n))) for a, n in zip(self.lo, self.grid_shape))
        hi = tuple(int(max(l_, min(b, n))) for b, l_, n in zip(self.hi, lo, self.grid_shape))
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "grid_shape", tuple(int(n) for n in self.grid_shape))

    @classmethod
    def full(cls, shape: tuple[int, ...]) -> Box:
        """The whole grid."""
        return cls((0, 0, 0), tuple(shape), tuple(shape))  # type: ignore[arg-type]

    @classmethod
    def around(
        cls,
        centre_ijk: np.ndarray,
        half_size_mm: float | np.ndarray,
        spacing_mm: np.ndarray,
        grid_shape: tuple[int, int, int],
    ) -> Box:
        """The box of half size ``half_size_mm`` (scalar or per axis) around a voxel position."""
        half = np.ceil(np.asarray(half_size_mm, dtype=np.float64) / np.asarray(spacing_mm))
        c = np.asarray(centre_ijk, dtype=np.float64)
        lo = np.floor(c - half).astype(int)
        hi = np.ceil(c + half).astype(int) + 1
        return cls(tuple(lo), tuple(hi), grid_shape)  # type: ignore[arg-type]

    @classmethod
    def of_mask(
        cls,
        mask: np.ndarray,
        *,
        margin_vox: int | np.ndarray = 0,
        offset: tuple[int, int, int] = (0, 0, 0),
        grid_shape: tuple[int, int, int] | None = None,
    ) -> Box | None:
        """Bounding box of a mask's true voxels (None if empty), widened by ``margin_vox``.

        ``offset`` is the position of ``mask[0, 0, 0]`` in the grid of shape ``grid_shape``
        (default: the mask's own grid).
        """
        idx = [
            np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != ax)))[0] for ax in range(3)
        ]
        if any(i.size == 0 for i in idx):
            return None
        m = np.broadcast_to(np.asarray(margin_vox, dtype=int), (3,))
        off = np.asarray(offset, dtype=int)
        lo = [int(i[0]) - int(mm) + int(o) for i, mm, o in zip(idx, m, off)]
        hi = [int(i[-1]) + 1 + int(mm) + int(o) for i, mm, o in zip(idx, m, off)]
        return cls(tuple(lo), tuple(hi), grid_shape or mask.shape)  # type: ignore[arg-type]

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape of the cropped array."""
        return tuple(b - a for a, b in zip(self.lo, self.hi))  # type: ignore[return-value]

    @property
    def size(self) -> int:
        """Number of voxels."""
        return int(np.prod(self.shape))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """Index the full grid with this to get the crop."""
        return tuple(slice(a, b) for a, b in zip(self.lo, self.hi))  # type: ignore[return-value]

    def affine(self, full_affine: np.ndarray) -> np.ndarray:
        """Voxel -> RAS affine of the crop, from the full grid's affine."""
        out = np.array(full_affine, dtype=np.float64, copy=True)
        out[:3, 3] = (
            full_affine[:3, :3] @ np.asarray(self.lo, dtype=np.float64) + full_affine[:3, 3]
        )
        return out

    def union(self, other: Box) -> Box:
        """Smallest box holding both."""
        lo = tuple(min(a, b) for a, b in zip(self.lo, other.lo))
        hi = tuple(max(a, b) for a, b in zip(self.hi, other.hi))
        return Box(lo, hi, self.grid_shape)  # type: ignore[arg-type]

    def intersect(self, other: Box) -> Box:
        """Largest box inside both (possibly empty)."""
        lo = tuple(max(a, b) for a, b in zip(self.lo, other.lo))
        hi = tuple(min(a, b) for a, b in zip(self.hi, other.hi))
        return Box(lo, hi, self.grid_shape)  # type: ignore[arg-type]

    def sub(self, inner: Box) -> tuple[slice, slice, slice]:
        """Slices that cut ``inner`` (a box of the same grid, inside this one) out of the crop."""
        return tuple(  # type: ignore[return-value]
            slice(a - o, b - o) for a, b, o in zip(inner.lo, inner.hi, self.lo)
        )
