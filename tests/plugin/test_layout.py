"""The workstation layout: the image dominates the window at 1366 x 768 and larger, the panels
fit beside it (tabs, scrolling), and the window is no taller than the screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from nvc_viewer_napari._dock import dock_panels, raise_dock
from nvc_viewer_napari._layout import _FITS, auto_fit_for
from qtpy.QtWidgets import QApplication, QScrollArea

from ._phantoms import make_volume


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_image_dominates_the_window(
    make_napari_viewer, qtbot, tmp_path: Path, size: tuple[int, int]
) -> None:
    from nvc_viewer_napari._case_view import case_view_for

    viewer = make_napari_viewer(show=True)
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    case_view_for(viewer).open_case(make_volume("oblique"), case_id="layout")
    window = viewer.window._qt_window
    window.resize(*size)
    qtbot.wait(50)
    for _ in range(5):
        QApplication.processEvents()
    # the window is what was asked: no panel makes it taller or wider than the screen
    assert (window.width(), window.height()) == size
    height, width = viewer.canvas.size
    assert width >= 0.62 * size[0], f"the canvas is {width} px of {size[0]}"
    assert height >= 0.80 * size[1], f"the canvas is {height} px high of {size[1]}"
    # napari's layer list and controls are tabs beside the panels, not a column of their own
    qt_viewer = viewer.window._qt_viewer
    assert window.dockWidgetArea(qt_viewer.dockLayerList) == window.dockWidgetArea(
        panels.analysis.parent().parent().parent()
    )
    # every panel scrolls instead of asking for the window's height; none scrolls sideways
    for name, panel in panels.items():
        raise_dock(panel)
        for _ in range(3):
            QApplication.processEvents()
        area = panel.parent().parent()
        assert isinstance(area, QScrollArea), name
        assert area.isVisible() and not area.horizontalScrollBar().isVisible(), name
    # the canvas is refitted when the window resizes (installed with the panels)
    fit = _FITS.get(id(viewer))
    assert fit is not None and auto_fit_for(viewer) is fit
    qtbot.waitUntil(lambda: fit.refits >= 1)
