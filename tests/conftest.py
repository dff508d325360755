"""Settings of the whole suite: each test process keeps its state to itself.

``scripts/test.sh`` runs the suite in several processes (pytest-xdist); each of them, and a
plain ``pytest`` run, gets its own napari settings file and its own default workspace in a
temporary folder, so that no two processes write the same file and no test reads or changes
the user's own napari settings or ``~/nvc-viewer-workspace``. A variable the user set is kept.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

#: Environment variables this suite points into its own folder (set before napari is imported).
_ISOLATED = {
    "NAPARI_CONFIG": "napari/settings.yaml",  # napari's settings file
    "NVC_VIEWER_WORKSPACE": "workspace",  # where findings are autosaved when no folder is given
}
#: The names of the variables that the suite set itself: xdist's worker processes inherit them
#: from the main process, and each sets them again to a folder of its own.
_SET_BY_SUITE = "NVC_TESTS_ISOLATED_VARIABLES"
_ROOT = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    root = Path(tempfile.mkdtemp(prefix=f"nvc-tests-{worker}-"))
    (root / "napari").mkdir()
    config.stash[_ROOT] = root
    ours = set(os.environ.get(_SET_BY_SUITE, "").split())
    for name, relative in _ISOLATED.items():
        if name not in os.environ or name in ours:
            os.environ[name] = str(root / relative)
            ours.add(name)
    os.environ[_SET_BY_SUITE] = " ".join(sorted(ours))


def pytest_unconfigure(config: pytest.Config) -> None:
    root = config.stash.get(_ROOT, None)
    if root is not None:
        shutil.rmtree(root, ignore_errors=True)
