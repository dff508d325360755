"""The bundled sample case, reached through one helper.

The sample is a synthetic cerebellopontine-angle phantom (`nvc_viewer.phantom`: scenario
``indentation`` on the left, a fixed seed) shipped in the repository's ``sample_data/cpa_phantom``
folder, regenerated bit for bit by ``sample_data/make_sample.py``. It holds the same case twice:

``dicom/``
    A CISS-like heavy-T2 series and a TOF series (classic MR Image Storage, one study, one frame
    of reference, a fake patient).
``nifti/``
    ``t2_ciss.nii.gz`` and ``tof.nii.gz``: the same voxels on the same affines.
``labels_truth.nii.gz``
    The truth label map on the T2 grid (values: docs/design.md, section 3).
``truth.json``
    The true findings (schema ``nvc-viewer/findings``).

The folder is found relative to the package (``<repository>/sample_data``), which is where a
clone installed with ``pip install -e .`` has it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, TypedDict

from .errors import InputNotFoundError
from .volume import Volume

__all__ = [
    "SampleCase",
    "sample_data_dir",
    "sample_case_path",
    "sample_labels_path",
    "sample_truth_path",
    "load_sample",
]

#: Name of the sample case folder inside ``sample_data``.
SAMPLE_CASE = "cpa_phantom"


class SampleCase(TypedDict):
    """The volumes of the sample case (see `load_sample`)."""

    t2: Volume
    tof: Volume | None
    labels: Volume | None


def sample_data_dir() -> Path:
    """The repository's ``sample_data`` folder.

    Returns
    -------
    Path

    Raises
    ------
    InputNotFoundError
        When the package does not sit in a clone of the repository (e.g. installed from a
        wheel, which does not carry the sample data).
    """
    folder = Path(__file__).resolve().parent.parent / "sample_data"
    if not (folder / SAMPLE_CASE).is_dir():
        raise InputNotFoundError(
            "the sample data folder is missing: the sample case ships with the source repository "
            "only; clone it and install it with `pip install -e .`, or regenerate the case with "
            "`python sample_data/make_sample.py`",
            path=folder / SAMPLE_CASE,
        )
    return folder


def _require(path: Path) -> Path:
    if not path.exists():
        raise InputNotFoundError(
            "a file of the sample case is missing; regenerate the case with "
            "`python sample_data/make_sample.py`",
            path=path,
        )
    return path


def sample_case_path(form: Literal["dicom", "nifti"] = "dicom") -> Path:
    """Folder of the sample case's images; pass it to `nvc_viewer.load` or `load_case`.

    Parameters
    ----------
    form : {"dicom", "nifti"}
        The DICOM folder (T2 and TOF series) or the NIfTI folder (``t2_ciss.nii.gz``,
        ``tof.nii.gz``).

    Returns
    -------
    Path

    Raises
    ------
    InputNotFoundError
        If the sample data is not there (see `sample_data_dir`).
    ValueError
        For an unknown ``form``.
    """
    if form not in ("dicom", "nifti"):
        raise ValueError(f"form must be 'dicom' or 'nifti', got {form!r}")
    return _require(sample_data_dir() / SAMPLE_CASE / form)


def sample_labels_path() -> Path:
    """The truth label map of the sample case (NIfTI, uint8, on the T2 grid)."""
    return _require(sample_data_dir() / SAMPLE_CASE / "labels_truth.nii.gz")


def sample_truth_path() -> Path:
    """The true findings of the sample case (``truth.json``, schema ``nvc-viewer/findings``)."""
    return _require(sample_data_dir() / SAMPLE_CASE / "truth.json")


def load_sample(form: Literal["dicom", "nifti"] = "dicom") -> SampleCase:
    """Load the sample case.

    Parameters
    ----------
    form : {"dicom", "nifti"}
        Which copy of the images to read (the same voxels on the same affines).

    Returns
    -------
    dict
        ``t2``: the reference volume (`Volume`, role ``"t2"``); ``tof``: the angiogram on its
        own grid (role ``"tof"``; resample it with `nvc_viewer.geometry.resample_like` to fuse
        it); ``labels``: the truth label map on the ``t2`` grid (values: docs/design.md, section 3).
    """
    from .io import load_case, read_nifti

    case = load_case(sample_case_path(form))
    labels = read_nifti(sample_labels_path())
    return SampleCase(t2=case.t2, tof=case.tof, labels=labels)
