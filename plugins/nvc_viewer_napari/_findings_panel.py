"""The findings panel: review the machine's proposals, correct them, add your own, export.

One row per finding (side, nerve, vessel, segment, grade, origin, distance from the RDP, vessel
diameter, crossing angle, confidence, the surgeon's note, the machine's rationale). As in a
worklist the table fits the panel without scrolling sideways: the measurements, note and
rationale columns are hidden until shown from the header's right-click menu (`HIDDEN_COLUMNS`),
long text is elided, every cell's tooltip holds its whole finding, and the selected finding's
measurements, note and rationale are shown under the table. Selecting a
row centres every view on the finding; the combo boxes under the table correct the selected
finding's fields -- a correction is not a review: a proposal stays to review, its row says
"edited, still to review"; only Confirm / Reject decide it, and Delete removes it. The note field
is the surgeon's; the machine's rationale is shown read-only beside it. "Add finding" then a
click on the image (2-D slice or 3-D rendering) places a manual finding whose distance and
segment are measured along the nerve. Undo / Redo walk the session's history, say what they
took back or applied again and keep the selected finding selected. The counts line (to review,
confirmed, rejected, own) follows every change. Every change is autosaved by the session;
"Export all" writes every format into the workspace case folder.

Keyboard, wherever the viewer has the keyboard (napari's keymap, see `._shortcuts`): Shift+C
confirm, Shift+R reject, Shift+D delete, Shift+N new finding (again, or Escape in the panel: stop
adding), Ctrl+Z undo, Ctrl+Shift+Z redo. The "Keys" button lists them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from nvc_viewer.errors import NVCError
from nvc_viewer.findings import (
    GRADES,
    NERVES,
    SEGMENTS,
    SIDES,
    VESSELS,
    Finding,
    ReviewCounts,
    review_counts,
)

from ._case_view import ORIGIN_COLORS, case_view_for
from ._shortcuts import KEY_OF, bind_shortcuts, help_html, relay_shortcuts

if TYPE_CHECKING:
    import napari

__all__ = ["FindingsPanel", "FINDING_COLUMNS", "COMBO_FIELDS"]

#: (header, finding field) of each table column.
FINDING_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Side", "side"),
    ("Nerve", "nerve"),
    ("Vessel", "vessel"),
    ("Segment", "segment"),
    ("Grade", "grade"),
    ("Origin", "origin"),
    ("Dist mm", "distance_from_brainstem_mm"),
    ("Ø mm", "vessel_diameter_mm"),
    ("Angle°", "crossing_angle_deg"),
    ("Conf", "confidence"),
    ("Note", "note"),
    ("Rationale", "rationale"),
)
#: What the origin column says of a proposal a surgeon corrected but has not decided yet.
EDITED_TEXT = "edited, still to review"
_HEADER_TIPS = {
    "distance_from_brainstem_mm": "Distance along the nerve from the root detachment point, mm "
    "(negative on the attached segment)",
    "vessel_diameter_mm": "Vessel diameter at the contact, mm",
    "crossing_angle_deg": "Angle between nerve and vessel, degrees",
    "confidence": "Machine confidence 0..1 (1 for a finding placed by hand)",
    "note": "Your note on the finding",
    "rationale": "Why the machine proposed or measured it (read-only)",
}
#: Fields edited with a combo box, and their choices.
COMBO_FIELDS: dict[str, tuple[str, ...]] = {
    "side": SIDES,
    "nerve": NERVES,
    "vessel": VESSELS,
    "segment": SEGMENTS,
    "grade": GRADES,
}
_CLINICAL_FIELDS: tuple[tuple[str, str, tuple[str | None, ...]], ...] = (
    ("Condition", "condition", (None, "hemifacial_spasm", "trigeminal_neuralgia", "other")),
    ("Symptomatic side", "symptomatic_side", (None, "left", "right", "bilateral")),
    ("EMG lateral spread", "emg_lateral_spread_response", (None, "present", "absent", "not_done")),
)
_COLUMN = {field: n for n, (_, field) in enumerate(FINDING_COLUMNS)}
#: Columns hidden until asked for (a right-click on the table's header lists every column): the
#: selected finding's measurements, note and rationale are shown under the table, and every
#: row's tooltip holds all of its finding. The table then fits the column beside the image.
#: The confidence stays in sight: it tells a proposal (0.5 and over) from a possible contact.
HIDDEN_COLUMNS: tuple[str, ...] = (
    "distance_from_brainstem_mm",
    "vessel_diameter_mm",
    "crossing_angle_deg",
    "note",
    "rationale",
)
# Columns of free text: they share the table's spare width, their text elided (the tooltip
# and the area under the table hold it whole); the others are as wide as their contents.
_ELIDED = ("origin", "note", "rationale")
# The action buttons and the field editors a row: three keep the panel narrow enough for the
# column beside the image (`._layout`).
_BUTTONS_PER_ROW = 3
_EDITORS_PER_ROW = 3


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _details(f: Finding) -> str:
    """The measurements of a finding, in a line (their columns are hidden by default)."""
    parts = [
        f"Dist {_number(f.distance_from_brainstem_mm, 1)} mm from the RDP"
        if f.distance_from_brainstem_mm is not None
        else "",
        f"Ø {_number(f.vessel_diameter_mm, 1)} mm" if f.vessel_diameter_mm is not None else "",
        f"angle {_number(f.crossing_angle_deg, 0)}°" if f.crossing_angle_deg is not None else "",
        f"confidence {_number(f.confidence, 2)}" if f.confidence is not None else "",
    ]
    return " · ".join(p for p in parts if p)


class FindingsPanel(QWidget):
    """Findings table with review, manual placement, undo/redo and export.

    Parameters
    ----------
    napari_viewer : napari.Viewer
    """

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.view = case_view_for(napari_viewer)
        self.session = self.view.session
        self.export_worker: Any = None
        self._ids: list[str] = []
        self._syncing = False
        self._adding = False  # "Add finding" armed by this panel

        self.table = QTableWidget(0, len(FINDING_COLUMNS))
        self.table.setHorizontalHeaderLabels([h for h, _ in FINDING_COLUMNS])
        for n, (_, field) in enumerate(FINDING_COLUMNS):
            if field in _HEADER_TIPS:
                self.table.horizontalHeaderItem(n).setToolTip(_HEADER_TIPS[field])
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        # row numbers: a finding's number on its tag over the images (`._markers`)
        self.table.verticalHeader().setVisible(True)
        # As a worklist: the columns fit the table's width, no scrolling sideways; long text
        # is elided, whole in the tooltip and under the table (`HIDDEN_COLUMNS`).
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeToContents)
        for field in _ELIDED:
            header.setSectionResizeMode(_COLUMN[field], QHeaderView.Stretch)
        header.setMinimumSectionSize(24)
        self.table.setTextElideMode(Qt.ElideRight)
        self.table.setWordWrap(False)  # one line a row: elided, not wrapped and cut
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        for field in HIDDEN_COLUMNS:
            self.table.setColumnHidden(_COLUMN[field], True)
        header.setContextMenuPolicy(Qt.CustomContextMenu)
        header.customContextMenuRequested.connect(
            lambda pos: self.column_menu().exec(header.mapToGlobal(pos))
        )
        header.setToolTip("Right-click: show or hide columns")
        # a few rows stay visible however many panels share the dock area
        row_height = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(
            row_height * 5 + self.table.horizontalHeader().sizeHint().height()
        )
        self.table.itemSelectionChanged.connect(self._on_row_selected)

        # The selected finding's editable fields.
        self.editors: dict[str, QComboBox] = {}
        editor = QGridLayout()
        for n, (field, choices) in enumerate(COMBO_FIELDS.items()):
            combo = QComboBox()
            combo.addItems(list(choices))
            combo.currentTextChanged.connect(lambda text, field=field: self._on_editor(field, text))
            row, column = 2 * (n // _EDITORS_PER_ROW), n % _EDITORS_PER_ROW
            editor.addWidget(QLabel(field.capitalize()), row, column)
            editor.addWidget(combo, row + 1, column)
            self.editors[field] = combo
        below = 2 * -(-len(COMBO_FIELDS) // _EDITORS_PER_ROW)  # the first row under the combos
        # the selected finding's measurements (their columns are hidden by default)
        self.details_label = QLabel()
        self.details_label.setWordWrap(True)
        self.details_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        editor.addWidget(self.details_label, below, 0, 1, _EDITORS_PER_ROW)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("your note on the selected finding")
        self.note_edit.editingFinished.connect(self._on_note)
        editor.addWidget(self.note_edit, below + 1, 0, 1, _EDITORS_PER_ROW)
        # the machine's words: read-only, beside the surgeon's note, never overwritten by it
        self.rationale_label = QLabel()
        self.rationale_label.setWordWrap(True)
        self.rationale_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.rationale_label.setStyleSheet("color: #a0a0a0;")
        self.rationale_label.setToolTip("Why the machine proposed or measured it (read-only)")
        editor.addWidget(self.rationale_label, below + 2, 0, 1, _EDITORS_PER_ROW)

        self.buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        actions: tuple[tuple[str, str, Callable[[], Any], str], ...] = (
            ("add", "Add finding", self.toggle_add, "Then click on the nerve in 2-D or 3-D"),
            ("confirm", "Confirm", self.confirm_selected, "Accept the selected finding"),
            ("reject", "Reject", self.reject_selected, "Keep it as rejected evidence"),
            ("delete", "Delete", self.delete_selected, "Remove the selected finding"),
            ("undo", "Undo", self.undo, "Undo the last change to the findings"),
            ("redo", "Redo", self.redo, "Redo the change undone"),
            ("export", "Export all", self.export, "JSON, CSV, Slicer, NIfTI, DICOM SEG/SR, report"),
        )
        for n, (key, text, slot, tip) in enumerate(actions):
            shortcut = KEY_OF.get(key)
            button = QPushButton(f"{text} ({shortcut})" if shortcut else text)
            button.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
            button.clicked.connect(lambda _checked=False, slot=slot: slot())
            grid.addWidget(button, n // _BUTTONS_PER_ROW, n % _BUTTONS_PER_ROW)
            self.buttons[key] = button
        self.keys_button = QPushButton("Keys")
        self.keys_button.setCheckable(True)
        self.keys_button.setToolTip("List the keyboard shortcuts")
        grid.addWidget(
            self.keys_button, len(actions) // _BUTTONS_PER_ROW, len(actions) % _BUTTONS_PER_ROW
        )
        self.keys_help = QLabel(help_html())
        self.keys_help.setWordWrap(True)
        self.keys_help.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.keys_help.setVisible(False)
        self.keys_button.toggled.connect(self.keys_help.setVisible)

        self.clinical: dict[str, QComboBox] = {}
        clinical_form = QFormLayout()
        for label, field, choices in _CLINICAL_FIELDS:
            combo = QComboBox()
            for choice in choices:
                combo.addItem("—" if choice is None else choice.replace("_", " "), choice)
            combo.currentIndexChanged.connect(
                lambda _i, field=field, combo=combo: self._on_clinical(field, combo)
            )
            clinical_form.addRow(label, combo)
            self.clinical[field] = combo

        self.flags_label = QLabel()
        #: to review / confirmed / rejected / own, after every change
        self.counts_label = QLabel()
        self.counts_label.setWordWrap(True)
        # what the analysis could not establish (a nerve not identified, a name uncertain)
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet("color: #ff8a65;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_label = QLabel()
        self.save_label.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.warnings_label)
        layout.addWidget(self.counts_label)
        layout.addWidget(self.table, 1)
        layout.addLayout(editor)
        layout.addLayout(grid)
        layout.addWidget(self.keys_help)
        layout.addWidget(self.status)
        layout.addWidget(self.flags_label)
        layout.addLayout(clinical_form)
        layout.addWidget(self.save_label)

        # Keys: napari's keymap of the viewer, so they act wherever the viewer has the
        # keyboard. The table and the combo boxes would take a letter to search their items:
        # they pass the shortcuts on (`eventFilter`).
        self._unbind_keys = bind_shortcuts(
            napari_viewer,
            {
                "confirm": self.confirm_selected,
                "reject": self.reject_selected,
                "delete": self.delete_selected,
                "add": self.toggle_add,
                "undo": self.undo,
                "redo": self.redo,
            },
        )
        self.table.installEventFilter(self)  # Escape while adding
        relay_shortcuts(napari_viewer, self.table, *self.editors.values(), *self.clinical.values())

        on_session = self._on_session
        self.session.subscribe(on_session)
        self.view.on_selection(self._on_view_selection)
        self.refresh()

        # A closed panel (e.g. the Plugins menu's, next to the docked one) hands the keys back
        # and hears no more of the case: its widgets are gone.
        self._closed = False

        def closed(*_: Any) -> None:
            self._closed = True
            self._unbind_keys()
            self.session.unsubscribe(on_session)

        self.destroyed.connect(closed)

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        """Escape in the table leaves "Add finding" (the other keys: see `._shortcuts`)."""
        if (
            obj is self.table
            and event.type() == QEvent.KeyPress
            and event.key() == Qt.Key_Escape
            and self._adding
            and self.view.placing
        ):
            self.stop_add()
            return True
        return super().eventFilter(obj, event)

    # -- public actions -------------------------------------------------------------------
    @property
    def finding_ids(self) -> list[str]:
        """Finding ids in table order."""
        return list(self._ids)

    @property
    def selected_id(self) -> str | None:
        return self.view.selected_id

    def row_of(self, finding_id: str) -> int:
        return self._ids.index(finding_id)

    def column_shown(self, field: str) -> bool:
        """Whether the table shows the column of ``field`` (see `HIDDEN_COLUMNS`)."""
        return not self.table.isColumnHidden(_COLUMN[field])

    def show_column(self, field: str, shown: bool = True) -> None:
        """Show or hide the column of ``field`` (as the header's right-click menu does)."""
        self.table.setColumnHidden(_COLUMN[field], not shown)

    def column_menu(self) -> QMenu:
        """The header's right-click menu: every column, ticked when shown."""
        menu = QMenu(self.table)
        for header, field in FINDING_COLUMNS:
            action = menu.addAction(header)
            action.setCheckable(True)
            action.setChecked(self.column_shown(field))
            action.setToolTip(_HEADER_TIPS.get(field, header))
            action.toggled.connect(lambda shown, field=field: self.show_column(field, shown))
        return menu

    def cell_text(self, row: int, field: str) -> str:
        """What the table shows for ``field`` in ``row``."""
        item = self.table.item(row, _COLUMN[field])
        return "" if item is None else item.text()

    def select(self, finding_id: str | None) -> None:
        """Select a finding (its row, its point) and centre the views on it."""
        self.view.select(finding_id)

    def set_field(self, finding_id: str, field: str, value: str) -> None:
        """Change a field of a finding as the user would: select it, pick in its combo box."""
        if field not in self.editors:
            raise KeyError(f"{field!r} is not edited with a combo box")
        combo = self.editors[field]
        index = combo.findText(value)
        if index < 0:
            raise ValueError(f"{value!r} is not a choice of {field}: {COMBO_FIELDS[field]}")
        if self.view.selected_id != finding_id:
            self.select(finding_id)
        combo.setCurrentIndex(index)

    def set_note(self, finding_id: str, text: str) -> None:
        """Write the note of a finding as the user would."""
        if self.view.selected_id != finding_id:
            self.select(finding_id)
        self.note_edit.setText(text)
        self._on_note()

    def confirm_selected(self) -> Finding | None:
        return self._act("confirm")

    def reject_selected(self) -> Finding | None:
        return self._act("reject")

    def delete_selected(self) -> Finding | None:
        return self._act("delete")

    def toggle_add(self) -> bool:
        """Arm "Add finding", or leave it when it is armed (the Add button and Shift+N)."""
        if self._adding and self.view.placing:
            self.stop_add()
            self._say("adding cancelled")
            return False
        return self.start_add()

    def start_add(self) -> bool:
        """Arm "Add finding": the next click on the image places a manual finding."""
        if not self.session.is_open or self.view.reference is None:
            self._say("open a case first", error=True)
            return False
        self.view.start_placing(self._placed)
        self._adding = True
        self.buttons["add"].setText(f"Click the image… ({KEY_OF['add']}: cancel)")
        self._say("click on the nerve where the vessel touches it (2-D slice or 3-D view)")
        return True

    def stop_add(self) -> None:
        self.view.stop_placing()
        self._adding = False
        self.buttons["add"].setText(f"Add finding ({KEY_OF['add']})")

    @property
    def counts(self) -> ReviewCounts:
        """Findings of the open case by review state (what the counts line shows)."""
        case = self.session.findings
        return review_counts(case.findings if case is not None else ())

    def undo(self) -> bool:
        """Take back the last change; the selected finding stays selected if it still exists."""
        return self._walk_history("undo")

    def redo(self) -> bool:
        """Apply the change undone again; the selection is kept as by `undo`."""
        return self._walk_history("redo")

    def _walk_history(self, direction: str) -> bool:
        step = getattr(self.session, f"{direction}_description")
        selected = self.view.selected_id
        done = getattr(self.session, direction)()
        if not done:
            self._say(f"nothing to {direction}")
            return False
        case = self.session.findings
        if selected is not None and case is not None:
            ids = {f.id for f in case.findings}
            self.view.select(selected if selected in ids else None, centre=False)
        self._say(f"{'Undid' if direction == 'undo' else 'Redid'}: {step}")
        return True

    def export(self) -> bool:
        """Write every export format into the workspace case folder, in a worker thread."""
        from napari.qt.threading import create_worker

        if not self.session.is_open:
            self._say("open a case first", error=True)
            return False
        if self.export_worker is not None:
            return False
        self.view.flush_labels()
        self.view.wait_for_saves()
        self.export_worker = create_worker(
            self.session.export,
            _start_thread=False,
            _connect={
                "returned": self._exported,
                "errored": lambda exc: self._say(f"export failed: {exc}", error=True),
                "finished": self._export_finished,
            },
        )
        self.buttons["export"].setEnabled(False)
        self._say("exporting…")
        self.export_worker.start()
        return True

    # -- table ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Redraw the table, the editor, the flags and the clinical record from the session."""
        case = self.session.findings
        findings = list(case.findings) if case is not None else []
        self._syncing = True
        try:
            self._ids = [f.id for f in findings]
            self.table.setRowCount(len(findings))
            for row, f in enumerate(findings):
                self._fill_row(row, f)
            self._select_row(self.view.selected_id)
            self._fill_editor()
            self._fill_counts()
            if case is not None:
                flags = case.flags
                self.flags_label.setText(
                    f"Multiple offenders: {'yes' if flags.multiple_offenders else 'no'} · "
                    f"Sandwich: {'yes' if flags.sandwich else 'no'} · "
                    f"VA tortuosity: {'yes' if flags.va_tortuosity else 'no'}"
                )
                for field, combo in self.clinical.items():
                    combo.setCurrentIndex(max(combo.findData(getattr(case.clinical, field)), 0))
                self.warnings_label.setText("\n".join(f"⚠ {w}" for w in case.warnings))
            else:
                self.flags_label.setText("")
                self.warnings_label.setText("")
            self.warnings_label.setVisible(bool(self.warnings_label.text()))
        finally:
            self._syncing = False
        self._update_buttons()

    def _fill_counts(self) -> None:
        if not self.session.is_open:
            self.counts_label.setText("")
            return
        c = self.counts
        edited = f" ({c.edited} edited)" if c.edited else ""
        self.counts_label.setText(
            f"To review: {c.to_review}{edited} · Confirmed: {c.confirmed} · "
            f"Rejected: {c.rejected} · Own: {c.own}"
        )
        self.counts_label.setStyleSheet("color: #ffd000;" if c.to_review else "")

    def _fill_row(self, row: int, f: Finding) -> None:
        texts = {
            "side": f.side,
            "nerve": f.nerve,
            "vessel": f.vessel,
            "segment": f.segment,
            "grade": f.grade,
            "distance_from_brainstem_mm": _number(f.distance_from_brainstem_mm, 1),
            "vessel_diameter_mm": _number(f.vessel_diameter_mm, 1),
            "crossing_angle_deg": _number(f.crossing_angle_deg, 0),
            "confidence": _number(f.confidence, 2),
            "origin": f"{f.origin} · {EDITED_TEXT}"
            if f.origin == "auto" and f.edited
            else f.origin,
            "note": f.note,
            "rationale": f.rationale,
        }
        colour = QColor(ORIGIN_COLORS[f.origin])
        # every cell's tooltip: the whole finding, hidden columns and elided text included
        tip = "\n".join(
            f"{header}: {texts[field]}" for header, field in FINDING_COLUMNS if texts[field]
        )
        for field, text in texts.items():
            item = self.table.item(row, _COLUMN[field])
            if item is None:
                item = QTableWidgetItem()
                self.table.setItem(row, _COLUMN[field], item)
            item.setText(text)
            item.setToolTip(tip)
            if field == "origin":
                item.setForeground(colour)

    def _fill_editor(self) -> None:
        finding_id = self.view.selected_id
        f = self.session.finding(finding_id) if finding_id in self._ids else None
        for field, combo in self.editors.items():
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findText(getattr(f, field)) if f is not None else -1)
            combo.setEnabled(f is not None)
            combo.blockSignals(False)
        self.details_label.setText("" if f is None else _details(f))
        self.details_label.setVisible(f is not None)
        self.note_edit.setText("" if f is None else f.note)
        self.note_edit.setEnabled(f is not None)
        why = "" if f is None or not f.rationale else f"Machine: {f.rationale}"
        self.rationale_label.setText(why)
        self.rationale_label.setVisible(bool(why))

    def _select_row(self, finding_id: str | None) -> None:
        self.table.blockSignals(True)
        try:
            if finding_id in self._ids:
                self.table.selectRow(self._ids.index(finding_id))
            else:
                self.table.clearSelection()
        finally:
            self.table.blockSignals(False)

    def _update_buttons(self) -> None:
        open_ = self.session.is_open
        selected = open_ and self.view.selected_id in self._ids
        manual = selected and self.session.finding(self.view.selected_id).origin == "manual"
        self.buttons["add"].setEnabled(open_)
        self.buttons["confirm"].setEnabled(selected)
        self.buttons["reject"].setEnabled(selected and not manual)
        self.buttons["delete"].setEnabled(selected)
        self.buttons["undo"].setEnabled(self.session.can_undo)
        self.buttons["redo"].setEnabled(self.session.can_redo)
        self.buttons["export"].setEnabled(open_ and self.export_worker is None)
        for combo in self.clinical.values():
            combo.setEnabled(open_)

    # -- reactions ------------------------------------------------------------------------
    def _act(self, action: str) -> Finding | None:
        finding_id = self.view.selected_id
        if finding_id is None or not self.session.is_open:
            self._say("select a finding first", error=True)
            return None
        try:
            before = self.session.finding(finding_id)
            if action == "delete":
                self.session.delete(finding_id)
                self._say(f"deleted {before.label} (Undo brings it back)")
                return before
            after = getattr(self.session, action)(finding_id)
        except NVCError as exc:
            self._say(str(exc), error=True)
            return None
        self._say(f"{after.label}: {after.origin}")
        return after

    def _on_editor(self, field: str, text: str) -> None:
        finding_id = self.view.selected_id
        if self._syncing or finding_id is None or not text:
            return
        try:
            f = self.session.edit(finding_id, **{field: text})
        except NVCError as exc:
            self._say(str(exc), error=True)
            self.refresh()  # put the combo back to the stored value
            return
        self._say(f"{f.label}: {field} set to {text}")

    def _on_note(self) -> None:
        finding_id = self.view.selected_id
        if self._syncing or finding_id is None:
            return
        if self.session.finding(finding_id).note != self.note_edit.text():
            self.session.edit(finding_id, note=self.note_edit.text())

    def _on_clinical(self, field: str, combo: QComboBox) -> None:
        if self._syncing or not self.session.is_open:
            return
        self.session.set_clinical(**{field: combo.currentData()})

    def _on_row_selected(self) -> None:
        if self._syncing:
            return
        rows = self.table.selectionModel().selectedRows()
        finding_id = self._ids[rows[0].row()] if rows else None
        self.view.select(finding_id)

    def _on_view_selection(self, finding_id: str | None) -> None:
        if self._closed:
            return
        self._syncing = True
        try:
            self._select_row(finding_id)
            self._fill_editor()
        finally:
            self._syncing = False
        self._update_buttons()

    def _on_session(self, what: str) -> None:
        if what in ("case", "findings", "analysis"):
            self.refresh()
        if what == "saved" and self.session.last_saved is not None:
            saved = self.session.last_saved
            self.save_label.setStyleSheet("")
            self.save_label.setText(
                f"autosaved: {self.workspace_relative(saved)} at {time.strftime('%H:%M:%S')}"
            )
            self.save_label.setToolTip(str(saved))
        elif what == "save-failed":
            self.save_label.setStyleSheet("color: #ff6060;")
            self.save_label.setText(self.session.last_error or "autosave failed")
            self.save_label.setToolTip(self.session.last_error or "")

    def _placed(self, finding: Finding | None, message: str) -> None:
        self._adding = False
        self.buttons["add"].setText(f"Add finding ({KEY_OF['add']})")
        self._say(message, error=finding is None)

    def workspace_relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` as the panel shows it: relative to the workspace (``<case_id>/<file>``).

        The full path would push the useful part out of the narrow panel and would put the
        machine's folder layout into every screenshot; tooltips hold it instead. A path outside
        the workspace is shown by its name only.
        """
        path = Path(path)
        try:
            return path.relative_to(self.session.workspace.root).as_posix()
        except ValueError:
            return path.name

    def _exported(self, paths: list) -> None:
        folder = paths[0].parent if paths else self.session.workspace.root
        self._say(f"exported {len(paths)} file(s) to {self.workspace_relative(folder)}/")
        self.status.setToolTip(str(folder))

    def _export_finished(self) -> None:
        self.export_worker = None
        self._update_buttons()

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #ff6060;" if error else "")
        self.status.setText(text)
