"""DICOM reader: scan a folder into series, read one series as a `Volume`.

Design note
-----------
**Array axes.** ``data[i, j, k]`` = (image column, image row, slice), as nibabel and dcm2niix:
``i`` runs along ImageOrientationPatient's row cosine ``r`` (IOP[0:3]) in steps of PixelSpacing[1],
``j`` along its column cosine ``c`` (IOP[3:6]) in steps of PixelSpacing[0], and ``k`` along the
slice normal ``n = r x c``: slices are sorted by ``ImagePositionPatient . n`` -- never by
InstanceNumber, frame number or file name. The LPS affine is::

    [ r * PixelSpacing[1] | c * PixelSpacing[0] | (P[K-1] - P[0]) / (K - 1) | P[0] ]

with ``P[k]`` the ImagePositionPatient of sorted slice ``k`` (the *measured* step, not
SliceThickness), converted to RAS with `nvc_viewer.geometry.lps_to_ras`. The array is the
F-ordered transpose of the ``(slice, row, column)`` buffer the pixels are read into (no copy).

**Two passes, one read per byte.** `scan_dicom` reads headers only (``stop_before_pixels``) and
records, for every 2-D image (a classic file or one frame of an Enhanced multi-frame file), its
geometry, rescale and where its pixel bytes lie in the file. It groups images into series
(SeriesInstanceUID, then geometry, echo and -- when positions repeat -- acquisition, temporal
position or image type), sorts them and diagnoses the stack (missing slices, uneven spacing,
gantry tilt, mixed geometry, truncated pixel data) without raising: problems are listed in
`SeriesInfo.problems`. `read_series` raises the first problem as its typed error, checks the
size, then reads uncompressed pixels straight from the recorded file offsets into the output
array (no second header parse); compressed transfer syntaxes go through pydicom's decoders and
the pylibjpeg / pyjpegls plugins.

Classic files in little-endian syntaxes (nearly every MR series) have their headers parsed by a
small reader of their own (`_parse_header`, about 0.2 ms per file against 2 ms for pydicom's
``dcmread`` plus value conversion); everything else goes through pydicom. Parallel scanning does

**Modules.** One concern each; this package re-exports the public names:

- `_records.py`: `SeriesInfo`, `DicomScan`, and the per-file / per-image records of the scan;
- `_header.py`: the fast byte-level header parsers (classic files, Enhanced per-frame groups);
- `_scan.py`: `scan_dicom`, `looks_like_dicom`: files -> images, each file's problems;
- `_stack.py`: images -> series, the sorted stack, its affine and its problems;
- `_pixels.py`: `read_series`: pixels into the volume, decoders;
- `_pick.py`: `pick_series`, `load_dicom`, and why nothing could be picked;
- `_describe.py`: `describe_scan`, the ``nvc-viewer info`` table.
"""

from __future__ import annotations

from ._describe import describe_scan
from ._pick import load_dicom, pick_series
from ._pick import skipped_summary as skipped_summary
from ._pixels import read_series
from ._records import DicomScan, SeriesInfo
from ._scan import looks_like_dicom, scan_dicom
from ._stack import IOP_TOLERANCE as IOP_TOLERANCE
from ._stack import SAME_POSITION_MM as SAME_POSITION_MM
from ._stack import STEP_TOLERANCE_FRACTION as STEP_TOLERANCE_FRACTION
from ._stack import STEP_TOLERANCE_MM as STEP_TOLERANCE_MM
from ._stack import TILT_TOLERANCE_MM as TILT_TOLERANCE_MM

__all__ = [
    "SeriesInfo",
    "DicomScan",
    "scan_dicom",
    "read_series",
    "pick_series",
    "load_dicom",
    "describe_scan",
    "looks_like_dicom",
]
