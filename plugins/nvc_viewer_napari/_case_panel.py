"""The case panel: pick the input, see every series it holds, choose the T2 and the TOF, open.

The table lists each series of the input -- DICOM series and NIfTI files alike -- with its
description, sequence, number of slices, voxel size, the role guessed from its tags or file
name (``label`` for a label map, never offered as the T2 or the TOF), and any problem that stops
it from being read. The T2 and TOF choices start at the core's proposal
(`nvc_viewer.session.default_roles`, the batch command's rule); the surgeon can change both.
Opening loads the two series through the core, fuses the TOF over the T2 (resampled into the
T2 grid, additive red overlay with its own contrast) and restores whatever the workspace holds
for the case; saved findings made on another series are refused with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qtpy.QtCore import Qt, Signal
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nvc_viewer.errors import NVCError
from nvc_viewer.session import SeriesEntry, default_roles, list_series, read_entry
from nvc_viewer.workspace import Workspace, case_id_for, sanitize_case_id

from ._case_view import case_view_for
from ._shortcuts import relay_shortcuts

if TYPE_CHECKING:
    import napari

__all__ = ["CasePanel", "SERIES_COLUMNS"]

#: Columns of the series table.
SERIES_COLUMNS = ("Series", "Description", "Sequence", "Slices", "Spacing (mm)", "Role", "Problems")
_NO_TOF = "(no TOF)"


class CasePanel(QWidget):
    """Series picker and case opener.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    workspace : path-like, optional
        Where the case's findings are autosaved (see `._case_view.case_view_for`).
    """

    #: Emitted with the case id when a case has been opened and drawn.
    opened = Signal(str)

    def __init__(
        self,
        napari_viewer: napari.Viewer,
        *,
        workspace: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.view = case_view_for(napari_viewer, workspace=workspace)
        self.entries: list[SeriesEntry] = []
        self.path: Path | None = None

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("DICOM folder, NIfTI file or folder of NIfTI files")
        self.path_edit.returnPressed.connect(lambda: self.scan(self.path_edit.text()))
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._browse_folder)
        file_button = QPushButton("File…")
        file_button.clicked.connect(self._browse_file)
        scan_button = QPushButton("List series")
        scan_button.clicked.connect(lambda: self.scan(self.path_edit.text()))
        path_row = QHBoxLayout()
        for w in (self.path_edit, folder_button, file_button, scan_button):
            path_row.addWidget(w)

        self.table = QTableWidget(0, len(SERIES_COLUMNS))
        self.table.setHorizontalHeaderLabels(SERIES_COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.cellDoubleClicked.connect(lambda row, _col: self.set_t2(self.entries[row].key))

        self.t2_combo = QComboBox()
        self.tof_combo = QComboBox()
        self.case_id_edit = QLineEdit()
        self.case_id_edit.setToolTip("Pseudonym of the case: the workspace folder's name")
        self.open_button = QPushButton("Open case")
        self.open_button.clicked.connect(self.open_case)
        self.open_button.setEnabled(False)
        form = QFormLayout()
        form.addRow("T2 (reference)", self.t2_combo)
        form.addRow("TOF (fused)", self.tof_combo)
        form.addRow("Case id", self.case_id_edit)

        self.workspace_label = QLabel()
        self.workspace_label.setWordWrap(True)
        self.workspace_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        workspace_button = QPushButton("Workspace…")
        workspace_button.clicked.connect(self._browse_workspace)
        ws_row = QHBoxLayout()
        ws_row.addWidget(self.workspace_label, 1)
        ws_row.addWidget(workspace_button)

        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addLayout(path_row)
        layout.addWidget(self.table)
        layout.addLayout(form)
        layout.addWidget(self.open_button)
        layout.addLayout(ws_row)
        layout.addWidget(self.status)
        self._show_workspace()
        # the findings' shortcuts act here too (a table and a combo box would search with them)
        relay_shortcuts(napari_viewer, self.table, self.t2_combo, self.tof_combo)

    # -- public actions -------------------------------------------------------------------
    def scan(self, path: str | os.PathLike[str]) -> list[SeriesEntry]:
        """List the series of ``path`` and propose the T2 and TOF.

        Returns the entries (empty, with the reason in the status line, when the path cannot
        be read).
        """
        path = Path(str(path).strip())
        self.path_edit.setText(str(path))
        try:
            entries = list_series(path)
        except NVCError as exc:
            self._fill([])
            self._say(str(exc), error=True)
            return []
        self.path = path
        self._fill(entries)
        t2, tof = default_roles(entries)
        self.set_t2(t2)
        self.set_tof(tof)
        self.case_id_edit.setText(case_id_for(path))
        readable = sum(1 for e in entries if not e.problems)
        self._say(
            f"{len(entries)} series ({readable} readable). Check T2 and TOF, then Open case."
            if entries
            else "no image series found"
        )
        return entries

    def set_t2(self, key: str | None) -> None:
        """Choose the T2 reference series by key (None: no choice)."""
        index = self.t2_combo.findData(key) if key is not None else -1
        self.t2_combo.setCurrentIndex(index)
        self.open_button.setEnabled(index >= 0)

    def set_tof(self, key: str | None) -> None:
        """Choose the TOF series by key; None for no TOF."""
        index = self.tof_combo.findData(key) if key is not None else 0
        self.tof_combo.setCurrentIndex(max(index, 0))

    @property
    def t2_key(self) -> str | None:
        return self.t2_combo.currentData()

    @property
    def tof_key(self) -> str | None:
        return self.tof_combo.currentData()

    def open_case(self) -> bool:
        """Load the chosen series and show the case; False (reason in the status) on failure."""
        by_key = {e.key: e for e in self.entries}
        if self.t2_key not in by_key:
            self._say("choose the T2 series first", error=True)
            return False
        if self.tof_key is not None and self.tof_key == self.t2_key:
            self._say("the TOF cannot be the T2 series itself", error=True)
            return False
        case_id = sanitize_case_id(self.case_id_edit.text().strip() or "case")
        try:
            t2 = read_entry(by_key[self.t2_key])
            tof = read_entry(by_key[self.tof_key]) if self.tof_key is not None else None
            self.view.open_case(t2, tof, case_id=case_id, input_path=self.path)
        except NVCError as exc:
            self._say(str(exc), error=True)
            return False
        case = self.view.session.findings
        assert case is not None
        restored = (
            f"restored {len(case.findings)} finding(s) from the workspace"
            if case.findings
            else "new case"
        )
        self._say(f"opened {case_id}: {restored}")
        self._show_workspace()
        self.opened.emit(case_id)
        return True

    def open_volumes(self, paths: Sequence[str], series: str | None = None) -> bool:
        """Scan the first path and open it with the proposed roles (``series`` picks the T2)."""
        if not paths:
            return False
        if not self.scan(paths[0]):
            return False
        if series is not None:
            matches = [e.key for e in self.entries if series in (e.key, e.description)]
            if not matches:
                self._say(f"no series {series!r} in {paths[0]}", error=True)
                return False
            self.set_t2(matches[0])
            if self.tof_key == matches[0]:
                self.set_tof(None)
        return self.open_case()

    def show_opened(self, path: str | os.PathLike[str]) -> None:
        """List the series of a case opened elsewhere (``nvc-viewer view PATH``) and mark the
        T2 and TOF that are shown."""
        session = self.view.session
        if not self.scan(path) or session.t2 is None:
            return
        for combo, volume in ((self.t2_combo, session.t2), (self.tof_combo, session.tof)):
            if volume is None:
                continue
            for e in self.entries:
                same = (e.kind == "dicom" and e.source.series_uid == volume.meta.series_uid) or (
                    e.kind == "nifti"
                    and str(Path(e.source).resolve())
                    in {str(Path(p).resolve()) for p in volume.meta.source_paths}
                )
                if same:
                    combo.setCurrentIndex(combo.findData(e.key))
        if session.case_id is not None:
            self.case_id_edit.setText(session.case_id)
        case = session.findings
        n = 0 if case is None else len(case.findings)
        self._say(
            f"opened {session.case_id}: {n} finding(s) restored"
            if n
            else f"opened {session.case_id}: new case"
        )
        self.opened.emit(session.case_id or "")

    def set_workspace(self, root: str | os.PathLike[str]) -> None:
        """Autosave into another workspace (takes effect for the next case opened)."""
        self.view.session.workspace = Workspace(root)
        self._show_workspace()

    # -- helpers --------------------------------------------------------------------------
    def _fill(self, entries: list[SeriesEntry]) -> None:
        self.entries = entries
        self.table.setRowCount(len(entries))
        for row, e in enumerate(entries):
            spacing = " × ".join(f"{s:.2g}" for s in e.spacing_mm)
            cells = (
                e.key,
                e.description,
                e.sequence,
                str(e.n_slices),
                spacing,
                e.role,
                "; ".join(e.problems),
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, col, item)
        for combo, first in ((self.t2_combo, None), (self.tof_combo, _NO_TOF)):
            combo.clear()
            if first is not None:
                combo.addItem(first, None)
            for e in entries:
                if not e.problems and not e.is_label_map:
                    combo.addItem(f"{e.key}: {e.description} ({e.role})", e.key)
        self.open_button.setEnabled(False)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #ff6060;" if error else "")
        self.status.setText(text)

    def _show_workspace(self) -> None:
        # The folder's name only: the full path is long and would show the machine's folder
        # layout in every screenshot; the tooltip holds it.
        root = Path(self.view.session.workspace.root)
        self.workspace_label.setText(f"Autosave to workspace: {root.name or root}")
        self.workspace_label.setToolTip(str(root))

    def _browse_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Case folder (DICOM or NIfTI)")
        if folder:
            self.scan(folder)

    def _browse_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self, "Image file", "", "Images (*.nii *.nii.gz *.dcm *.ima);;All files (*)"
        )
        if name:
            self.scan(name)

    def _browse_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Workspace folder")
        if folder:
            self.set_workspace(folder)
