"""The case model in the core (`nvc_viewer.session`): which series, saved work, export.

No viewer: the session is driven as the viewer's panels drive it, then ``nvc-viewer export``
and the batch's series choice are checked against it.
"""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from dicom_cases import small_volume

from nvc_viewer.cli import main
from nvc_viewer.errors import SeriesMismatchError
from nvc_viewer.export.nifti_labels import write_segmentation_nifti
from nvc_viewer.findings import series_fingerprint, uid_sha256
from nvc_viewer.io import load_case
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.session import (
    CaseSession,
    case_volumes,
    choose_series,
    default_roles,
    list_series,
    read_entry,
)
from nvc_viewer.volume import Volume
from nvc_viewer.workspace import Workspace


def _nifti(volume: Volume, path: Path) -> Path:
    nib.Nifti1Image(np.asarray(volume.data, dtype=np.int16), volume.affine).to_filename(path)
    return path


def _label_map(like: Volume, path: Path) -> Path:
    """A label map on ``like``'s grid, as a phantom's truth or a segmentation tool writes it."""
    data = np.zeros(like.shape, np.uint8)
    data[2:8, 3:9, 2:6] = 1
    data[8:12, 3:9, 2:6] = 6
    nib.Nifti1Image(data, like.affine).to_filename(path)
    return path


@pytest.fixture
def nifti_case(tmp_path: Path) -> Path:
    folder = tmp_path / "hfs07"
    folder.mkdir()
    _nifti(small_volume("axial", shape=(24, 20, 16), seed=1), folder / "t2_ciss.nii.gz")
    _nifti(small_volume("oblique", shape=(20, 16, 12), seed=2), folder / "tof_3d.nii.gz")
    return folder


@pytest.fixture
def dicom_case(tmp_path: Path) -> Path:
    """Two DICOM series (T2, TOF) and a NIfTI label map beside them (a phantom's layout)."""
    folder = tmp_path / "study_2031"
    t2 = small_volume("axial", shape=(16, 12, 10), seed=1)
    tof = small_volume("oblique", shape=(14, 10, 6), spacing=(0.7, 0.7, 1.0), seed=2)
    write_series(t2, folder / "s3", series_description="t2_ciss_3d_0.5iso", series_number=3)
    write_series(
        tof, folder / "s5", series_description="tof_fl3d_tra", sequence_name="*fl3d1r_t70",
        series_number=5,
    )  # fmt: skip
    _label_map(t2, folder / "labels_truth.nii.gz")
    return folder


def test_a_correction_painted_in_the_session_reaches_nvc_viewer_export(
    nifti_case: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    session = CaseSession(ws, author="dr-test")
    session.open_path(nifti_case)
    assert session.case_id == "hfs07"
    session.set_clinical(condition="hemifacial_spasm")  # some work: findings.json is saved
    # The machine's map, as the batch or an analysis writes it: nothing labelled here.
    t2 = session.t2
    write_segmentation_nifti(
        t2.with_data(np.zeros(t2.shape, np.uint8), role="label"),
        Workspace(ws).segmentation_path("hfs07"),
    )

    # The surgeon paints 1000 voxels of vein with the brush (the map as the viewer shows it).
    assert session.grid is not None
    shown = np.zeros(session.grid.shape, np.uint8)
    shown.reshape(-1)[:1000] = 7
    session.set_labels_from_display(shown)
    assert session.labels_edited
    assert np.count_nonzero(session.labels.data == 7) == 1000
    session.close()
    assert not session.is_open
    assert (ws / "hfs07" / "segmentation_corrected.nii.gz").is_file()
    assert (ws / "hfs07" / "case.json").is_file()  # where the images are, for the export

    out = tmp_path / "exported"
    assert main(["export", str(ws), "--out", str(out), "--formats", "json", "nifti"]) == 0
    exported = np.asarray(nib.load(out / "hfs07" / "segmentation.nii.gz").dataobj)
    assert np.count_nonzero(exported == 7) == 1000

    # Reopened, the corrected map is the one shown.
    again = CaseSession(ws)
    again.open_path(nifti_case)
    assert again.labels_edited and np.count_nonzero(again.labels.data == 7) == 1000


def test_the_picker_offers_both_dicom_series_beside_a_label_map_and_never_it_as_t2(
    dicom_case: Path,
) -> None:
    entries = list_series(dicom_case)
    by_key = {e.key: e for e in entries}
    assert set(by_key) == {"3", "5", "labels_truth.nii.gz"}
    assert [by_key[k].kind for k in ("3", "5")] == ["dicom", "dicom"]
    assert by_key["labels_truth.nii.gz"].role == "label"
    assert by_key["labels_truth.nii.gz"].is_label_map
    assert default_roles(entries) == ("3", "5")
    t2, tof = choose_series(entries)
    assert (t2.key, tof.key) == ("3", "5")
    # The viewer's reader and the batch read the same two series.
    volumes = load_case(dicom_case)
    assert (volumes.t2_key, volumes.tof_key) == ("3", "5")
    assert volumes.t2.meta.kind == "dicom" and volumes.tof is not None


def test_several_tofs_give_no_tof_in_the_viewer_and_the_batch_alike(dicom_case: Path) -> None:
    tof2 = small_volume("oblique", shape=(14, 10, 6), spacing=(0.7, 0.7, 1.0), seed=3)
    write_series(
        tof2, dicom_case / "s6", series_description="tof_fl3d_cor", sequence_name="*fl3d1r_t70",
        series_number=6,
    )  # fmt: skip
    entries = list_series(dicom_case)
    assert default_roles(entries) == ("3", None)
    assert case_volumes(dicom_case).tof is None
    assert case_volumes(dicom_case, tof="6").tof_key == "6"


def test_a_nifti_folder_with_a_label_map_opens_the_image_not_the_labels(tmp_path: Path) -> None:
    folder = tmp_path / "c2"
    folder.mkdir()
    t2 = small_volume("axial", shape=(24, 20, 16), seed=1)
    _nifti(t2, folder / "brain.nii.gz")  # a name that says nothing
    _label_map(t2, folder / "brain_seg.nii.gz")
    unnamed = _label_map(t2, folder / "other.nii.gz")  # a label map by its content only
    entries = list_series(folder)
    assert {e.key: e.role for e in entries}["other.nii.gz"] == "label"
    assert default_roles(entries) == ("brain.nii.gz", None)
    assert load_case(folder).t2_key == "brain.nii.gz"
    assert unnamed.is_file()


def test_saved_findings_are_refused_on_another_series(dicom_case: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    entries = {e.key: e for e in list_series(dicom_case)}
    session = CaseSession(ws)
    case = session.open(read_entry(entries["3"]), read_entry(entries["5"]), input_path=dicom_case)
    assert case.source["series"][0]["uid_sha256"] == uid_sha256(session.t2.meta.series_uid)
    session.add_manual(session.t2.ras_of((8.0, 6.0, 5.0)), grade="contact")
    session.close()

    # The label map opened as the T2 (what the picker did), or the TOF as the T2: refused.
    for wrong in ("labels_truth.nii.gz", "5"):
        other = CaseSession(ws)
        with pytest.raises(SeriesMismatchError, match=r"findings\.json.*another T2 series"):
            other.open(read_entry(entries[wrong]), None, input_path=dicom_case)
        assert not other.is_open
    # The series they were made on: restored.
    restored = CaseSession(ws).open(read_entry(entries["3"]), None, input_path=dicom_case)
    assert len(restored.findings) == 1


def test_nifti_series_have_a_fingerprint_and_old_files_without_one_still_open(
    nifti_case: Path, tmp_path: Path
) -> None:
    ws = tmp_path / "ws"
    session = CaseSession(ws)
    case = session.open_path(nifti_case)
    fingerprint = case.source["series"][0]["uid_sha256"]
    assert fingerprint == series_fingerprint(session.t2) and len(fingerprint) == 64
    session.set_clinical(condition="other")
    session.close()

    # The file is replaced by another image under the same name: refused, with the file named.
    _nifti(small_volume("oblique", shape=(24, 20, 16), seed=5), nifti_case / "t2_ciss.nii.gz")
    with pytest.raises(SeriesMismatchError, match="findings.json"):
        CaseSession(ws).open_path(nifti_case)

    # A findings.json written before fingerprints (null) opens on any series.
    saved = Workspace(ws).load("hfs07")
    old = saved.replace(source={"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]})
    Workspace(ws).save(old)
    assert CaseSession(ws).open_path(nifti_case).clinical.condition == "other"


# -- review, undo descriptions, the saved view ------------------------------------------------
def _with_proposals(session: CaseSession) -> list[str]:
    """Two machine proposals in the open case, as an analysis leaves them."""
    from findings_cases import finding

    case = session.findings
    assert case is not None
    session.findings = case.replace(
        findings=(finding(id="p1", rationale="no CSF between"), finding(id="p2", vessel="PICA"))
    )
    return ["p1", "p2"]


def test_only_confirm_and_reject_decide_and_undo_says_what_it_undid(
    nifti_case: Path, tmp_path: Path
) -> None:
    session = CaseSession(tmp_path / "ws", author="dr-test")
    session.open_path(nifti_case)
    first, second = _with_proposals(session)
    edited = session.edit(first, grade="indentation")
    assert (edited.origin, edited.edited, edited.rationale) == ("auto", True, "no CSF between")
    assert session.undo_description == "edit VII-L AICA contact: grade indentation"
    noted = session.edit(first, note="pulsatile at surgery")
    assert (noted.note, noted.rationale) == ("pulsatile at surgery", "no CSF between")
    session.confirm(second)
    assert session.undo_description == "confirm VII-L PICA contact"
    assert session.undo()
    assert session.redo_description == "confirm VII-L PICA contact"
    assert session.finding(second).origin == "auto"
    assert session.redo() and session.finding(second).origin == "auto-confirmed"
    session.delete(second)
    assert session.undo_description == "delete VII-L PICA contact"


def test_the_view_is_saved_with_the_case_and_read_on_reopening(
    nifti_case: Path, tmp_path: Path
) -> None:
    session = CaseSession(tmp_path / "ws", author="dr-test")
    session.open_path(nifti_case)
    assert session.view_state is None
    session.set_view(point_ras=[1.0, -2.5, 3.0], zoom=4.2, ndisplay=2)
    session.set_view(selected="p1")
    path = session.flush_view()
    assert path == tmp_path / "ws" / "hfs07" / "view.json" and path.is_file()
    again = CaseSession(tmp_path / "ws", author="dr-test")
    again.open_path(nifti_case)
    assert again.view_state == {
        "point_ras": [1.0, -2.5, 3.0], "zoom": 4.2, "ndisplay": 2, "selected": "p1"
    }  # fmt: skip
    path.write_text("{broken", encoding="utf-8")  # a convenience: never stops the opening
    again.open_path(nifti_case)
    assert again.view_state is None and again.is_open
