"""Size limits checked from headers, before any pixel memory is allocated."""

from __future__ import annotations

import os
from collections.abc import Sequence
from os import PathLike

from ..errors import ImageTooLargeError

#: Largest volume accepted, in voxels (a 0.3 mm whole-head scan is about 200 Mvoxel).
MAX_VOXELS = int(os.environ.get("NVC_MAX_VOXELS", 1_000_000_000))
#: Largest volume accepted, in bytes of decoded pixel data.
MAX_BYTES = int(os.environ.get("NVC_MAX_BYTES", 8 * 1024**3))
#: Largest deflated DICOM data set accepted, in bytes once inflated. Its size is unknown until
#: it is inflated (pydicom inflates it whole, in memory), so it is measured first by a bounded
#: stream: a "zip bomb" stops here.
MAX_INFLATED_BYTES = int(os.environ.get("NVC_MAX_INFLATED_BYTES", 1024**3))


def check_size(shape: Sequence[int], itemsize: int, path: str | PathLike[str]) -> None:
    """Refuse a header whose claimed size is absurd, before allocating anything."""
    nvox = 1
    for n in shape:
        nvox *= max(int(n), 0)
    if nvox > MAX_VOXELS or nvox * itemsize > MAX_BYTES:
        raise ImageTooLargeError(
            f"header claims {tuple(int(n) for n in shape)} voxels of {itemsize} bytes "
            f"({nvox * itemsize / 1024**3:.1f} GiB), over the limit of {MAX_VOXELS} voxels / "
            f"{MAX_BYTES / 1024**3:.0f} GiB; the header is probably corrupt "
            "(raise NVC_MAX_VOXELS / NVC_MAX_BYTES if the image is real)",
            path=path,
        )
