"""The label map as a DICOM Segmentation (``segmentation.dcm``), written with highdicom.

One segment per structure present in the label map, numbered 1..n in label order, each coded with
its SNOMED CT anatomy (`nvc_viewer.labels`). The SEG references the T2 series it was made
from and inherits its patient and study modules, as the standard requires.

Frame correspondence is computed from geometry, not assumed from array order: for every frame of
the source series (single-frame files or one Enhanced multi-frame file) the position of each pixel
is computed from ImagePositionPatient / ImageOrientationPatient / PixelSpacing (LPS mm), converted
to RAS, mapped through the label map's inverse affine and sampled at the nearest voxel. On the T2
grid itself this is an exact copy (a slice of the label map, no per-pixel lookup); it stays right
whatever axis order the reader chose.

Only the box of the label map that holds labels is sampled (a frame outside it is 0 without a
look), and the SEG holds a frame per segment only where that segment is present (highdicom's
``omit_empty_frames``, stated); it still references every image of the source series.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_path
from ..errors import ExportError
from ..labels import LABELS
from ..volume import Volume

__all__ = [
    "FrameGeometry",
    "read_source_datasets",
    "warm_up",
    "frame_geometries",
    "labels_on_source_frames",
    "build_dicom_seg",
    "write_dicom_seg",
]


@dataclass(frozen=True)
class FrameGeometry:
    """Where one source frame's pixels are, in patient LPS mm.

    Pixel ``(r, c)`` sits at ``origin_lps + c * col_step_lps + r * row_step_lps``.
    """

    origin_lps: np.ndarray
    col_step_lps: np.ndarray
    row_step_lps: np.ndarray
    rows: int
    columns: int


def read_source_datasets(volume: Volume) -> list:
    """The DICOM headers (no pixel data) of the files a volume was read from, in its order.

    Raises
    ------
    ExportError
        If the volume was not read from DICOM or a file cannot be read any more.
    """
    import pydicom

    if volume.meta.kind != "dicom" or not volume.meta.source_paths:
        raise ExportError(
            f"DICOM SEG/SR need a T2 volume read from DICOM; this one is {volume.meta.kind!r}"
        )
    out = []
    for p in volume.meta.source_paths:
        try:
            ds = pydicom.dcmread(p, stop_before_pixels=True)
        except (OSError, pydicom.errors.InvalidDicomError) as exc:
            raise ExportError(f"cannot read the source DICOM file again ({exc})", path=p) from None
        # Decode every value now: pydicom converts raw elements on first access, in place, and
        # the SEG and SR writers read these datasets at the same time, on two threads.
        for _ in ds.iterall():
            pass
        out.append(ds)
    # An Enhanced multi-frame file may be listed once per frame; keep each file once.
    seen: set[str] = set()
    unique = []
    for ds in out:
        uid = str(ds.SOPInstanceUID)
        if uid not in seen:
            seen.add(uid)
            unique.append(ds)
    return unique


def warm_up() -> None:
    """Load highdicom's tables of the standard (modules and attributes of each IOD), which its
    writers otherwise read from JSON on their first use (about half a second)."""
    with contextlib.suppress(Exception):  # a private helper of highdicom: any change is harmless
        from highdicom import _standard_utils as standard

        standard.get_sop_class_iod_map()
        standard.get_iod_module_map()
        standard.get_module_attribute_map()


def _frame_attr(ds, frame: int, sequence: str, name: str):  # type: ignore[no-untyped-def]
    """An attribute of one frame: per-frame functional group, shared group, then top level."""
    groups = []
    if "PerFrameFunctionalGroupsSequence" in ds:
        groups.append(ds.PerFrameFunctionalGroupsSequence[frame])
    if "SharedFunctionalGroupsSequence" in ds:
        groups.append(ds.SharedFunctionalGroupsSequence[0])
    for group in groups:
        if sequence in group and group[sequence].value:
            value = getattr(group[sequence].value[0], name, None)
            if value is not None:
                return value
    return getattr(ds, name, None)


def frame_geometries(datasets: Sequence) -> list[FrameGeometry]:
    """Geometry of every frame of a series, in the order highdicom counts source frames.

    Parameters
    ----------
    datasets : sequence of pydicom.Dataset
        Single-frame images (one frame each) or exactly one multi-frame image.
    """
    frames: list[FrameGeometry] = []
    for ds in datasets:
        n_frames = int(getattr(ds, "NumberOfFrames", 1) or 1)
        for f in range(n_frames):
            ipp = _frame_attr(ds, f, "PlanePositionSequence", "ImagePositionPatient")
            iop = _frame_attr(ds, f, "PlaneOrientationSequence", "ImageOrientationPatient")
            spacing = _frame_attr(ds, f, "PixelMeasuresSequence", "PixelSpacing")
            if ipp is None or iop is None or spacing is None:
                raise ExportError(
                    "a source frame lacks ImagePositionPatient, ImageOrientationPatient or "
                    f"PixelSpacing (frame {f} of {ds.SOPInstanceUID})"
                )
            iop = np.asarray(iop, dtype=np.float64)
            row_spacing, col_spacing = (float(v) for v in spacing)
            frames.append(
                FrameGeometry(
                    origin_lps=np.asarray(ipp, dtype=np.float64),
                    # IOP[:3] is the direction in which the column index grows.
                    col_step_lps=iop[:3] * col_spacing,
                    row_step_lps=iop[3:] * row_spacing,
                    rows=int(ds.Rows),
                    columns=int(ds.Columns),
                )
            )
    return frames


def labels_on_source_frames(labels: Volume, frames: Sequence[FrameGeometry]) -> np.ndarray:
    """Sample a label map at the pixel centres of source frames (nearest voxel).

    Parameters
    ----------
    labels : Volume
        ``(I, J, K)`` label map with its voxel -> RAS affine.
    frames : sequence of FrameGeometry
        All frames have the same ``rows`` x ``columns``.

    Returns
    -------
    (F, rows, columns) uint8 ndarray
        0 outside the label map.
    """
    if len({(fr.rows, fr.columns) for fr in frames}) != 1:
        raise ExportError("source frames differ in size; cannot build one segmentation")
    rows, cols = frames[0].rows, frames[0].columns
    inv = np.linalg.inv(labels.affine)
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    data = labels.data
    out = np.zeros((len(frames), rows, cols), dtype=np.uint8)
    r = np.arange(rows, dtype=np.float64)[:, None]
    c = np.arange(cols, dtype=np.float64)[None, :]
    low, high = _nonzero_box(data)
    if low is None or high is None:
        return out  # an empty label map: every frame is empty
    # Only the box holding the labels is looked at: every voxel outside it is 0.
    data = data[tuple(slice(lo, hi + 1) for lo, hi in zip(low, high))]
    data = _slices_contiguous(data, inv, frames[0])
    for n, fr in enumerate(frames):
        # Pixel -> LPS -> RAS -> voxel is affine in (r, c): map the origin and the two steps.
        ijk0 = inv[:3, :3] @ (fr.origin_lps * lps_to_ras) + inv[:3, 3] - low
        d_col = inv[:3, :3] @ (fr.col_step_lps * lps_to_ras)
        d_row = inv[:3, :3] @ (fr.row_step_lps * lps_to_ras)
        raw = []
        for a in range(3):
            # On the volume's own grid each voxel index follows rows or columns only: keep it
            # 1-D (a broadcastable row or column) so a frame costs a slice copy, not a 3-D map.
            along = ijk0[a]
            if abs(d_row[a]) * rows > 1e-3:
                along = along + r * d_row[a]
            if abs(d_col[a]) * cols > 1e-3:
                along = along + c * d_col[a]
            raw.append(np.rint(np.atleast_2d(along)).astype(np.intp))
        frame = _slice_of(data, raw, rows, cols)
        if frame is not None:
            out[n] = frame
            continue
        index, inside = [], np.ones((1, 1), dtype=bool)
        for a, idx in enumerate(raw):
            inside = inside & (idx >= 0) & (idx < data.shape[a])
            index.append(np.clip(idx, 0, data.shape[a] - 1))
        if not inside.any():
            continue  # the frame misses every labelled voxel: it stays 0
        values = data[index[0], index[1], index[2]]
        out[n] = values if inside.all() else np.where(inside, values, 0)
    return out


def _slices_contiguous(data: np.ndarray, inv: np.ndarray, frame: FrameGeometry) -> np.ndarray:
    """``data``, copied once if need be so that the slices the frames cut are contiguous.

    When the frames lie across the first or last array axis but the array is stored the other
    way round, each frame would gather its pixels a whole stride apart; one copy (of the
    labelled box) in the other memory order is cheaper than that for every frame.
    """
    lps_to_ras = np.array([-1.0, -1.0, 1.0])
    d_col = inv[:3, :3] @ (frame.col_step_lps * lps_to_ras)
    d_row = inv[:3, :3] @ (frame.row_step_lps * lps_to_ras)
    across = np.abs(d_col) + np.abs(d_row) < 1e-6  # the axis the frame does not run along
    if across[2] and not data.flags.f_contiguous:
        return np.asfortranarray(data)
    if across[0] and not data.flags.c_contiguous:
        return np.ascontiguousarray(data)
    return data


def _nonzero_box(data: np.ndarray) -> tuple[list[int] | None, list[int] | None]:
    """Smallest and largest index of a non-zero voxel along each axis ((None, None): none)."""
    low, high = [], []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(data.any(axis=others))
        if hit.size == 0:
            return None, None
        low.append(int(hit[0]))
        high.append(int(hit[-1]))
    return low, high


def _slice_of(
    data: np.ndarray, index: Sequence[np.ndarray], rows: int, cols: int
) -> np.ndarray | None:
    """The frame ``data[index]`` (0 outside ``data``) as a plain slice when the frame lies on
    the volume's own grid.

    On the grid, one index is constant and the other two run by +-1 along the frame's rows and
    columns: the frame is a 2-D slice of ``data`` (transposed as needed), copied without a
    per-pixel lookup. None when it is not so (oblique or resampled frames).
    """
    empty = np.zeros((rows, cols), dtype=data.dtype)
    picks: list[Any] = [None, None, None]
    along_rows = along_cols = None
    cut_rows, cut_cols = slice(0, rows), slice(0, cols)
    for a, ix in enumerate(index):
        size = data.shape[a]
        if ix.size == 1:
            picks[a] = int(ix.flat[0])
            if not 0 <= picks[a] < size:
                return empty  # the frame's plane misses the box
            continue
        line = ix.ravel()
        step = int(line[1] - line[0])
        if step not in (1, -1) or not np.array_equal(
            line, line[0] + step * np.arange(line.size, dtype=line.dtype)
        ):
            return None
        within = np.flatnonzero((line >= 0) & (line < size))
        if within.size == 0:
            return empty
        first, last = int(within[0]), int(within[-1])
        stop = int(line[last]) + step
        picks[a] = slice(int(line[first]), None if stop < 0 else stop, step)
        if ix.shape == (rows, 1) and along_rows is None:
            along_rows, cut_rows = a, slice(first, last + 1)
        elif ix.shape == (1, cols) and along_cols is None:
            along_cols, cut_cols = a, slice(first, last + 1)
        else:
            return None
    if along_rows is None or along_cols is None:
        return None
    plane = data[tuple(picks)]  # 2-D: the two running axes in data's order
    empty[cut_rows, cut_cols] = plane if along_rows < along_cols else plane.T
    return empty


def _values_present(data: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array. For bytes, a test per value up to the largest
    (a label map holds a handful): far quicker than sorting, or counting in 8-byte integers,
    a whole volume."""
    if data.dtype == np.uint8 and data.size:
        top = int(data.max())
        return np.array([0, *(v for v in range(1, top + 1) if (data == v).any())])
    return np.unique(data)


def _label_array(labels: Volume) -> Volume:
    data = labels.data
    if data.dtype == bool:
        data = data.astype(np.uint8)
    elif not np.issubdtype(data.dtype, np.integer):
        raise ExportError(f"a label map holds integers; got dtype {data.dtype}")
    low, high = _nonzero_box(data)  # the values are looked for in the labelled box only
    box = (
        data
        if low is None or high is None
        else data[tuple(slice(lo, hi + 1) for lo, hi in zip(low, high))]
    )
    values = _values_present(box)
    unknown = sorted(int(v) for v in values if v != 0 and int(v) not in LABELS)
    if unknown:
        raise ExportError(
            f"label value(s) {unknown} are not in the label table (1..{max(LABELS)}); they "
            "cannot be coded in a DICOM SEG"
        )
    return labels.with_data(data.astype(np.uint8, copy=False))


def build_dicom_seg(
    labels: Volume,
    source_datasets: Sequence,
    *,
    algorithm_type: str = "AUTOMATIC",
    algorithm_name: str = "nvc-viewer",
    algorithm_version: str | None = None,
    series_number: int = 901,
    series_description: str = "nvc-viewer segmentation",
):  # type: ignore[no-untyped-def]
    """Build the DICOM Segmentation dataset (in memory).

    Parameters
    ----------
    labels : Volume
        Label map (the values of `nvc_viewer.labels.LABELS`), normally on the T2 grid.
    source_datasets : sequence of pydicom.Dataset
        The T2 series' headers (`read_source_datasets`).
    algorithm_type : {"AUTOMATIC", "SEMIAUTOMATIC", "MANUAL"}
        How the label map was made.
    algorithm_name, algorithm_version : str
        Recorded in each segment's algorithm identification.
    series_number : int
    series_description : str

    Returns
    -------
    highdicom.seg.Segmentation

    Raises
    ------
    ExportError
        Unknown label values, an empty label map, or source frames without geometry.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from .. import __version__

    labels = _label_array(labels)
    if not source_datasets:
        raise ExportError("no source DICOM datasets to reference")
    frames = frame_geometries(source_datasets)
    on_frames = labels_on_source_frames(labels, frames)
    present = [int(v) for v in _values_present(on_frames) if v != 0]
    if not present:
        raise ExportError("the label map is empty on the source frames: nothing to segment")
    sources = list(source_datasets)
    # DICOM segment numbers run 1..n without gaps: renumber the labels present.
    lut = np.zeros(256, dtype=np.uint8)
    descriptions = []
    family = codes.cid7162.MultiScaleResolutionFiltering
    algo = hd.AlgorithmIdentificationSequence(
        name=algorithm_name, family=family, version=algorithm_version or __version__
    )
    for number, value in enumerate(present, start=1):
        lut[value] = number
        info = LABELS[value]
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=info.name[:64],
                segmented_property_category=hd.sr.CodedConcept(*info.category),
                segmented_property_type=hd.sr.CodedConcept(*info.type),
                algorithm_type=algorithm_type,
                algorithm_identification=(algo if algorithm_type != "MANUAL" else None),
                tracking_id=info.key,
                tracking_uid=hd.UID(),
                display_color=hd.color.CIELabColor.from_rgb(*info.rgb),
            )
        )
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=lut[on_frames],
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        omit_empty_frames=True,
        series_instance_uid=hd.UID(),
        series_number=series_number,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="nvc-viewer",
        manufacturer_model_name="nvc-viewer",
        software_versions=__version__,
        device_serial_number="none",
        series_description=series_description,
        content_label="NVC_SEG",
        content_description="Brainstem, CPA cistern, cranial nerves V/VII/VIII and vessels",
    )
    return seg


def write_dicom_seg(
    labels: Volume,
    t2: Volume,
    path: str | os.PathLike[str],
    *,
    source_datasets: Sequence | None = None,
    **kwargs: object,
) -> Path:
    """Write the label map as a DICOM SEG referencing the T2 series (atomic).

    Parameters
    ----------
    labels : Volume
        Label map on the T2 grid (any grid works: it is sampled at the source pixel centres).
    t2 : Volume
        The T2 volume read from DICOM (``meta.source_paths`` are re-read for their headers).
    path : path-like
        Usually ``segmentation.dcm``.
    source_datasets : sequence of pydicom.Dataset, optional
        The T2 headers, if already in memory.
    **kwargs
        Passed to `build_dicom_seg`.

    Returns
    -------
    Path
    """
    datasets = list(source_datasets) if source_datasets is not None else read_source_datasets(t2)
    seg = build_dicom_seg(labels, datasets, **kwargs)  # type: ignore[arg-type]
    with atomic_path(path) as tmp:
        seg.save_as(tmp, enforce_file_format=True)
    return Path(path)
