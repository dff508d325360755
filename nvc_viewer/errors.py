"""The project's exception tree.

Every error a user can cause (a bad file, a bad folder, a bad argument) is an :class:`NVCError`
subclass whose message names the file or argument, says what is wrong and, where there is one,
what to do instead. The CLI and the napari plugin show the message; tracebacks only with
``--debug``.
"""

from __future__ import annotations

from os import PathLike

__all__ = [
    "NVCError",
    "InvalidVolumeError",
    "InputError",
    "InputNotFoundError",
    "NotAnImageError",
    "CorruptFileError",
    "UnsupportedImageError",
    "ImageTooLargeError",
    "NonFiniteDataError",
    "SeriesError",
    "NoSeriesFoundError",
    "SeriesSelectionError",
    "SeriesMismatchError",
    "MixedGeometryError",
    "MissingSliceError",
    "UnevenSpacingError",
    "GantryTiltError",
    "InvalidFindingError",
    "FindingsFileError",
    "ExportError",
    "AnalysisError",
    "AnalysisCancelled",
]


class NVCError(Exception):
    """Base of every error nvc-viewer raises on purpose.

    Parameters
    ----------
    message : str
        What is wrong and, where possible, what to do about it.
    path : str or PathLike, optional
        The file or folder concerned; prefixed to the message.
    """

    def __init__(self, message: str, *, path: str | PathLike[str] | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InvalidVolumeError(NVCError, ValueError):
    """A `Volume` was given an array or affine that cannot describe a 3-D image."""


class InputError(NVCError):
    """The input files cannot be read as asked."""


class InputNotFoundError(InputError, FileNotFoundError):
    """The path does not exist."""


class NotAnImageError(InputError):
    """The file is neither DICOM nor NIfTI, or the folder holds no image file."""


class CorruptFileError(InputError):
    """The file is truncated or its content contradicts its header."""


class UnsupportedImageError(InputError):
    """The file is an image, but not one this tool handles (4-D, 2-D, unknown pixel format)."""


class ImageTooLargeError(UnsupportedImageError):
    """The header claims a size beyond the configured limit; refused before allocating."""


class NonFiniteDataError(InputError):
    """The image holds NaN or infinite values."""


class SeriesError(InputError):
    """A DICOM series cannot be assembled into one volume."""


class NoSeriesFoundError(SeriesError):
    """The folder holds no readable DICOM image series."""


class SeriesSelectionError(SeriesError):
    """Several series fit and none was chosen, or the chosen one does not exist."""


class SeriesMismatchError(SeriesError):
    """Saved findings were made on another series than the one opened."""


class MixedGeometryError(SeriesError):
    """Slices of one series disagree on orientation, matrix size or pixel spacing."""


class MissingSliceError(SeriesError):
    """A gap in the slice positions shows that slices are missing."""


class UnevenSpacingError(SeriesError):
    """Slice positions are not evenly spaced (and no gap explains it)."""


class GantryTiltError(SeriesError):
    """The slice stack is sheared: slices are not stacked along their normal."""


class InvalidFindingError(NVCError, ValueError):
    """A landmark, finding or case record was given a value outside the findings schema."""


class FindingsFileError(InputError):
    """A findings file (JSON, CSV, Slicer markups) is unreadable or breaks its schema."""


class ExportError(NVCError):
    """An export cannot be written as asked (e.g. DICOM SEG for a NIfTI case)."""


class AnalysisError(NVCError):
    """The automatic analysis cannot run on this image (e.g. no brainstem in the field of view)."""


class AnalysisCancelled(AnalysisError):
    """The user cancelled a running analysis (raised between stages when ``cancel()`` is true)."""
