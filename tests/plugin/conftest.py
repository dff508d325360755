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


@pytest.fixture(scope="module")
def sample() -> dict:
    """The bundled sample case and the real analysis' result on it (a few seconds)."""
    from nvc_viewer.analysis import analyse
    from nvc_viewer.sample import load_sample

    case = load_sample()
    return {**case, "result": analyse(case["t2"], case["tof"])}
