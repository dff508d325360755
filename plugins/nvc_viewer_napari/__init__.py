"""napari plugin for nvc-viewer.

The public entry of the command line: `view` (``nvc-viewer view``) and `demo`
(``nvc-viewer demo``), declared as the ``nvc_viewer.viewer`` entry points in ``pyproject.toml``.
The core finds them there and never names this package. Importing the package stays cheap: napari
and Qt load only when one of them is called.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["view", "demo"]


def view(
    paths: list[str],
    *,
    series: str | None = None,
    workspace: str | os.PathLike[str] | None = None,
) -> None:
    """Open napari with the nvc-viewer panels docked and ``paths`` open as one case.

    See `nvc_viewer_napari._launch.view`.
    """
    from ._launch import view as _view

    _view(paths, series=series, workspace=workspace)


def demo(*, headless: bool, out_dir: Path) -> dict[str, Any]:
    """The main job on the bundled sample case (see `nvc_viewer_napari._launch.demo`)."""
    from ._launch import demo as _demo

    return _demo(headless=headless, out_dir=out_dir)
