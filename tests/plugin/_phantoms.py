"""Small volumes with known geometry for the plugin tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from nvc_viewer.findings import CaseFindings, Finding, Landmark
from nvc_viewer.geometry import lps_to_ras
from nvc_viewer.volume import Volume, VolumeMeta

SHAPE = (40, 48, 32)
#: The pictures the README shows; tests refresh them only with NVC_WRITE_SCREENSHOTS=1.
DOC_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a test writes its screenshot: ``docs/screenshots`` with NVC_WRITE_SCREENSHOTS=1
    (to refresh the README's pictures), else the test's own temporary folder (a test run
    leaves the repository as it was)."""
    import os

    if os.environ.get("NVC_WRITE_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return DOC_SCREENSHOTS
    return tmp_path


@dataclass
class TruthResult:
    """Shaped like the analysis result as far as `CaseSession.apply_analysis` reads it: here a
    phantom's truth."""

    labels: Volume
    centrelines: dict
    landmarks: tuple
    findings: tuple
    source: object

    def to_case_findings(self, case_id: str, *, t2: Volume, tof: Volume | None) -> CaseFindings:
        return CaseFindings(
            case_id=case_id,
            source=self.source,  # the phantom's volumes are no DICOM or NIfTI files
            landmarks=self.landmarks,
            findings=self.findings,
        )


def truth_as_result(phantom: Any, source: object, *, centrelines: bool = True) -> TruthResult:
    """A phantom's label map, landmarks and findings (as automatic ones, confidence 0.8), and
    its centrelines unless ``centrelines`` is False, as the analysis would hand them over."""
    truth = phantom.truth
    return TruthResult(
        labels=phantom.labels,
        centrelines=dict(phantom.centrelines) if centrelines else {},
        landmarks=tuple(Landmark.from_dict({**d, "origin": "auto"}) for d in truth["landmarks"]),
        findings=tuple(
            Finding.from_dict({**d, "origin": "auto", "id": f"auto-{n}", "confidence": 0.8})
            for n, d in enumerate(truth["findings"])
        ),
        source=source,
    )


def _rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    i, j = {"x": (1, 2), "y": (0, 2), "z": (0, 1)}[axis]
    rot = np.eye(4)
    rot[i, i], rot[i, j], rot[j, i], rot[j, j] = c, -s, s, c
    return rot


def lps_affine(orientation: str, spacing: tuple[float, float, float]) -> np.ndarray:
    """Voxel -> RAS affine of a series as a DICOM reader builds it from LPS geometry.

    ``axial``: i -> patient left, j -> posterior, k -> superior (LPS-ordered).
    ``sagittal``: i -> posterior, j -> inferior, k -> patient left.
    ``oblique``: the axial one tilted 14 degrees about L-R and turned 9 degrees about S-I.
    """
    si, sj, sk = spacing
    lps = np.eye(4)
    if orientation in ("axial", "oblique"):
        lps[:3, :3] = np.diag([si, sj, sk])
    elif orientation == "sagittal":
        lps[:3, :3] = np.array([[0, 0, sk], [si, 0, 0], [0, -sj, 0]], dtype=float)
    else:
        raise ValueError(orientation)
    lps[:3, 3] = [-11.5, -20.25, -7.0]
    if orientation == "oblique":
        lps = _rotation("z", 9.0) @ _rotation("x", 14.0) @ lps
    return lps_to_ras(lps)


def make_volume(
    orientation: str,
    *,
    shape: tuple[int, int, int] = SHAPE,
    spacing: tuple[float, float, float] = (0.5, 0.6, 0.8),
    data: np.ndarray | None = None,
    role: str = "t2",
    description: str = "t2_ciss_3d",
) -> Volume:
    """A volume whose voxel values are unique (0, 1, 2 ... in C order) unless ``data`` is given."""
    if data is None:
        data = np.arange(np.prod(shape), dtype=np.uint16).reshape(shape)
    meta = VolumeMeta(kind="phantom", role=role, description=description)  # type: ignore[arg-type]
    return Volume(data, lps_affine(orientation, spacing), meta)


def write_nifti(volume: Volume, path: Path) -> Path:
    nib.Nifti1Image(volume.data, volume.affine).to_filename(path)
    return path
