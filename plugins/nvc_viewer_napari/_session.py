"""The open case: the core's case model (`nvc_viewer.session`), re-exported for the panels.

The rules of a case -- which series are the T2 and the TOF, its findings, undo/redo, autosave,
its machine and corrected label maps, export -- live in the core, without Qt, so that the
viewer, the batch command and ``nvc-viewer export`` share them. The panels drive a
`CaseSession` and redraw when it tells them (`CaseSession.subscribe`).
"""

from __future__ import annotations

from nvc_viewer.session import (
    CORRECTED_SEGMENTATION_FILE,
    SEGMENTATION_FILE,
    CaseSession,
    SeriesEntry,
    choose_series,
    default_roles,
    default_workspace,
    list_series,
    read_entry,
)

__all__ = [
    "SeriesEntry",
    "list_series",
    "read_entry",
    "choose_series",
    "default_roles",
    "default_workspace",
    "CaseSession",
    "SEGMENTATION_FILE",
    "CORRECTED_SEGMENTATION_FILE",
]
