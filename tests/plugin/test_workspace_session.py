"""The case model behind the panels: review, undo/redo, autosave, reopen (no viewer needed)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nvc_viewer.errors import InputNotFoundError, InvalidFindingError
from nvc_viewer.findings import CaseFindings, Finding, Landmark
from nvc_viewer.geometry import to_display
from nvc_viewer.io import read_nifti
from nvc_viewer.session import (
    CORRECTED_SEGMENTATION_FILE,
    SEGMENTATION_FILE,
    CaseSession,
    default_roles,
    list_series,
    read_entry,
)
from nvc_viewer.volume import Volume

from ._phantoms import make_volume, write_nifti

SHAPE = (24, 20, 16)


@pytest.fixture
def case_dir(tmp_path: Path) -> Path:
    """A NIfTI case folder: an oblique T2 and a coarser TOF, named as scanners name them."""
    folder = tmp_path / "patient_07"
    folder.mkdir()
    write_nifti(make_volume("oblique", shape=SHAPE), folder / "t2_ciss_3d.nii.gz")
    write_nifti(
        make_volume("axial", shape=(12, 10, 8), spacing=(1.0, 1.2, 1.6), role="tof"),
        folder / "tof_3d_multislab.nii.gz",
    )
    return folder


def _open(case_dir: Path, workspace: Path) -> CaseSession:
    entries = list_series(case_dir)
    t2_key, tof_key = default_roles(entries)
    by_key = {e.key: e for e in entries}
    session = CaseSession(workspace, author="dr-test")
    session.open(read_entry(by_key[t2_key]), read_entry(by_key[tof_key]), input_path=case_dir)
    return session


def _nerve(t2: Volume) -> tuple[dict[str, np.ndarray], tuple[Landmark, ...]]:
    """A left facial nerve inside the T2's field of view: 12 mm along -x, RDP 3 mm out."""
    start = t2.ras_of((np.asarray(t2.shape) - 1) / 2.0)
    direction = np.array([-1.0, 0.0, 0.0])
    line = start + np.linspace(0.0, 12.0, 121)[:, None] * direction
    landmarks = tuple(
        Landmark(name, "left", "VII", tuple(start + d * direction))
        for name, d in (("RExP", 0.0), ("RDP", 3.0), ("TZ", 5.6))
    )
    return {"VII_left": line}, landmarks


class _Result(SimpleNamespace):
    """What `nvc_viewer.analysis.analyse` returns, reduced to what the session reads."""

    def to_case_findings(self, case_id: str, *, t2: Volume, tof: Volume | None) -> CaseFindings:
        return CaseFindings(
            case_id=case_id,
            source={"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]},
            landmarks=self.landmarks,
            findings=self.findings,
        )


def _result(t2: Volume, *finding_ids: str, first_point: int = 30) -> _Result:
    centrelines, landmarks = _nerve(t2)
    findings = tuple(
        Finding(
            id=fid,
            side="left",
            nerve="VII",
            vessel="AICA",
            vessel_kind="artery",
            segment="RDP",
            grade="contact",
            position_ras=tuple(centrelines["VII_left"][first_point + 40 * n]),
            distance_from_brainstem_mm=0.0 + n,
            confidence=0.7,
        )
        for n, fid in enumerate(finding_ids)
    )
    labels = t2.with_data(np.zeros(t2.shape, np.uint8), role="label")
    labels.data[2:6, 3:9, 4:7] = 3
    return _Result(labels=labels, centrelines=centrelines, landmarks=landmarks, findings=findings)


def _saved(workspace: Path, case_id: str = "patient_07") -> dict:
    return json.loads((workspace / case_id / "findings.json").read_text())


def test_series_listing_proposes_t2_and_tof_from_file_names(case_dir: Path) -> None:
    (case_dir / "broken_t1.nii").write_bytes(b"not a nifti header")
    entries = list_series(case_dir)
    by_key = {e.key: e for e in entries}
    assert set(by_key) == {"t2_ciss_3d.nii.gz", "tof_3d_multislab.nii.gz", "broken_t1.nii"}
    t2 = by_key["t2_ciss_3d.nii.gz"]
    assert (t2.role, t2.n_slices, t2.shape) == ("t2", 16, SHAPE)
    np.testing.assert_allclose(t2.spacing_mm, (0.5, 0.6, 0.8), rtol=1e-6)
    assert by_key["tof_3d_multislab.nii.gz"].role == "tof"
    assert by_key["broken_t1.nii"].problems  # listed, with the reason, never proposed
    assert default_roles(entries) == ("t2_ciss_3d.nii.gz", "tof_3d_multislab.nii.gz")
    with pytest.raises(InputNotFoundError, match="missing"):
        list_series(case_dir / "missing")


def test_review_is_autosaved_and_undone(case_dir: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    session = _open(case_dir, workspace)
    assert session.case_id == "patient_07"
    seen: list[str] = []
    session.subscribe(seen.append)
    session.apply_analysis(_result(session.t2, "a1", "a2"))
    assert [f["origin"] for f in _saved(workspace)["findings"]] == ["auto", "auto"]
    assert (workspace / "patient_07" / SEGMENTATION_FILE).is_file()

    session.confirm("a1")
    session.edit("a2", vessel="vein")  # the kind follows the vessel
    doc = _saved(workspace)
    assert [(f["origin"], f["author"], f["edited"]) for f in doc["findings"]] == [
        ("auto-confirmed", "dr-test", False),
        ("auto", "dr-test", True),  # corrected, still to review: only confirm / reject decide
    ]
    assert (doc["findings"][1]["vessel"], doc["findings"][1]["vessel_kind"]) == ("vein", "vein")
    assert doc["flags"]["multiple_offenders"]  # AICA and a vein on the left VII

    session.delete("a1")
    assert [f["id"] for f in _saved(workspace)["findings"]] == ["a2"]
    assert session.undo() and session.undo()
    doc = _saved(workspace)
    assert [(f["id"], f["vessel"]) for f in doc["findings"]] == [("a1", "AICA"), ("a2", "AICA")]
    assert session.redo()
    assert _saved(workspace)["findings"][1]["vessel"] == "vein"
    assert "saved" in seen and "analysis" in seen

    manual = session.add_manual(session.finding("a1").position_ras)
    with pytest.raises(InvalidFindingError, match="delete it instead"):
        session.reject(manual.id)


def test_reanalysis_keeps_the_surgeons_work(case_dir: Path, tmp_path: Path) -> None:
    session = _open(case_dir, tmp_path / "ws")
    session.apply_analysis(_result(session.t2, "a1", "a2"))
    session.reject("a1")
    manual = session.add_manual(_nerve(session.t2)[0]["VII_left"][115], grade="indentation")
    # a fresh proposal where the surgeon rejected one does not come back; a new place does
    session.apply_analysis(_result(session.t2, "b1", "b2", first_point=31))
    origins = {f.id: f.origin for f in session.findings.findings}
    assert origins == {"a1": "auto-rejected", manual.id: "manual", "b2": "auto"}


def test_a_manual_finding_is_measured_along_the_nerve(case_dir: Path, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    session = _open(case_dir, workspace)
    session.apply_analysis(_result(session.t2))
    centrelines, _ = _nerve(session.t2)
    point = centrelines["VII_left"][90] + [0.0, 0.0, 0.6]  # 9 mm out, on the surface
    f = session.add_manual(point)
    assert (f.side, f.nerve, f.origin, f.author) == ("left", "VII", "manual", "dr-test")
    assert f.distance_from_brainstem_mm == pytest.approx(6.0, abs=1e-6)
    assert f.segment == "cisternal"
    np.testing.assert_allclose(_saved(workspace)["findings"][0]["position_ras"], point)

    # Reopened without the analysis' centrelines: the saved landmarks still measure it.
    reopened = _open(case_dir, workspace)
    assert [x.id for x in reopened.findings.findings] == [f.id]
    g = reopened.add_manual(centrelines["VII_left"][20])
    assert g.distance_from_brainstem_mm == pytest.approx(-1.0, abs=1e-6)
    assert g.segment == "RDP"


def test_brush_corrections_are_saved_on_the_t2_grid_and_restored(
    case_dir: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "ws"
    session = _open(case_dir, workspace)
    session.apply_analysis(_result(session.t2))
    shown, _ = to_display(session.labels)
    painted = np.array(shown)
    painted[0, 0, :3] = 6  # the surgeon paints an artery in one display-row
    session.set_labels_from_display(painted)

    # the corrections go to a file of their own: the machine's map is left as it was
    folder = workspace / "patient_07"
    saved = read_nifti(folder / CORRECTED_SEGMENTATION_FILE)
    np.testing.assert_allclose(saved.affine, session.t2.affine, atol=1e-4)
    np.testing.assert_array_equal(saved.data, session.labels.data)
    assert np.count_nonzero(saved.data == 6) == 3
    assert np.count_nonzero(read_nifti(folder / SEGMENTATION_FILE).data == 6) == 0

    reopened = _open(case_dir, workspace)
    np.testing.assert_array_equal(reopened.labels.data, session.labels.data)
    assert reopened.labels_edited  # a re-run will be given them

    # a re-run whose map replaces them (it took them in) leaves one map on disk again
    reopened.apply_analysis(_result(reopened.t2))
    assert not reopened.labels_edited
    assert not (folder / CORRECTED_SEGMENTATION_FILE).exists()


def test_a_failed_autosave_is_reported_and_retried(case_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "ws"
    session = _open(case_dir, blocker)
    blocker.write_text("a file where the workspace folder should be")
    seen: list[str] = []
    session.subscribe(seen.append)
    session.apply_analysis(_result(session.t2, "a1"))  # never raises: the work stays in memory
    assert "save-failed" in seen and "autosave failed" in session.last_error
    assert session.findings.finding("a1").origin == "auto"
    blocker.unlink()
    session.confirm("a1")
    assert session.last_error is None
    assert _saved(blocker)["findings"][0]["origin"] == "auto-confirmed"


def test_a_dicom_study_lists_each_series_with_its_tags(tmp_path: Path) -> None:
    from nvc_viewer.findings import uid_sha256
    from nvc_viewer.io.dicom_write import write_series

    study = tmp_path / "study_2031"
    t2 = make_volume("axial", shape=(16, 12, 10))
    tof = make_volume("oblique", shape=(14, 10, 6), spacing=(0.7, 0.7, 1.0), role="tof")
    write_series(t2, study / "s3", series_description="t2_ciss_3d_0.5iso", series_number=3)
    write_series(
        tof, study / "s5", series_description="tof_fl3d_tra", sequence_name="*fl3d1r_t70",
        series_number=5,
    )  # fmt: skip
    entries = list_series(study)
    rows = [(e.description, e.sequence, e.n_slices, e.role) for e in entries]
    assert rows == [
        ("t2_ciss_3d_0.5iso", "*ci3d1", 10, "t2"),
        ("tof_fl3d_tra", "*fl3d1r_t70", 6, "tof"),
    ]
    np.testing.assert_allclose(entries[1].spacing_mm, (0.7, 0.7, 1.0), atol=1e-4)
    t2_key, tof_key = default_roles(entries)
    assert (t2_key, tof_key) == (entries[0].key, entries[1].key)

    session = CaseSession(tmp_path / "ws")
    case = session.open(read_entry(entries[0]), read_entry(entries[1]), input_path=study)
    assert case.case_id == "study_2031"
    # the record names each series by the sha256 of its UID, never by the UID itself
    expected = [uid_sha256(e.source.series_uid) for e in entries]
    assert [s["uid_sha256"] for s in case.source["series"]] == expected
    np.testing.assert_allclose(session.tof.affine, tof.affine, atol=1e-4)


def test_a_broken_saved_record_stops_the_opening_and_is_named(
    case_dir: Path, tmp_path: Path
) -> None:
    from nvc_viewer.errors import FindingsFileError

    saved = tmp_path / "ws" / "patient_07" / "findings.json"
    saved.parent.mkdir(parents=True)
    saved.write_text('{"schema": "nvc-viewer/findings", "schema_version": 1, "case_id": ')
    with pytest.raises(FindingsFileError, match="findings.json.*not valid JSON"):
        _open(case_dir, tmp_path / "ws")
    # nothing was overwritten: the surgeon's file is left for them to repair
    assert saved.read_text().endswith('"case_id": ')
