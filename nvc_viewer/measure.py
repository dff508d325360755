"""Display arithmetic of the viewer: lengths and angles in mm, window/level and its presets.

Design note
-----------
The viewer's display tools (the ruler, the angle tool, the window/level presets and the
right-drag window/level) keep their arithmetic here, free of napari and Qt, so that it is tested
on its own. Points are in napari world coordinates, which are patient millimetres: the display
world is the T2 grid put on (S, P, L) axes by flips and transposes only (docs/design.md,
section 2), so distances and angles in it are distances and angles in the patient, also for an
oblique acquisition (the residual rotation moves the axes, not the lengths).

Window/level presets are not fixed numbers: MR intensities have no absolute scale, so each
preset is a pair of percentiles of the case's own intensities inside the head (`head_sample`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "WindowPreset",
    "WINDOW_PRESETS",
    "polyline_length_mm",
    "angle_deg",
    "describe_shape",
    "window_level",
    "limits_of",
    "drag_limits",
    "head_sample",
    "preset_limits",
]

# Percentiles are computed on at most about this many voxels (a strided subsample).
_MAX_STATS_VOXELS = 2_000_000
# "Inside the head": brighter than this fraction of the 99th percentile of the volume. Air and
# the zeros around a resampled slab are well below it, the darkest tissue of a heavy-T2 or a
# TOF (bone, fat-suppressed stationary tissue) well above.
_HEAD_FRACTION = 0.05
# Fewer head voxels than this: the percentiles of every voxel instead.
_MIN_HEAD_VOXELS = 100


@dataclass(frozen=True)
class WindowPreset:
    """A window/level preset as two percentiles of the image's intensities inside the head.

    Attributes
    ----------
    name : str
        Name in the preset list (``"CISS: CSF/nerves"``).
    role : str
        The image it is for: ``"t2"`` (heavy-T2 CISS/FIESTA) or ``"tof"``.
    low, high : float
        Percentiles (0-100) of the head voxels at the lower and upper contrast limit.
    text : str
        What it shows, for a tooltip.
    """

    name: str
    role: str
    low: float
    high: float
    text: str


#: The presets offered in the viewer, T2 first.
WINDOW_PRESETS: tuple[WindowPreset, ...] = (
    WindowPreset("CISS: CSF/nerves", "t2", 50.0, 99.8,
                 "Narrow window on the bright cisterns: dark nerves and vessels in white CSF"),
    WindowPreset("CISS: wide", "t2", 0.5, 99.9,
                 "Everything inside the head, brainstem and cerebellum readable"),
    WindowPreset("TOF: arteries", "tof", 98.0, 99.9,
                 "Only the brightest inflow: arteries"),
    WindowPreset("TOF: all inflow", "tof", 85.0, 99.9,
                 "Slower inflow too: small branches and veins"),
)  # fmt: skip


def _points(points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"need an (n >= 2, d) array of points, got shape {array.shape}")
    return array


def polyline_length_mm(points: npt.ArrayLike) -> float:
    """Length of the polyline through ``points`` (world mm).

    Parameters
    ----------
    points : (n, d) array-like
        Vertices in mm, ``n >= 2``; two points give the length of a line.

    Returns
    -------
    float
        Sum of the segment lengths, mm.
    """
    array = _points(points)
    return float(np.linalg.norm(np.diff(array, axis=0), axis=1).sum())


def angle_deg(points: npt.ArrayLike) -> float:
    """Angle at the middle of three points (a two-segment path), in degrees.

    Parameters
    ----------
    points : (3, d) array-like
        The first arm's end, the vertex, the second arm's end (mm).

    Returns
    -------
    float
        0-180 degrees.

    Raises
    ------
    ValueError
        If there are not three points or an arm has no length.
    """
    array = _points(points)
    if array.shape[0] != 3:
        raise ValueError(f"an angle needs three points, got {array.shape[0]}")
    first, second = array[0] - array[1], array[2] - array[1]
    norms = np.linalg.norm(first) * np.linalg.norm(second)
    if norms == 0:
        raise ValueError("an arm of the angle has no length")
    cosine = float(np.clip(np.dot(first, second) / norms, -1.0, 1.0))
    return float(np.degrees(np.arccos(cosine)))


def describe_shape(points: npt.ArrayLike, shape_type: str) -> str:
    """The measurement of a drawn shape as the viewer shows it.

    Parameters
    ----------
    points : (n, d) array-like
        The shape's vertices in world mm.
    shape_type : str
        napari's shape type: ``"line"`` gives its length, a ``"path"`` of three vertices the
        angle at the middle one, a longer path its length.

    Returns
    -------
    str
        ``"12.3 mm"``, ``"87.5°"``, or ``""`` for other shapes (and degenerate angles).
    """
    array = np.asarray(points, dtype=np.float64)
    if shape_type not in ("line", "path") or array.ndim != 2 or array.shape[0] < 2:
        return ""
    if shape_type == "path" and array.shape[0] == 3:
        try:
            return f"{angle_deg(array):.1f}°"
        except ValueError:
            return ""
    return f"{polyline_length_mm(array):.1f} mm"


def window_level(limits: Sequence[float]) -> tuple[float, float]:
    """``(window, level)`` of contrast limits ``(low, high)``."""
    low, high = float(limits[0]), float(limits[1])
    return high - low, (high + low) / 2.0


def limits_of(window: float, level: float) -> tuple[float, float]:
    """Contrast limits ``(low, high)`` of a window and level."""
    return level - window / 2.0, level + window / 2.0


def drag_limits(
    limits: Sequence[float],
    dx: float,
    dy: float,
    value_range: Sequence[float],
    *,
    pixels: float = 400.0,
) -> tuple[float, float]:
    """Contrast limits after a window/level drag, as on a PACS.

    Parameters
    ----------
    limits : (low, high)
        The contrast limits when the drag started.
    dx, dy : float
        Mouse movement since the press, screen pixels (``dy`` positive downwards).
        Rightwards widens the window (less contrast); downwards raises the level (a darker
        image), upwards lowers it (brighter).
    value_range : (min, max)
        The image's range of values; a drag of ``pixels`` changes window or level by its width.
    pixels : float
        Sensitivity: pixels of mouse movement for the whole range.

    Returns
    -------
    (low, high)
        The window stays between a thousandth and twice the range, the level within the range.
    """
    lo, hi = float(value_range[0]), float(value_range[1])
    span = hi - lo if hi > lo else 1.0
    per_pixel = span / pixels
    window, level = window_level(limits)
    window = float(np.clip(window + dx * per_pixel, span * 1e-3, 2.0 * span))
    level = float(np.clip(level + dy * per_pixel, lo, hi))
    return limits_of(window, level)


def head_sample(data: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The voxels inside the head, of a strided subsample of at most about two million.

    "Inside the head" is brighter than 5 % of the volume's 99th percentile: air and the zeros a
    resampling leaves outside a slab are left out. With fewer than 100 such voxels, every voxel.

    Parameters
    ----------
    data : array-like
        The image (any number of dimensions).

    Returns
    -------
    1-D ndarray of float64
    """
    array = np.asarray(data)
    step = max(1, int(np.ceil((array.size / _MAX_STATS_VOXELS) ** (1 / max(array.ndim, 1)))))
    sample = np.asarray(array[(slice(None, None, step),) * array.ndim], dtype=np.float64).ravel()
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return sample
    threshold = _HEAD_FRACTION * float(np.percentile(sample, 99.0))
    head = sample[sample > threshold]
    return head if head.size >= _MIN_HEAD_VOXELS else sample


def preset_limits(data: npt.ArrayLike, preset: WindowPreset) -> tuple[float, float]:
    """Contrast limits of ``preset`` for an image: its percentiles of the head voxels.

    Parameters
    ----------
    data : array-like
        The image the preset is applied to.
    preset : WindowPreset

    Returns
    -------
    (low, high)
        Never an empty range.
    """
    sample = head_sample(data)
    if sample.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(sample, [preset.low, preset.high]))
    if high <= low:
        high = float(sample.max())
    if high <= low:
        high = low + 1.0
    return low, high
