"""nvc-viewer: plan microvascular decompression on brainstem MRI.

The core library (no napari, no Qt). Public entry points::

    import nvc_viewer
    vol = nvc_viewer.load("case/")          # a DICOM folder or a NIfTI file -> Volume
"""

from __future__ import annotations

from .errors import NVCError
from .volume import Volume, VolumeMeta

__all__ = ["NVCError", "Volume", "VolumeMeta", "load"]
__version__ = "0.1.0.dev0"


def load(path, series=None, **kwargs):  # type: ignore[no-untyped-def]
    """Open a DICOM folder or a NIfTI file as a `Volume` (see `nvc_viewer.io.load`)."""
    from .io import load as _load

    return _load(path, series=series, **kwargs)
