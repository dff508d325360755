"""The shipped sample case: its files are the ones README.md lists, and it loads as a case."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import nvc_viewer
from nvc_viewer.errors import InputNotFoundError
from nvc_viewer.findings import validate_findings_dict
from nvc_viewer.io import load_case
from nvc_viewer.sample import (
    load_sample,
    sample_case_path,
    sample_data_dir,
    sample_labels_path,
    sample_truth_path,
)


def _listed_hashes() -> dict[str, str]:
    """``path -> sha256`` from the block of ``sample_data/README.md`` (sha256sum format)."""
    text = (sample_data_dir() / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- sha256 begin", 1)[1].split("<!-- sha256 end -->", 1)[0]
    listed = {}
    for line in block.splitlines():
        parts = line.split()
        if len(parts) == 2 and len(parts[0]) == 64:
            listed[parts[1]] = parts[0]
    return listed


def test_shipped_files_match_the_readme_hashes() -> None:
    root = sample_data_dir()
    listed = _listed_hashes()
    shipped = {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "cpa_phantom").rglob("*"))
        if p.is_file()
    }
    assert len(listed) > 10
    assert sorted(shipped) == sorted(listed), "files added or missing against README.md"
    changed = [p for p in listed if shipped[p] != listed[p]]
    assert changed == [], f"content differs from README.md: {changed[:5]}"
    # small enough to live in the repository
    assert sum((root / p).stat().st_size for p in shipped) < 5_000_000


def test_sample_loads_with_t2_and_tof_roles() -> None:
    for form in ("dicom", "nifti"):
        case = load_case(sample_case_path(form))
        assert case.t2.meta.role == "t2" and case.tof is not None and case.tof.meta.role == "tof"
    dicom, nifti = load_sample("dicom"), load_sample("nifti")
    for role in ("t2", "tof"):
        np.testing.assert_allclose(dicom[role].affine, nifti[role].affine, atol=1e-3)
        np.testing.assert_array_equal(dicom[role].data, nifti[role].data)
    labels = dicom["labels"]
    assert labels is not None and labels.shape == dicom["t2"].shape
    np.testing.assert_allclose(labels.affine, dicom["t2"].affine, atol=1e-3)
    assert set(np.unique(labels.data)) == set(range(8))
    # nvc_viewer.load on the folder picks the T2 series
    np.testing.assert_array_equal(nvc_viewer.load(sample_case_path()).data, dicom["t2"].data)


def test_sample_truth_is_a_left_indentation() -> None:
    doc = validate_findings_dict(json.loads(sample_truth_path().read_text(encoding="utf-8")))
    assert [(f["side"], f["nerve"], f["grade"]) for f in doc["findings"]] == [
        ("left", "VII", "indentation")
    ]
    # left is RAS -x; the finding sits among the left facial nerve's voxels
    labels = load_sample("nifti")["labels"]
    assert labels is not None
    position = np.asarray(doc["findings"][0]["position_ras"])
    assert position[0] < 0
    seven = labels.ras_of(np.argwhere(labels.data == 3))
    assert np.min(np.linalg.norm(seven - position, axis=1)) < 1.5
    assert sample_labels_path().name == "labels_truth.nii.gz"


def test_unknown_form_and_missing_folder_are_refused(monkeypatch, tmp_path) -> None:
    with pytest.raises(ValueError, match="form must be"):
        sample_case_path("analyze")  # type: ignore[arg-type]
    import nvc_viewer.sample as sample

    monkeypatch.setattr(sample, "__file__", str(tmp_path / "nvc_viewer" / "sample.py"))
    with pytest.raises(InputNotFoundError, match="sample data folder is missing"):
        sample_case_path()
