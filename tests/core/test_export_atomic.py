"""Atomic writes: a failing writer leaves the old file intact and no temporary file behind."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from nvc_viewer.atomic import atomic_folder, atomic_path, atomic_write_bytes, atomic_write_text
from nvc_viewer.errors import ExportError, InvalidFindingError
from nvc_viewer.export.nifti_labels import write_segmentation_nifti
from nvc_viewer.findings import write_findings_json
from nvc_viewer.volume import Volume


def test_write_bytes_and_text(tmp_path):
    p = atomic_write_bytes(tmp_path / "a.bin", b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomic_write_text(p, "héllo\n")
    assert p.read_text("utf-8") == "héllo\n"
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_writer_error_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "findings.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as tmp:
            tmp.write_text("half-writ", encoding="utf-8")
            raise RuntimeError("disk on fire")
    assert target.read_text("utf-8") == "old"
    assert os.listdir(tmp_path) == ["findings.json"]


def test_temp_file_sits_beside_target_and_keeps_suffix(tmp_path):
    with atomic_path(tmp_path / "segmentation.nii.gz") as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(".nii.gz")
        assert not (tmp_path / "segmentation.nii.gz").exists()
        tmp.write_bytes(b"x")
    assert (tmp_path / "segmentation.nii.gz").read_bytes() == b"x"


def test_new_file_is_not_private(tmp_path):
    # mkstemp makes 0600 files; an export must be readable like any file the user writes.
    p = atomic_write_text(tmp_path / "f.txt", "x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def test_replacing_keeps_the_mode(tmp_path):
    p = tmp_path / "f.txt"
    p.write_text("old")
    p.chmod(0o640)
    atomic_write_text(p, "new")
    assert stat.S_IMODE(p.stat().st_mode) == 0o640 and p.read_text() == "new"


def test_real_writers_fail_without_touching_old_file(tmp_path):
    target = tmp_path / "findings.json"
    target.write_text("surgeon's confirmed work", encoding="utf-8")
    with pytest.raises(InvalidFindingError):
        write_findings_json("not a case", target)  # type: ignore[arg-type]
    assert target.read_text("utf-8") == "surgeon's confirmed work"

    seg = tmp_path / "segmentation.nii.gz"
    seg.write_bytes(b"old labels")
    bad = Volume(np.full((2, 2, 2), 300, dtype=np.int16), np.eye(4))
    with pytest.raises(ExportError, match="0..255"):
        write_segmentation_nifti(bad, seg)
    assert seg.read_bytes() == b"old labels"
    assert sorted(os.listdir(tmp_path)) == ["findings.json", "segmentation.nii.gz"]


def test_crash_inside_nibabel_leaves_old_file(tmp_path, monkeypatch):
    import nibabel as nib

    seg = tmp_path / "segmentation.nii.gz"
    seg.write_bytes(b"old labels")

    def broken_save(img, filename):
        with open(filename, "wb") as fh:
            fh.write(b"partial")
        raise OSError("no space left on device")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OSError, match="no space"):
        write_segmentation_nifti(Volume(np.zeros((2, 2, 2), np.uint8), np.eye(4)), seg)
    assert seg.read_bytes() == b"old labels"
    assert os.listdir(tmp_path) == ["segmentation.nii.gz"]


def test_a_folder_is_replaced_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "series"
    folder.mkdir()
    (folder / "old.dcm").write_bytes(b"old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_folder(folder) as tmp:
            (tmp / "new1.dcm").write_bytes(b"new")
            raise RuntimeError("disk full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]  # no partial folder left
    assert [p.name for p in folder.iterdir()] == ["old.dcm"]
    with atomic_folder(folder) as tmp:
        assert tmp.parent == folder.parent and tmp.name.startswith(".series.partial-")
        (tmp / "new1.dcm").write_bytes(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["series"]  # old copy removed
    assert [p.name for p in folder.iterdir()] == ["new1.dcm"]
    with atomic_folder(tmp_path / "a" / "b") as tmp:  # parents are created
        (tmp / "x").write_bytes(b"x")
    assert (tmp_path / "a" / "b" / "x").read_bytes() == b"x"
