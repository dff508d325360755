"""The label map as NIfTI (``segmentation.nii.gz``) and its ITK-SNAP label description file.

The NIfTI-1 file holds the uint8 label map on the T2 grid with the volume's exact affine in the
sform (code 1, scanner anatomical) and, as far as a quaternion can hold it, the qform (code 1);
NIfTI-1 stores the affine as float32, so positions survive to about 1e-5 mm at 100 mm. Label
values are those of docs/design.md, section 3; ``segmentation_labels.txt`` names and colours
them for ITK-SNAP (and 3D Slicer, which reads the same format).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..atomic import atomic_path, atomic_write_text
from ..errors import ExportError
from ..labels import LABELS
from ..volume import Volume

__all__ = ["write_segmentation_nifti", "write_itksnap_labels", "itksnap_label_text"]

#: NIfTI xform code "scanner anatomical".
NIFTI_XFORM_SCANNER_ANAT = 1


def _label_data(labels: Volume) -> np.ndarray:
    data = labels.data
    if data.dtype == bool:
        return data.astype(np.uint8)
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise ExportError(
                f"a label map holds whole numbers; got dtype {data.dtype} with "
                "fractional or non-finite values"
            )
    lo, hi = (data.min(), data.max()) if data.size else (0, 0)
    if lo < 0 or hi > 255:
        raise ExportError(f"label values must lie in 0..255 (uint8); got {lo}..{hi}")
    return data.astype(np.uint8, copy=False)


def _fortran_order(data: np.ndarray) -> np.ndarray:
    """The label map in NIfTI's voxel order (Fortran), copying only the box that holds labels.

    nibabel writes a C-ordered array one slice at a time, each slice gathered a whole row apart;
    a label map is mostly background, so zeros in Fortran order plus the labelled box, copied
    once, is the same array at a fraction of the cost.
    """
    if data.flags.f_contiguous or data.ndim != 3:
        return data
    from .dicom_seg import _nonzero_box

    out = np.zeros(data.shape, dtype=data.dtype, order="F")
    low, high = _nonzero_box(data)
    if low is not None and high is not None:
        box = tuple(slice(lo, hi + 1) for lo, hi in zip(low, high))
        out[box] = data[box]
    return out


def write_segmentation_nifti(labels: Volume, path: str | os.PathLike[str]) -> Path:
    """Write the label map as a NIfTI-1 file (atomic).

    Parameters
    ----------
    labels : Volume
        ``(I, J, K)`` integer label map (values 0..255; docs/design.md, section 3) with its voxel ->
        RAS affine (the T2 grid).
    path : path-like
        ``.nii.gz`` (compressed) or ``.nii``.

    Returns
    -------
    Path

    Raises
    ------
    ExportError
        If the data are not whole numbers in 0..255.
    """
    import nibabel as nib

    if not isinstance(labels, Volume):
        raise ExportError(f"labels must be a Volume; got {type(labels).__name__}")
    data = _fortran_order(_label_data(labels))
    affine = np.asarray(labels.affine, dtype=np.float64)
    img = nib.Nifti1Image(data, affine)
    img.header.set_data_dtype(np.uint8)
    img.header.set_sform(affine, code=NIFTI_XFORM_SCANNER_ANAT)
    img.header.set_qform(affine, code=NIFTI_XFORM_SCANNER_ANAT)
    img.header.set_xyzt_units(xyz="mm")
    img.header["descrip"] = b"nvc-viewer label map"
    # Whole-number labels: no scaling, so readers see the stored values as they are.
    img.header.set_slope_inter(1.0, 0.0)
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def itksnap_label_text() -> str:
    """The ITK-SNAP label description text for the labels of docs/design.md, section 3."""
    lines = [
        "################################################",
        "# ITK-SnAP Label Description File",
        "# File format: ",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "# Fields: ",
        "#    IDX:   Zero-based index ",
        "#    -R-:   Red color component (0..255)",
        "#    -G-:   Green color component (0..255)",
        "#    -B-:   Blue color component (0..255)",
        "#    -A-:   Label transparency (0.00 .. 1.00)",
        "#    VIS:   Label visibility (0 or 1)",
        "#    MSH:   Label mesh visibility (0 or 1)",
        "#  LABEL:   Label description ",
        "################################################",
        f'{0:5d} {0:5d} {0:4d} {0:4d} {0:8.2f} {0:2d} {0:2d}    "Clear Label"',
    ]
    for value, info in sorted(LABELS.items()):
        r, g, b = info.rgb
        lines.append(f'{value:5d} {r:5d} {g:4d} {b:4d} {1:8.2f} {1:2d} {1:2d}    "{info.name}"')
    return "\n".join(lines) + "\n"


def write_itksnap_labels(path: str | os.PathLike[str]) -> Path:
    """Write the ITK-SNAP label description file (``segmentation_labels.txt``, atomic)."""
    return atomic_write_text(path, itksnap_label_text())
