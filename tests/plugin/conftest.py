"""Fixtures of the plugin tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._phantoms import make_volume, write_nifti


@pytest.fixture
def broken_nifti(tmp_path: Path) -> Path:
    """A NIfTI file cut inside its header."""
    full = tmp_path / "full.nii"
    write_nifti(make_volume("axial"), full)
    broken = tmp_path / "broken_t2.nii"
    broken.write_bytes(full.read_bytes()[:200])
    full.unlink()
    return broken
