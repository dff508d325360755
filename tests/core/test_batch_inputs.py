"""The batch command's inputs: which folders are cases, their ids, usage errors (exit 2), and
loading a case's two series in one scan. No analysis runs here."""

import nibabel as nib
import numpy as np
import pytest
from dicom_cases import small_volume, write_case

from nvc_viewer.batch import CaseJob, discover_cases, no_image_reason, plan_case
from nvc_viewer.cli import main
from nvc_viewer.errors import InputError, InputNotFoundError, SeriesSelectionError
from nvc_viewer.io import load, load_case


def nifti(path, shape=(6, 5, 4), value=1.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.full(shape, value, np.float32), np.diag([0.5, 0.5, 0.5, 1])), path)
    return path


def dicom_file(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * 128 + b"DICM" + b"\2\0\0\0")
    return path


def ids(found):
    return [(case_id, given) for case_id, given, _ in found]


def test_a_nifti_file_or_a_folder_holding_images_is_one_case(tmp_path):
    single = nifti(tmp_path / "Pat 01.nii.gz")
    folder = tmp_path / "case_b"
    nifti(folder / "t2_ciss.nii.gz")
    nifti(folder / "tof.nii.gz")
    (folder / "deeper").mkdir()
    nifti(folder / "deeper" / "other.nii")  # the folder holds images directly: one case
    dcm = tmp_path / "case_c"
    dicom_file(dcm / "IM1")
    found = discover_cases([str(single), str(folder), str(dcm)])
    assert ids(found) == [("Pat_01", str(single)), ("case_b", str(folder)), ("case_c", str(dcm))]
    assert found[1][2] == folder


def test_any_other_folder_is_a_folder_of_cases(tmp_path):
    root = tmp_path / "cases"
    nifti(root / "a" / "t2.nii.gz")
    dicom_file(root / "b" / "series3" / "deep" / "IM00001.dcm")  # images at any depth
    (root / "c").mkdir(parents=True)
    (root / "c" / "notes.txt").write_text("no image here")  # a case that will fail: listed
    nifti(root / ".hidden" / "t2.nii.gz")  # hidden: not a case
    nifti(root / "out" / "x" / "segmentation.nii.gz")  # the output folder: not a case
    (root / "readme.md").write_text("a file beside the cases")
    found = discover_cases([str(root)], exclude=root / "out")
    assert ids(found) == [("a", str(root / "a")), ("b", str(root / "b")), ("c", str(root / "c"))]
    assert no_image_reason(root / "a") is None and no_image_reason(root / "b") is None
    assert no_image_reason(root / "c") == (
        "no DICOM or NIfTI image in this case folder: 1 file: 1 text file (notes.txt)"
    )


def test_the_same_name_twice_gets_a_suffix(tmp_path):
    one = nifti(tmp_path / "x" / "case.nii.gz")
    two = nifti(tmp_path / "y" / "case.nii")
    three = tmp_path / "z" / "case"
    dicom_file(three / "IM1")
    assert [c for c, _, _ in discover_cases([one, two, three])] == ["case", "case-2", "case-3"]


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(InputNotFoundError, match="missing"):
        discover_cases([str(tmp_path / "missing")])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match=r"notes\.txt: a single file must be a NIfTI"):
        discover_cases([str(tmp_path / "notes.txt")])
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(
        InputError, match=r"empty: no DICOM or NIfTI image .*\(1 file: 1 PNG image \(shot.png\)\)"
    ):
        discover_cases([str(tmp_path / "empty")])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["batch", "{missing}", "--out", "{out}"], "no such file or folder"),
        (["batch", "{empty}", "--out", "{out}"], "no DICOM or NIfTI image"),
        (["batch", "{case}", "--out", "{out}", "--workers", "0"], "at least 1"),
        (["batch", "{case}", "--out", "{out}", "--workers", "2", "--scheduler", "tcp://x:1"],
         "cannot go with"),
        (["batch", "{case}", "--out", "{case}"], "not a folder"),
        (["batch", "{case}", "--out", "{out}", "--formats", "xls"], "invalid choice"),
        (["batch", "{case}"], "--out"),
        (["export"], "WORKSPACE"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_and_run_nothing(tmp_path, capsys, argv, message):
    paths = {
        "missing": tmp_path / "missing",
        "empty": tmp_path / "empty",
        "case": nifti(tmp_path / "c1.nii.gz"),
        "out": tmp_path / "out",
    }
    paths["empty"].mkdir()
    with pytest.raises(SystemExit) as exc:
        main([a.format(**paths) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_export_of_a_folder_without_cases_is_an_error(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "no saved case" in err and "Traceback" not in err
    assert main(["export", str(tmp_path / "nope")]) == 1
    assert "no such workspace" in capsys.readouterr().err


def test_plan_of_a_new_case_is_to_analyse(tmp_path):
    case = nifti(tmp_path / "c1.nii.gz")
    job = CaseJob("c1", str(case), str(case), str(tmp_path / "out"))
    assert plan_case(job) == "analyse"


# -- load_case: both series, their keys, one scan of a DICOM folder ---------------------------


def test_load_case_of_a_nifti_folder_names_its_files(tmp_path):
    folder = tmp_path / "case"
    nifti(folder / "t2_ciss.nii.gz", value=1.0)
    nifti(folder / "tof_3d.nii.gz", value=2.0)
    nifti(folder / "labels_truth.nii.gz", value=0.0)
    case = load_case(folder)
    assert (case.t2_key, case.tof_key) == ("t2_ciss.nii.gz", "tof_3d.nii.gz")
    assert case.t2.data.max() == 1.0 and case.tof.data.max() == 2.0
    assert load(folder, series=case.tof_key).data.max() == 2.0  # the key picks it again
    assert load_case(folder, tof="none").tof is None
    swapped = load_case(folder, t2="tof_3d.nii.gz", tof="t2_ciss.nii.gz")
    assert swapped.t2.data.max() == 2.0 and swapped.tof.data.max() == 1.0
    with pytest.raises(SeriesSelectionError, match="series='angio'"):
        load_case(folder, tof="angio")
    single = load_case(folder / "t2_ciss.nii.gz")
    assert single.tof is None and single.t2_key is None


def test_load_case_scans_a_dicom_folder_once(tmp_path, monkeypatch):
    import nvc_viewer.io.dicom as dicom

    folder = tmp_path / "case"
    write_case(
        folder / "a",
        small_volume("axial", seed=1),
        series_number=3,
        series_description="t2_ciss3d",
        sequence_name="*ci3d1",
    )
    write_case(folder / "b", small_volume("axial", seed=2), series_number=5,
               series_description="tof_3d_multi-slab", sequence_name="*fl3d1r_t70")  # fmt: skip
    scans = []
    real_scan = dicom.scan_dicom
    monkeypatch.setattr(dicom, "scan_dicom", lambda *a, **k: scans.append(a) or real_scan(*a, **k))
    case = load_case(folder)
    assert len(scans) == 1
    assert (case.t2_key, case.tof_key) == ("3", "5")
    assert case.t2.meta.role == "t2" and case.tof.meta.role == "tof"
    assert load_case(folder, t2="5", tof="none").t2.meta.description == "tof_3d_multi-slab"


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise():
    import io

    from nvc_viewer.batch import _Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    rows = [
        {"case_id": "a", "status": "ok", "error": None},
        {"case_id": "b", "status": "failed", "error": "b/t2.nii: truncated\nmore detail"},
    ]
    tty, log = Terminal(), io.StringIO()
    bar, lines = _Progress(2, tty), _Progress(2, log)
    for row in rows:
        bar(row)
        lines(row)
    assert tty.getvalue().startswith("\r[###############---------------] 1/2 cases, 0 failed")
    assert "\r[##############################] 2/2 cases, 1 failed" in tty.getvalue()
    assert tty.getvalue().endswith("\n") and tty.getvalue().count("\n") == 1
    out = log.getvalue().splitlines()
    assert out[0].startswith("[1/2] a: ok (")
    assert out[1].startswith("[2/2] b: failed: b/t2.nii: truncated (")
    assert len(out) == 2
