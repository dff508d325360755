"""Shared helpers for the DICOM tests: real volumes, slice layouts, series on disk, dcm2niix.

Import from a test module in ``tests/core`` as ``from dicom_cases import ...``.
"""

from __future__ import annotations

import glob
import gzip
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.volume import Volume

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"
NICOM_DATA = Path(nib.__file__).parent / "nicom" / "tests" / "data"
ANATOMICAL = NIBABEL_DATA / "anatomical.nii"


def pydicom_file(name: str) -> Path:
    """A file from pydicom's bundled test data or the pydicom-data package (offline cache)."""
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    if found is None:
        pytest.skip(f"pydicom test file {name} not available")
    return Path(found)


def _rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    a, b = [n for n in range(3) if n != axis]
    r = np.eye(3)
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


#: Direction cosines (RAS) of the i, j, k axes, as scanners write them: i along the image row
#: cosine, j along the column cosine, k along the slice normal.
LAYOUTS: dict[str, np.ndarray] = {
    # row -> patient left, column -> posterior, slices inferior -> superior
    "axial": np.diag([-1.0, -1.0, 1.0]),
    # row -> posterior, column -> inferior, slices left -> right (normal = row x col)
    "sagittal": np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
    # row -> left, column -> inferior, slices anterior -> posterior
    "coronal": np.array([[-1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, -1.0, 0.0]]),
    # axial tilted 15 deg about the left-right axis and 10 deg about the anterior-posterior axis
    "oblique": _rotation(1, 10.0) @ _rotation(0, 15.0) @ np.diag([-1.0, -1.0, 1.0]),
}


def layout_affine(
    layout: str,
    spacing: tuple[float, float, float] = (0.5, 0.5, 0.5),
    origin: tuple[float, float, float] = (12.5, -30.25, -41.0),
) -> np.ndarray:
    """Voxel -> RAS affine of a layout (right-handed in LPS, as a scanner writes it)."""
    affine = np.eye(4)
    affine[:3, :3] = LAYOUTS[layout] * np.asarray(spacing, dtype=np.float64)
    affine[:3, 3] = origin
    return affine


def real_volume(crop: tuple[int, int, int] | None = None) -> np.ndarray:
    """Voxels of nibabel's real anatomical test image (33 x 41 x 25 int16 brain)."""
    data = np.asarray(nib.load(ANATOMICAL).dataobj).astype(np.int16)
    if crop is not None:
        data = data[: crop[0], : crop[1], : crop[2]]
    return np.ascontiguousarray(data)


def colin_brainstem() -> np.ndarray | None:
    """A 40 x 36 x 24 crop around the brainstem of the Colin27 brain (Debian mricron-data), or
    None when it is not installed."""
    found = sorted(glob.glob("/usr/share/**/ch2better.nii.gz", recursive=True))
    if not found:
        return None
    img = nib.load(found[0])
    # Colin27 0.5 mm, 301 x 370 x 316: the pons (MNI 0, -25, -30) is voxel (150, 164, 79).
    return np.asarray(img.dataobj[130:170, 146:182, 67:91]).astype(np.int16)


def smooth_volume(shape: tuple[int, int, int] = (32, 40, 24), seed: int = 0) -> np.ndarray:
    """A small int16 volume with structure on every axis (no two slices alike)."""
    rng = np.random.default_rng(seed)
    i, j, k = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    data = 400 * np.sin(i / 3.0) + 300 * np.cos(j / 4.0) + 37 * k + rng.integers(0, 50, shape)
    return data.astype(np.int16)


def write_case(folder: Path, volume: Volume, **kwargs: object) -> Path:
    """Write ``volume`` as a series under ``folder`` and return the folder."""
    write_series(volume, folder, **kwargs)  # type: ignore[arg-type]
    return folder


def gunzip_to(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return target


# ---------------------------------------------------------------------------------------------
# dcm2niix
# ---------------------------------------------------------------------------------------------
def dcm2niix_binary() -> str | None:
    candidate = Path(sys.executable).parent / "dcm2niix"
    return str(candidate) if candidate.exists() else shutil.which("dcm2niix")


def run_dcm2niix(folder: Path, out: Path) -> tuple[list[nib.Nifti1Image], str]:
    """Convert ``folder`` with dcm2niix (``-z n -b n -f %s``); (images, console output)."""
    binary = dcm2niix_binary()
    if binary is None:
        pytest.skip("dcm2niix is not installed")
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [binary, "-z", "n", "-b", "n", "-f", "%s", "-o", str(out), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    images = [nib.load(p) for p in sorted(out.glob("*.nii"))]
    return images, done.stdout + done.stderr


def assert_same_as_dcm2niix(ours: Volume, theirs: nib.Nifti1Image, n_points: int = 300) -> None:
    """The oracle: same voxel -> world mapping and the same values, up to the permutation and
    flips that the two affines explain.

    1. Every corner of our volume maps, through our affine and the inverse of dcm2niix's, onto an
       integer voxel of dcm2niix's array, and both affines put that voxel within 1e-3 mm of the
       same world position.
    2. For random voxels (and the corners), the voxel of dcm2niix's array at the same world
       position holds the same value.
    """
    their_data = np.asarray(theirs.get_fdata(dtype=np.float64))
    while their_data.ndim > 3:  # dcm2niix writes 3-D, but be explicit about a trailing axis
        assert their_data.shape[-1] == 1, their_data.shape
        their_data = their_data[..., 0]
    a_ours = ours.affine
    a_theirs = theirs.affine
    assert sorted(ours.shape) == sorted(their_data.shape), (ours.shape, their_data.shape)

    corners = np.array(
        [
            [i, j, k]
            for i in (0, ours.shape[0] - 1)
            for j in (0, ours.shape[1] - 1)
            for k in (0, ours.shape[2] - 1)
        ],
        dtype=np.float64,
    )
    world = corners @ a_ours[:3, :3].T + a_ours[:3, 3]
    inv = np.linalg.inv(a_theirs)
    their_index = world @ inv[:3, :3].T + inv[:3, 3]
    rounded = np.round(their_index)
    their_world = rounded @ a_theirs[:3, :3].T + a_theirs[:3, 3]
    np.testing.assert_allclose(their_world, world, atol=1e-3, err_msg="corner positions differ")
    assert np.all(rounded >= 0) and np.all(rounded < np.array(their_data.shape)), rounded

    rng = np.random.default_rng(1)
    points = np.concatenate(
        [corners, rng.integers(0, ours.shape, size=(n_points, 3)).astype(np.float64)]
    ).astype(int)
    world = points @ a_ours[:3, :3].T + a_ours[:3, 3]
    idx = np.round(world @ inv[:3, :3].T + inv[:3, 3]).astype(int)
    ours_values = ours.data[tuple(points.T)].astype(np.float64)
    their_values = their_data[tuple(idx.T)]
    scale = max(float(np.abs(ours_values).max()), 1.0)
    np.testing.assert_allclose(their_values, ours_values, atol=1e-4 * scale, rtol=1e-5)


def small_volume(
    layout: str = "axial",
    shape: tuple[int, int, int] = (16, 20, 12),
    spacing: tuple[float, float, float] = (0.5, 0.5, 0.8),
    seed: int = 0,
) -> Volume:
    """A small structured int16 volume in a layout."""
    return Volume(smooth_volume(shape, seed), layout_affine(layout, spacing))


def edit_file(path: Path, **attributes: object) -> None:
    """Change top-level attributes of one DICOM file in place (keyword=value)."""
    import pydicom

    ds = pydicom.dcmread(path)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path)
