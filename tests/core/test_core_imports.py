"""Module layering: the core library never pulls in napari, magicgui or a Qt binding and never
names the napari plugin; the plugin's modules import each other without a circle.

The last two are read from the source (`ast`), nothing of the plugin is imported.
"""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import nvc_viewer

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "nvc_viewer"
PLUGIN = ROOT / "plugins" / "nvc_viewer_napari"

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


def test_the_core_never_names_the_plugin() -> None:
    # The viewer is reached through the ``nvc_viewer.viewer`` entry points (pyproject.toml).
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted(CORE.rglob("*"))
        if path.is_file() and path.suffix not in (".pyc", ".pyo")
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), start=1)
        if PLUGIN.name in line
    ]
    assert hits == [], f"the core names {PLUGIN.name}: {hits}"


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, anywhere in its source (module level, in a
    function, under ``TYPE_CHECKING``). Names are dotted from the package (``pkg._mod``)."""
    package = package_dir.name
    modules = {}
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        modules[".".join(parts)] = (path, is_package)

    def resolve(name: str) -> str | None:
        """The module ``name`` is or lies in (``pkg._mod.thing`` -> ``pkg._mod``)."""
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        here = module if is_package else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                targets.update(resolve(a.name) or "" for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = here
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = (
                    (f"{base}.{node.module}" if node.module else base)
                    if node.level
                    else node.module or ""
                )
                for alias in node.names:  # ``from . import _mod`` imports a module
                    targets.add(resolve(f"{base}.{alias.name}") or "")
        # importing ``pkg._mod`` also runs ``pkg/__init__``: that parent edge is not a circle
        graph[module] = {t for t in targets if t.startswith(package) and t not in (module, package)}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``graph`` (``[a, b, ..., a]``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_finds_a_circle_through_a_function_level_import(tmp_path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_a.py").write_text("from ._b import thing\n")
    (pkg / "_b.py").write_text("def thing():\n    from . import _c\n")
    (pkg / "_c.py").write_text("def other():\n    from pkg._a import x\n")
    (pkg / "_d.py").write_text("import pkg._a\nfrom . import thing\n")
    graph = import_graph(pkg)
    assert graph["pkg._d"] == {"pkg._a"}  # ``thing`` of ``pkg/__init__`` is not a module
    assert find_cycle(graph) == ["pkg._a", "pkg._b", "pkg._c", "pkg._a"]
    (pkg / "_c.py").write_text("def other():\n    pass\n")
    assert find_cycle(import_graph(pkg)) is None


def test_the_plugin_modules_import_each_other_without_a_circle() -> None:
    graph = import_graph(PLUGIN)
    assert {"nvc_viewer_napari._launch", "nvc_viewer_napari._case_view"} <= set(graph)
    assert "nvc_viewer_napari._case_view" in graph["nvc_viewer_napari._launch"]
    cycle = find_cycle(graph)
    assert cycle is None, "import circle in the plugin: " + " -> ".join(cycle or [])


def test_reading_a_dicom_case_needs_neither_nibabel_pydicom_nor_scipy_ndimage() -> None:
    # a quarter, a sixth and a fifth of a second of imports that the viewer's first frame and
    # the command line's DICOM reading do without: nibabel reads NIfTI only, pydicom decodes
    # only what the fast header path cannot read, scipy.ndimage resamples
    code = (
        "import sys\n"
        "from nvc_viewer.geometry import to_display\n"
        "from nvc_viewer.sample import sample_case_path\n"
        "from nvc_viewer.session import case_volumes\n"
        "case = case_volumes(sample_case_path('dicom'))\n"
        "assert case.t2 is not None and case.tof is not None\n"
        "to_display(case.t2)\n"
        "print(case.t2.orientation, case.tof.orientation)\n"
        "heavy = ('nibabel', 'pydicom', 'scipy.ndimage', 'skimage')\n"
        "print(','.join(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    orientations, imported = result.stdout.splitlines()
    assert orientations == "LPS LPS"
    assert imported == "", f"reading the DICOM sample imported: {imported}"
