"""The bundled sample case, reached through one helper.

For now the sample is a small real MR volume shipped inside the nibabel wheel
(``nibabel/tests/data/anatomical.nii``: 33 x 41 x 25 voxels of 2 mm, LAS orientation, MIT
licence, see nibabel's ``COPYING``). It is not a brainstem CISS scan: it stands in for the T2
reference so that the viewer, the demo and the tests have a real file with a real affine. The
synthetic cerebellopontine-angle phantom will replace it; callers only use the two functions
below, whose signatures stay.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypedDict

from .errors import InputNotFoundError
from .volume import Volume

__all__ = ["SampleCase", "sample_case_path", "load_sample"]


class SampleCase(TypedDict):
    """The volumes of the sample case (see `load_sample`)."""

    t2: Volume
    tof: Volume | None
    labels: Volume | None


def sample_case_path() -> Path:
    """Path of the sample case on disk.

    Returns
    -------
    Path
        A NIfTI file (today) or a case folder (later); pass it to `nvc_viewer.load`.

    Raises
    ------
    InputNotFoundError
        If the file is missing from the installation (a nibabel build without its test data).
    """
    path = Path(str(resources.files("nibabel") / "tests" / "data" / "anatomical.nii"))
    if not path.is_file():
        raise InputNotFoundError(
            "the sample volume is missing: this nibabel installation has no test data; "
            "reinstall nibabel from its wheel (pip install --force-reinstall nibabel)",
            path=path,
        )
    return path


def load_sample() -> SampleCase:
    """Load the sample case.

    Returns
    -------
    dict
        ``t2``: the reference volume (`Volume`); ``tof``: the angiogram on its own grid, or None;
        ``labels``: a uint8 label map on the ``t2`` grid (values of DESIGN.md section 3), or
        None. Today only ``t2`` is present.
    """
    from .io import load

    return SampleCase(t2=load(sample_case_path()), tof=None, labels=None)
