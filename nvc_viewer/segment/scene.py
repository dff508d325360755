"""The working state of one analysis: a crop of the T2 grid and what is known about it.

Every stage of the pipeline reads a `Scene` and adds to it; positions inside are voxel indices
of the crop (``ijk``); `Scene.to_ras` / `Scene.to_ijk` convert through the exact affine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import ndimage

from .crop import Box
from .masks import BrainstemFrame, FineMasks
from .normalise import IntensityReference
from .roots import surface_tree

if TYPE_CHECKING:
    from scipy.spatial import cKDTree

    from .nerves import TrackingCosts
    from .tubes import ScaleSpace

__all__ = ["Scene"]


@dataclass
class Scene:
    """A crop of the T2 with its masks, filters and the structures found so far.

    Attributes
    ----------
    box : Box
        Where the crop sits in the T2 grid.
    affine : (4, 4) ndarray
        Crop voxel -> RAS mm.
    spacing : (3,) ndarray
        Voxel size (mm).
    norm : (I, J, K) float32 ndarray
        T2 normalised to the CSF peak.
    ref : IntensityReference
        T2 levels.
    frame : BrainstemFrame
        Brainstem axis and midline.
    masks : FineMasks
        Brainstem, CSF, cistern region, bone, dark tubes.
    tof : (I, J, K) float32 ndarray or None
        TOF aligned to the T2 and normalised (arteries about 1).
    tof_motion : (4, 4) ndarray
        RAS rigid map T2 anatomy -> TOF anatomy that was corrected.
    side_x : (I, J, K) bool ndarray
        True on the patient's right of the brainstem midline.
    nerves : dict
        Name ("VII_left", ...) -> `nvc_viewer.segment.nerves.NerveTrack`.
    unnamed : list
        Root-like tracks whose name anatomy did not confirm (`identify.identify_nerves`): kept
        out of the vessels, left unlabelled.
    identification : list
        `nvc_viewer.segment.identify.Identification` per side and nerve.
    vessels : list
        `nvc_viewer.segment.vessels.VesselPiece` objects.
    costs : TrackingCosts or None
        The trackers' maps (`nvc_viewer.segment.nerves.tracking_costs`), set when the nerves
        are tracked; later stages read the meatus from it.
    scales : ScaleSpace or None
        The dark-tube scale space, computed once (`nvc_viewer.segment.nerves.tube_scales`).
    warnings : list of str
        Plain-language warnings about what the analysis had to do without.
    tof_ncc : float or None
        Normalised cross-correlation of the TOF registration (None: no TOF, or its alignment
        was given rather than measured).
    band_mm3 : float
        Volume of the off-resonance bands filled before the analysis (`banding.fill_bands`).

    Derived maps computed once on demand: `z_ras`, `smoothed_norm`, `brainstem_tree`.
    """

    box: Box
    affine: np.ndarray
    spacing: np.ndarray
    norm: np.ndarray
    ref: IntensityReference
    frame: BrainstemFrame
    masks: FineMasks
    tof: np.ndarray | None = None
    tof_motion: np.ndarray = field(default_factory=lambda: np.eye(4))
    side_right: np.ndarray | None = None
    nerves: dict[str, Any] = field(default_factory=dict)
    unnamed: list[Any] = field(default_factory=list)
    identification: list[Any] = field(default_factory=list)
    vessels: list[Any] = field(default_factory=list)
    costs: TrackingCosts | None = None
    scales: ScaleSpace | None = None
    warnings: list[str] = field(default_factory=list)
    tof_ncc: float | None = None
    band_mm3: float = 0.0
    _z_ras: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _norm_smooth: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _bs_tree: cKDTree | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Crop shape."""
        return self.norm.shape  # type: ignore[return-value]

    def to_ras(self, ijk: np.ndarray) -> np.ndarray:
        """Crop voxel indices ``(N, 3)`` -> RAS mm."""
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def to_ijk(self, ras: np.ndarray) -> np.ndarray:
        """RAS mm ``(N, 3)`` -> fractional crop voxel indices."""
        inv = np.linalg.inv(self.affine)
        return np.asarray(ras, dtype=np.float64) @ inv[:3, :3].T + inv[:3, 3]

    def z_ras(self) -> np.ndarray:
        """RAS height (mm) of every voxel of the crop (computed once)."""
        if self._z_ras is None:
            a = self.affine
            i, j, k = (np.arange(n, dtype=np.float32) for n in self.shape)
            self._z_ras = (
                a[2, 0] * i[:, None, None]
                + a[2, 1] * j[None, :, None]
                + a[2, 2] * k[None, None, :]
                + a[2, 3]
            ).astype(np.float32)
        return self._z_ras

    def smoothed_norm(self) -> np.ndarray:
        """The normalised T2 smoothed by 0.3 mm (computed once)."""
        if self._norm_smooth is None:
            self._norm_smooth = ndimage.gaussian_filter(self.norm, 0.3 / self.spacing)
        return self._norm_smooth

    def brainstem_tree(self) -> cKDTree:
        """k-d tree (mm) of the brainstem's surface voxels (`roots.surface_tree`; computed
        once: the brainstem mask is final when the nerves are tracked)."""
        if self._bs_tree is None:
            self._bs_tree = surface_tree(self.masks.brainstem, self.spacing)
        return self._bs_tree

    def side_mask(self, side: str) -> np.ndarray:
        """Voxels on ``side`` ("left"/"right") of the brainstem midline."""
        if self.side_right is None:
            raise RuntimeError("side_right not computed")
        return self.side_right if side == "right" else ~self.side_right
