"""The `Volume` value object: one 3-D image in patient space.

Design note
-----------
A `Volume` is ``data`` (a 3-D numpy array indexed ``[i, j, k]``, holding real-world values:
DICOM RescaleSlope/Intercept already applied), ``affine`` (4x4, voxel index -> patient **RAS**
mm, the nibabel convention) and ``meta`` (where it came from and what it is). It is valid once
constructed: 3-D numeric data, a finite invertible affine with positive spacing along every
axis. Readers build it and never resample; `nvc_viewer.geometry` moves it to other grids.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from .errors import InvalidVolumeError

__all__ = ["Volume", "VolumeMeta", "Role", "SourceKind"]

Role = Literal["t2", "tof", "t1", "label", "other", "unknown"]
SourceKind = Literal["dicom", "nifti", "phantom", "derived"]

_ROLES = ("t2", "tof", "t1", "label", "other", "unknown")
_KINDS = ("dicom", "nifti", "phantom", "derived")


@dataclass(frozen=True)
class VolumeMeta:
    """What a volume is and where it came from.

    Attributes
    ----------
    kind : {"dicom", "nifti", "phantom", "derived"}
        The source format.
    role : {"t2", "tof", "t1", "label", "other", "unknown"}
        The sequence role (heavy-T2 CISS/FIESTA-like, TOF angiogram, ...).
    modality : str or None
        DICOM Modality ("MR") or None.
    series_uid : str or None
        DICOM SeriesInstanceUID. Never exported as is: exports carry its sha256.
    frame_of_reference_uid : str or None
        DICOM FrameOfReferenceUID.
    description : str
        SeriesDescription, or the file name for NIfTI.
    sequence : str
        SequenceName / ScanningSequence (DICOM), empty otherwise.
    source_paths : tuple of str
        The files read, in slice order for DICOM.
    warnings : tuple of str
        Problems found while reading that did not stop it (e.g. "qform used, sform empty").
    extra : dict
        Anything else a reader wants to keep (e.g. the DICOM header of the first slice).
    """

    kind: SourceKind = "derived"
    role: Role = "unknown"
    modality: str | None = None
    series_uid: str | None = None
    frame_of_reference_uid: str | None = None
    description: str = ""
    sequence: str = ""
    source_paths: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.role not in _ROLES:
            raise InvalidVolumeError(f"meta.role must be one of {_ROLES}, got {self.role!r}")
        if self.kind not in _KINDS:
            raise InvalidVolumeError(f"meta.kind must be one of {_KINDS}, got {self.kind!r}")


@dataclass(frozen=True, eq=False)
class Volume:
    """A 3-D image with its exact voxel -> patient RAS mm mapping.

    Parameters
    ----------
    data : (I, J, K) ndarray
        Voxel values in real-world units, indexed ``[i, j, k]``. Any real numeric or bool dtype.
    affine : (4, 4) array_like
        Voxel index ``(i, j, k, 1)`` -> patient RAS mm ``(x, y, z, 1)``.
    meta : VolumeMeta, optional
        Provenance and role.

    Raises
    ------
    InvalidVolumeError
        If ``data`` is not 3-D and numeric, or ``affine`` is not a finite, invertible 4x4
        homogeneous matrix.
    """

    data: np.ndarray
    affine: np.ndarray
    meta: VolumeMeta = field(default_factory=VolumeMeta)

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, np.ndarray):
            raise InvalidVolumeError(f"data must be a numpy ndarray, got {type(data).__name__}")
        if data.ndim != 3:
            raise InvalidVolumeError(
                f"data must be 3-D (i, j, k), got {data.ndim}-D with shape {data.shape}"
            )
        if min(data.shape) < 1:
            raise InvalidVolumeError(f"data must not be empty, got shape {data.shape}")
        if not (np.issubdtype(data.dtype, np.number) or data.dtype == bool) or np.iscomplexobj(
            data
        ):
            raise InvalidVolumeError(f"data must be real numeric, got dtype {data.dtype}")
        affine = np.array(self.affine, dtype=np.float64)  # a private copy, then frozen
        if affine.shape != (4, 4):
            raise InvalidVolumeError(f"affine must be 4x4, got shape {affine.shape}")
        if not np.all(np.isfinite(affine)):
            raise InvalidVolumeError("affine holds NaN or infinite values")
        if not np.allclose(affine[3], [0, 0, 0, 1]):
            raise InvalidVolumeError(f"affine's last row must be [0, 0, 0, 1], got {affine[3]}")
        spacing = np.linalg.norm(affine[:3, :3], axis=0)
        if np.any(spacing <= 1e-6):
            raise InvalidVolumeError(f"affine gives a zero voxel spacing: {spacing} mm")
        # Scale-free test of invertibility: |det| of the column-normalised matrix.
        if abs(np.linalg.det(affine[:3, :3] / spacing)) < 1e-6:
            raise InvalidVolumeError("affine is singular: its voxel axes are not independent")
        affine.flags.writeable = False
        object.__setattr__(self, "affine", affine)
        if not isinstance(self.meta, VolumeMeta):
            raise InvalidVolumeError(f"meta must be a VolumeMeta, got {type(self.meta).__name__}")

    # -- derived values -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """Array shape ``(I, J, K)``."""
        return self.data.shape  # type: ignore[return-value]

    @property
    def spacing_mm(self) -> np.ndarray:
        """Voxel size along ``i, j, k`` in mm, shape ``(3,)``."""
        return np.linalg.norm(self.affine[:3, :3], axis=0)

    @property
    def orientation(self) -> str:
        """Three-letter axis code of ``i, j, k`` in RAS terms, e.g. ``"RAS"`` or ``"LPS"``."""
        from .geometry import axis_codes

        return axis_codes(self.affine)

    def ras_of(self, ijk: np.ndarray) -> np.ndarray:
        """Patient RAS mm of voxel positions.

        Parameters
        ----------
        ijk : (N, 3) or (3,) array_like
            Voxel indices (may be fractional).

        Returns
        -------
        (N, 3) or (3,) ndarray
        """
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def ijk_of(self, position_ras: np.ndarray) -> np.ndarray:
        """Fractional voxel indices of patient RAS mm positions (inverse of `ras_of`)."""
        position_ras = np.asarray(position_ras, dtype=np.float64)
        inv = np.linalg.inv(self.affine)
        return position_ras @ inv[:3, :3].T + inv[:3, 3]

    def with_data(self, data: np.ndarray, **meta_changes: Any) -> Volume:
        """A new volume on the same grid with other data (and optionally other meta fields)."""
        return Volume(data, self.affine, replace(self.meta, **meta_changes))

    def __repr__(self) -> str:
        sp = ", ".join(f"{s:.3g}" for s in self.spacing_mm)
        return (
            f"Volume(shape={self.shape}, dtype={self.data.dtype}, spacing_mm=({sp}), "
            f"orientation={self.orientation!r}, role={self.meta.role!r}, kind={self.meta.kind!r})"
        )
