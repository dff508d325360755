"""The core library never pulls in napari, magicgui or a Qt binding."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import nvc_viewer

GUI_MODULES = ("napari", "magicgui", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "vispy")


def _core_modules() -> list[str]:
    """Every module of the installed core package (new modules are covered automatically)."""
    names = ["nvc_viewer"]
    for info in pkgutil.walk_packages(nvc_viewer.__path__, prefix="nvc_viewer."):
        names.append(info.name)
    return sorted(names)


def test_core_modules_are_found() -> None:
    names = _core_modules()
    for expected in ("nvc_viewer.io", "nvc_viewer.geometry", "nvc_viewer.sample"):
        assert expected in names


def test_importing_the_core_imports_no_gui_module() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {_core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "import nvc_viewer.sample\n"
        "nvc_viewer.sample.load_sample()\n"
        f"gui = sorted(m for m in sys.modules if m.split('.')[0] in {GUI_MODULES!r})\n"
        "print(','.join(gui))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the core imported: {result.stdout.strip()}"
