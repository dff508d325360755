"""The npe2 manifest is valid, importable and contributes the reader and the sample case."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from npe2 import PluginManifest


def test_npe2_validate_with_imports() -> None:
    # --imports imports every python_name of the manifest: a renamed function fails here.
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run(
        [str(npe2), "validate", "--imports", "nvc-viewer"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


def test_manifest_contributions() -> None:
    manifest = PluginManifest.from_distribution("nvc-viewer")
    assert manifest.name == "nvc-viewer"
    contributions = manifest.contributions
    commands = {c.id: c.python_name for c in contributions.commands}

    (reader,) = contributions.readers
    assert reader.accepts_directories
    assert {"*.nii", "*.nii.gz", "*.dcm"} <= set(reader.filename_patterns)
    assert commands[reader.command] == "nvc_viewer_napari._reader:get_reader"

    samples = {s.display_name: s for s in contributions.sample_data}
    sample = samples["nvc-viewer sample case"]
    assert commands[sample.command] == "nvc_viewer_napari._sample_data:sample_case"
