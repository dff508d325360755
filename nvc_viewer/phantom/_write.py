"""Write a phantom case to disk: T2 + TOF (NIfTI or DICOM), the truth label map and JSON.

Layout of ``out_dir`` (written into a hidden temporary folder beside it, then renamed)::

    t2_ciss.nii.gz, tof.nii.gz          (fmt="nifti")
    t2_ciss/IM00001.dcm ..., tof/...    (fmt="dicom": one folder per series, one study)
    labels_truth.nii.gz                 uint8 label map on the T2 grid
    truth.json                          findings document (docs/design.md, section 4)
    phantom.json                        scenario, seed, params, centrelines and radii (RAS mm)

Images are stored as int16 in scanner-like units (``round(value * scale)``, CSF about 1000 with
the default scale), without rescale slope, so the NIfTI and DICOM forms hold the same numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nibabel as nib
import numpy as np

from ..atomic import atomic_folder
from ..errors import NVCError
from ..volume import Volume

if TYPE_CHECKING:  # pragma: no cover
    from . import Phantom

__all__ = ["write_case", "PHANTOM_PATIENT", "phantom_uids"]

#: Fake patient module of phantom DICOM (so de-identification can be tested).
PHANTOM_PATIENT = {
    "name": "PHANTOM^NVC",
    "id": "NVC-PHANTOM-0001",
    "birth_date": "19700101",
    "accession": "ACC0001",
    "sex": "O",
}
#: Fixed acquisition date and time of phantom DICOM (reproducible files).
PHANTOM_DATE = "20000101"
PHANTOM_TIME = "120000"

_SERIES: dict[str, dict[str, Any]] = {
    "t2": {
        "folder": "t2_ciss",
        "nifti": "t2_ciss.nii.gz",
        "number": 3,
        "sequence_name": "*ci3d1",
        "scanning_sequence": "GR",
    },
    "tof": {
        "folder": "tof",
        "nifti": "tof.nii.gz",
        "number": 5,
        "sequence_name": "*fl3d1r_t70",
        "scanning_sequence": "GR",
    },
}


def _uid(*parts: object) -> str:
    """A DICOM UID derived from ``parts`` (2.25 + a 128-bit hash: valid and reproducible)."""
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))


def phantom_uids(phantom: Phantom) -> dict[str, str]:
    """Study, frame-of-reference and series UIDs of a phantom, derived from its identity."""
    key = ("nvc-phantom", phantom.scenario, phantom.side, phantom.seed, phantom.t2.shape)
    return {
        "study": _uid(*key, "study"),
        "frame_of_reference": _uid(*key, "for"),
        "t2": _uid(*key, "series", "t2"),
        "tof": _uid(*key, "series", "tof"),
    }


def _as_int16(volume: Volume, scale: float) -> Volume:
    data = np.clip(np.rint(volume.data.astype(np.float64) * scale), -32768, 32767)
    return volume.with_data(data.astype(np.int16))


def _save_nifti(volume: Volume, path: Path) -> None:
    img = nib.Nifti1Image(volume.data, volume.affine)
    img.set_sform(volume.affine, code=1)  # scanner coordinates
    img.set_qform(volume.affine, code=1)
    img.header.set_xyzt_units("mm")
    nib.save(img, path)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _write_json(data: dict, path: Path) -> None:
    path.write_text(json.dumps(_jsonable(data), indent=1, sort_keys=False) + "\n")


def write_case(
    phantom: Phantom,
    out_dir: str | os.PathLike[str],
    *,
    fmt: str = "nifti",
    enhanced: bool = False,
    scale: float = 1000.0,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write a phantom as a case folder.

    Parameters
    ----------
    phantom : Phantom
    out_dir : path-like
        The case folder; must not exist (or be empty) unless ``overwrite``.
    fmt : {"nifti", "dicom"}
        Image format. DICOM: both series in one study and one frame of reference, with scanner
        descriptions the role detection knows (``t2_ciss3d_...`` / ``*ci3d1`` and
        ``tof_3d_multi-slab`` / ``*fl3d1r_t70``), a fake patient (`PHANTOM_PATIENT`), UIDs
        derived from the phantom (`phantom_uids`) and fixed dates: the same phantom gives the
        same bytes.
    enhanced : bool
        DICOM only: one Enhanced MR multi-frame file per series instead of one file per slice.
    scale : float
        Stored int16 value = ``round(value * scale)``.
    overwrite : bool
        Replace an existing non-empty ``out_dir``.

    Returns
    -------
    dict of str to Path
        ``"t2"``, ``"tof"`` (file or series folder), ``"labels"``, ``"truth"``, ``"phantom"``.

    Raises
    ------
    NVCError
        When ``out_dir`` exists, is not empty, and ``overwrite`` is False.
    ValueError
        For an unknown ``fmt``.
    """
    if fmt not in ("nifti", "dicom"):
        raise ValueError(f"fmt must be 'nifti' or 'dicom', got {fmt!r}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not overwrite:
        raise NVCError(
            "the output folder exists and is not empty; choose another or pass overwrite=True",
            path=out_dir,
        )
    with atomic_folder(out_dir) as tmp:
        written = _write_into(phantom, tmp, fmt, enhanced, scale)
    return {k: out_dir / p.relative_to(tmp) for k, p in written.items()}


def _write_into(
    phantom: Phantom, folder: Path, fmt: str, enhanced: bool, scale: float
) -> dict[str, Path]:
    out: dict[str, Path] = {}
    images = {"t2": _as_int16(phantom.t2, scale), "tof": _as_int16(phantom.tof, scale)}
    uids = phantom_uids(phantom) if fmt == "dicom" else {}
    for role, volume in images.items():
        spec = _SERIES[role]
        if fmt == "nifti":
            path = folder / spec["nifti"]
            _save_nifti(volume, path)
        else:
            path = folder / spec["folder"]
            _write_dicom(volume, path, role, spec, uids, enhanced)
        out[role] = path
    labels = folder / "labels_truth.nii.gz"
    _save_nifti(phantom.labels, labels)
    out["labels"] = labels
    truth = json.loads(json.dumps(_jsonable(phantom.truth)))
    truth["source"] = {
        "kind": fmt,
        "series": [
            {
                "role": role,
                "uid_sha256": hashlib.sha256(uids[role].encode()).hexdigest() if uids else None,
            }
            for role in ("t2", "tof")
        ],
    }
    _write_json(truth, folder / "truth.json")
    out["truth"] = folder / "truth.json"
    doc = {
        "schema": "nvc-viewer/phantom",
        "schema_version": 1,
        "scenario": phantom.scenario,
        "side": phantom.side,
        "seed": phantom.seed,
        "stored_scale": scale,
        "files": {k: str(p.relative_to(folder)) for k, p in out.items()},
        "params": phantom.params,
        "centrelines_ras": {k: np.round(v, 4) for k, v in phantom.centrelines.items()},
        "radii_mm": {k: np.round(v, 4) for k, v in phantom.radii.items()},
    }
    _write_json(doc, folder / "phantom.json")
    out["phantom"] = folder / "phantom.json"
    return out


def _write_dicom(
    volume: Volume, folder: Path, role: str, spec: dict, uids: dict[str, str], enhanced: bool
) -> None:
    from ..io.dicom_write import write_series

    description = volume.meta.description or spec["folder"]
    files = write_series(
        volume,
        folder,
        series_description=description,
        sequence_name=spec["sequence_name"],
        scanning_sequence=spec["scanning_sequence"],
        series_number=spec["number"],
        series_uid=uids[role],
        study_uid=uids["study"],
        frame_of_reference_uid=uids["frame_of_reference"],
        patient=PHANTOM_PATIENT,
        enhanced=enhanced,
        rescale=False,
    )
    _make_reproducible(files, uids[role])


def _make_reproducible(files: list[Path], series_uid: str) -> None:
    """Replace the random instance UIDs and the current date the writer put in by values
    derived from the series UID and a fixed date (files stay valid DICOM)."""
    import pydicom
    from pydicom.uid import UID

    for n, path in enumerate(files):
        ds = pydicom.dcmread(path)
        sop = UID(_uid(series_uid, "instance", n + 1))
        ds.SOPInstanceUID = sop
        ds.file_meta.MediaStorageSOPInstanceUID = sop
        for tag in ("StudyDate", "SeriesDate", "ContentDate", "AcquisitionDate"):
            if tag in ds:
                setattr(ds, tag, PHANTOM_DATE)
        for tag in ("StudyTime", "SeriesTime", "ContentTime", "AcquisitionTime"):
            if tag in ds:
                setattr(ds, tag, PHANTOM_TIME)
        if "AcquisitionDateTime" in ds:
            ds.AcquisitionDateTime = PHANTOM_DATE + PHANTOM_TIME
        if "DimensionOrganizationSequence" in ds:
            dim = _uid(series_uid, "dimension-organisation")
            for item in ds.DimensionOrganizationSequence:
                item.DimensionOrganizationUID = dim
            for item in ds.get("DimensionIndexSequence", []):
                item.DimensionOrganizationUID = dim
        ds.save_as(path, enforce_file_format=True)
