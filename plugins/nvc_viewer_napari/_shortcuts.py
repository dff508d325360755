"""The findings' keyboard shortcuts, bound in napari's keymap of the viewer.

They act wherever the viewer window has the keyboard: on the canvas, in the layer list, on a
button of any docked panel (napari hands a key a docked widget does not use to the viewer's
keymap), in the findings table and its combo boxes (which would take a letter to search their
items: the findings panel passes the shortcuts on). A text field keeps its keys.

None is one of napari's own shortcuts (napari's C is auto-contrast of an image layer, A and
Delete act on a points layer, Ctrl+Y toggles 2-D/3-D): the review keys are Shift + a letter.
Ctrl+Z / Ctrl+Shift+Z are napari's undo/redo of the label layer's brush: while that layer is
the active one with a brush tool on (paint, erase, fill, polygon) they keep undoing the brush;
otherwise they undo / redo the last change to the findings.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, QObject, Qt

if TYPE_CHECKING:
    import napari

__all__ = [
    "Shortcut",
    "SHORTCUTS",
    "VIEW_SHORTCUTS",
    "VIEW_KEY_OF",
    "FOUR_UP_SHORTCUT",
    "NERVE_PLANE_SHORTCUT",
    "bind_view_shortcuts",
    "BRUSH_MODES",
    "bind_shortcuts",
    "relay_shortcuts",
    "shortcut_of",
    "help_text",
    "help_html",
]


@dataclass(frozen=True)
class Shortcut:
    """One shortcut: the findings panel's action, its key (napari's notation), what it does."""

    action: str
    key: str
    text: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("confirm", "Shift+C", "Confirm the selected finding"),
    Shortcut("reject", "Shift+R", "Reject the selected proposal (kept as rejected evidence)"),
    Shortcut("delete", "Shift+D", "Delete the selected finding"),
    Shortcut("add", "Shift+N", "New finding: then click on the nerve (again: cancel)"),
    Shortcut("undo", "Ctrl+Z", "Undo the last change to the findings"),
    Shortcut("redo", "Ctrl+Shift+Z", "Redo the change undone"),
)
KEY_OF: dict[str, str] = {s.action: s.key for s in SHORTCUTS}

#: The 3-D view presets' keys (`CaseView.show_view`): they act on the viewer's open case,
#: whichever panel is open. Not napari's own (Ctrl+Shift+C/T/Z are; Alt+letter would open a
#: menu of the main window).
VIEW_SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("surgeon left", "Ctrl+Shift+L", "Surgeon's view of the left CPA (retrosigmoid)"),
    Shortcut("surgeon right", "Ctrl+Shift+R", "Surgeon's view of the right CPA (retrosigmoid)"),
    Shortcut("anterior", "Alt+1", "3-D view from the front (superior up)"),
    Shortcut("posterior", "Alt+2", "3-D view from behind (superior up)"),
    Shortcut("left", "Alt+3", "3-D view from the patient's left (superior up)"),
    Shortcut("right", "Alt+4", "3-D view from the patient's right (superior up)"),
    Shortcut("superior", "Alt+5", "3-D view from above (anterior up)"),
    Shortcut("inferior", "Alt+6", "3-D view from below (anterior up)"),
)
VIEW_KEY_OF: dict[str, str] = {s.action: s.key for s in VIEW_SHORTCUTS}
#: Shows / hides the linked axial, coronal and sagittal views under the canvas (`._multiview`).
FOUR_UP_SHORTCUT = Shortcut(
    "four-up", "Shift+F", "Show / hide the linked axial, coronal and sagittal views (four-up)"
)

#: Shows / hides the oblique plane through the nerve's axis (`._nerve_plane`).
NERVE_PLANE_SHORTCUT = Shortcut(
    "nerve plane",
    "Shift+O",
    "Show / hide the oblique plane through the nerve (at the selected finding or the REZ)",
)

#: Modes of a Labels layer in which Ctrl+Z / Ctrl+Shift+Z stay napari's brush undo / redo.
BRUSH_MODES = frozenset({"paint", "erase", "fill", "polygon"})
_LAYER_ACTIONS = {"undo": "undo", "redo": "redo"}  # panel action -> Labels layer method

_MODIFIERS = (("Ctrl", Qt.ControlModifier), ("Shift", Qt.ShiftModifier),
              ("Alt", Qt.AltModifier), ("Meta", Qt.MetaModifier))  # fmt: skip


def shortcut_of(key: Any, modifiers: Any) -> Shortcut | None:
    """The shortcut a Qt key press (``event.key()``, ``event.modifiers()``) is, if any.

    Works with Qt 5 and Qt 6 bindings alike (no ``int()`` of Qt's flags).
    """
    held = [name for name, flag in _MODIFIERS if modifiers & flag]
    for shortcut in SHORTCUTS:
        *mods, letter = shortcut.key.split("+")
        if key == getattr(Qt, f"Key_{letter}") and sorted(mods) == sorted(held):
            return shortcut
    return None


_HELP_NOTE = (
    "Keys act wherever the viewer has the keyboard (not while typing a note). With the label "
    "layer active and a brush tool on, Ctrl+Z / Ctrl+Shift+Z undo / redo the brush."
)


def help_text() -> str:
    """The shortcuts, one a line, then where they act."""
    shortcuts = (*SHORTCUTS, FOUR_UP_SHORTCUT, NERVE_PLANE_SHORTCUT, *VIEW_SHORTCUTS)
    return "\n".join([*(f"{s.key:<13} {s.text}" for s in shortcuts), _HELP_NOTE])


def help_html() -> str:
    """`help_text` as the panel shows it (a table: keys and actions in columns)."""
    rows = "".join(
        f"<tr><td style='padding-right:12px'><b>{s.key}</b></td><td>{html.escape(s.text)}</td></tr>"
        for s in (*SHORTCUTS, FOUR_UP_SHORTCUT, NERVE_PLANE_SHORTCUT, *VIEW_SHORTCUTS)
    )
    return f"<table>{rows}</table><p>{html.escape(_HELP_NOTE)}</p>"


def bind_shortcuts(
    viewer: napari.Viewer, actions: Mapping[str, Callable[[], Any]]
) -> Callable[[], None]:
    """Bind ``actions`` (by `Shortcut.action`) to their keys in ``viewer``'s keymap.

    Ctrl+Z / Ctrl+Shift+Z are bound on every Labels layer of the viewer too (now and later), so
    that they undo the findings there as well unless a brush tool is on (see the module
    docstring). Several findings panels of one viewer (docked, and from the Plugins menu) share
    the keys: the last one opened has them, and the one before it again once it is closed.
    Returns the function that withdraws ``actions`` (the keys are unbound with the last).
    """
    from napari.utils.key_bindings import coerce_keybinding

    bound = viewer.keymap.get(coerce_keybinding(SHORTCUTS[0].key))
    binding = getattr(bound, "binding", None)
    if not isinstance(binding, _Binding):
        binding = _Binding(viewer)
    binding.owners.append(actions)

    def unbind() -> None:
        binding.owners[:] = [a for a in binding.owners if a is not actions]
        if not binding.owners:
            binding.unbind()

    return unbind


def bind_view_shortcuts(viewer: napari.Viewer, show_view: Callable[[str], Any]) -> None:
    """Bind the 3-D view presets' keys (`VIEW_SHORTCUTS`) in ``viewer``'s keymap to
    ``show_view(name)`` (the last binding wins: one per viewer is enough)."""
    for shortcut in VIEW_SHORTCUTS:

        def on_key(_viewer: Any, name: str = shortcut.action) -> None:
            show_view(name)

        viewer.bind_key(shortcut.key, on_key, overwrite=True)


class _Binding:
    """The keys bound in one viewer; ``owners``: the findings panels' actions, the last acts."""

    def __init__(self, viewer: Any) -> None:
        self.viewer = viewer
        self.owners: list[Mapping[str, Callable[[], Any]]] = []
        self.keys: dict[str, Callable[[Any], None]] = {}
        for shortcut in SHORTCUTS:

            def on_key(_viewer: Any, name: str = shortcut.action) -> None:
                self.call(name)

            on_key.binding = self  # type: ignore[attr-defined]
            viewer.bind_key(shortcut.key, on_key, overwrite=True)
            self.keys[shortcut.key] = on_key
        self.layer_keys: dict[str, Callable[[Any], None]] = {}
        for name, method in _LAYER_ACTIONS.items():

            def on_labels_key(layer: Any, name: str = name, method: str = method) -> None:
                if str(layer.mode) in BRUSH_MODES:
                    getattr(layer, method)()  # napari's own binding for the brush
                else:
                    self.call(name)

            self.layer_keys[KEY_OF[name]] = on_labels_key
        for layer in viewer.layers:
            self.bind_layer(layer)
        viewer.layers.events.inserted.connect(self._on_inserted)

    def call(self, name: str) -> None:
        if self.owners:
            self.owners[-1][name]()

    def bind_layer(self, layer: Any) -> None:
        if _is_labels(layer):
            for key, func in self.layer_keys.items():
                layer.bind_key(key, func, overwrite=True)

    def _on_inserted(self, event: Any) -> None:
        self.bind_layer(event.value)

    def unbind(self) -> None:
        from napari.utils.key_bindings import coerce_keybinding

        for key, func in self.keys.items():
            if self.viewer.keymap.get(coerce_keybinding(key)) is func:
                self.viewer.bind_key(key, None)
        for layer in list(self.viewer.layers):
            for key, func in self.layer_keys.items():
                if layer.keymap.get(coerce_keybinding(key)) is func:
                    layer.bind_key(key, None)
        self.viewer.layers.events.inserted.disconnect(self._on_inserted)


class _Relay(QObject):
    """Hands the shortcuts pressed in a widget that would use them itself (a table, a combo
    box: a letter searches their items) to the viewer's keymap."""

    def __init__(self, viewer: napari.Viewer, parent: QObject) -> None:
        super().__init__(parent)
        self.viewer = viewer

    def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.KeyPress or event.isAutoRepeat():
            return False
        shortcut = shortcut_of(event.key(), event.modifiers())
        if shortcut is None:
            return False
        from napari.utils.key_bindings import coerce_keybinding

        func = self.viewer.keymap.get(coerce_keybinding(shortcut.key))
        if func is None:  # no findings panel in this viewer
            return False
        func(self.viewer)
        return True


def relay_shortcuts(viewer: napari.Viewer, *widgets: QObject) -> None:
    """Let the shortcuts pressed in ``widgets`` act (see `_Relay`)."""
    if not widgets:
        return
    relay = _Relay(viewer, widgets[0])
    for widget in widgets:
        widget.installEventFilter(relay)


def _is_labels(layer: Any) -> bool:
    from napari.layers import Labels

    return isinstance(layer, Labels)
