"""The ``nvc-viewer`` command line: ``info`` on DICOM and NIfTI, errors without tracebacks."""

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
from dicom_cases import small_volume, write_case

from nvc_viewer.cli import VIEWER_ENTRY_POINTS, main


@pytest.fixture
def two_series_folder(tmp_path):
    folder = tmp_path / "case"
    write_case(
        folder / "t2",
        small_volume("axial", seed=1),
        series_number=3,
        series_description="t2_ciss3d_0.5iso",
        sequence_name="*ci3d1",
        patient={
            "name": "DOE^JANE",
            "id": "PID-12345",
            "birth_date": "19600101",
            "accession": "ACC999",
        },
    )
    write_case(
        folder / "tof",
        small_volume("oblique", seed=2),
        series_number=5,
        series_description="tof_3d_multi-slab",
        sequence_name="*fl3d1r_t70",
        patient={
            "name": "DOE^JANE",
            "id": "PID-12345",
            "birth_date": "19600101",
            "accession": "ACC999",
        },
    )
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_info_lists_every_series_with_role_and_geometry(two_series_folder, capsys):
    assert main(["info", str(two_series_folder)]) == 0
    out = capsys.readouterr().out
    assert "t2_ciss3d_0.5iso" in out and "tof_3d_multi-slab" in out
    assert "DOE" not in out and "PID-12345" not in out  # no patient data on screen
    assert main(["info", "--json", str(two_series_folder)]) == 0
    info = json.loads(capsys.readouterr().out)
    roles = {s["description"]: s["role"] for s in info["series"]}
    assert roles == {"t2_ciss3d_0.5iso": "t2", "tof_3d_multi-slab": "tof"}
    t2 = next(s for s in info["series"] if s["role"] == "t2")
    assert t2["slices"] == 12
    assert t2["spacing_mm"] == [0.5, 0.5, 0.8]
    assert t2["orientation"] == "LPS"
    assert info["skipped_files"] == 1


def test_info_reports_a_missing_slice_as_a_problem(two_series_folder, capsys):
    files = sorted((two_series_folder / "t2").glob("*.dcm"))
    files[5].unlink()
    assert main(["info", "--json", str(two_series_folder)]) == 0
    info = json.loads(capsys.readouterr().out)
    t2 = next(s for s in info["series"] if s["role"] == "t2")
    assert any("missing" in p for p in t2["problems"])


def test_info_on_nifti(tmp_path, capsys):
    path = tmp_path / "fiesta.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), np.diag([0.4, 0.4, 0.5, 1])), path)
    assert main(["info", "--json", str(path)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["role"] == "t2" and row["shape"] == [4, 5, 6]
    assert row["spacing_mm"] == [0.4, 0.4, 0.5]


def test_errors_are_one_line_without_traceback(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "nvc_viewer.cli", "info", str(empty)], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("nvc-viewer: error: ") and str(empty) in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "nvc_viewer.cli", "info", "--debug", str(empty)],
        capture_output=True,
        text=True,
    )
    assert "Traceback" in proc.stderr


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


def _fake_viewer(monkeypatch, **commands) -> None:
    """Stand-in ``nvc_viewer.viewer`` entry points: the core tests never import napari or Qt."""
    import importlib.metadata
    import types

    module = types.ModuleType("fake_viewer_for_tests")
    for name, command in commands.items():
        setattr(module, name, command)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    points = [
        importlib.metadata.EntryPoint(name, f"{module.__name__}:{name}", VIEWER_ENTRY_POINTS)
        for name in commands
    ]

    def entry_points(*, group: str, name: str) -> list:
        return [e for e in points if e.group == group and e.name == name]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["view", "caseA", "--workspace", "ws"], (["caseA"], None, "ws")),
        (["view", "--series", "tof", "caseA", "caseB"], (["caseA", "caseB"], "tof", None)),
        (["view"], ([], None, None)),
    ],
)
def test_view_hands_paths_series_and_workspace_to_the_launcher(monkeypatch, argv, expected):
    calls = []
    _fake_viewer(
        monkeypatch,
        view=lambda paths, *, series=None, workspace=None: calls.append((paths, series, workspace)),
    )
    assert main(argv) == 0
    assert calls == [expected]


def test_the_installed_viewer_entry_points_are_the_plugins_public_commands() -> None:
    # Loading them imports the plugin package only: napari and Qt wait for a command to run.
    code = (
        "import sys\n"
        "from importlib.metadata import entry_points\n"
        f"found = {{e.name: e for e in entry_points(group={VIEWER_ENTRY_POINTS!r})}}\n"
        "print(sorted(found))\n"
        "for e in found.values():\n"
        "    command = e.load()\n"
        "    print(e.name, command.__module__, command.__name__)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('napari', 'qtpy', 'vispy')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "['demo', 'view']"
    assert sorted(lines[1:3]) == ["demo nvc_viewer_napari demo", "view nvc_viewer_napari view"]
    assert lines[3] == "[]"


def test_view_without_a_viewer_says_what_to_install(monkeypatch, capsys) -> None:
    _fake_viewer(monkeypatch)  # no entry point at all
    assert main(["view", "caseA"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nvc-viewer: error: no viewer is installed")
    assert "pip install 'nvc-viewer[qt]'" in err and "Traceback" not in err


@pytest.mark.parametrize("missing", ["napari", "qtpy.QtWidgets", None])
def test_view_without_napari_or_qt_says_what_to_install(monkeypatch, capsys, missing) -> None:
    def view(paths, *, series=None, workspace=None):
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    _fake_viewer(monkeypatch, view=view)
    assert main(["view", "caseA"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nvc-viewer: error: the viewer could not start")
    assert "napari and a Qt binding" in err


def test_a_bug_in_the_viewer_is_not_taken_for_a_missing_napari(monkeypatch) -> None:
    def demo(*, headless, out_dir):
        raise ModuleNotFoundError("No module named 'nvc_viewer.gone'", name="nvc_viewer.gone")

    _fake_viewer(monkeypatch, demo=demo)
    with pytest.raises(ModuleNotFoundError):
        main(["demo", "--headless"])


def test_view_help_names_the_workspace_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["view", "--help"])
    assert exc.value.code == 0
    assert "--workspace DIR" in capsys.readouterr().out


def test_info_on_a_nifti_folder_with_side_files(tmp_path, capsys):
    # a phantom case folder: NIfTI volumes beside JSON files that are not images
    folder = tmp_path / "case"
    folder.mkdir()
    affine = np.diag([0.5, 0.5, 0.5, 1])
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), affine), folder / "t2_ciss.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros((4, 5, 6), np.int16), affine), folder / "tof.nii.gz")
    (folder / "truth.json").write_text("{}")
    (folder / "README.txt").write_text("synthetic case")
    assert main(["info", "--json", str(folder)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["file"]: r["role"] for r in rows} == {"t2_ciss.nii.gz": "t2", "tof.nii.gz": "tof"}


def test_info_lists_dicom_series_and_a_label_map_beside_them(tmp_path, capsys):
    # the folder rule of the series picker and the batch (`session.list_series`): two DICOM
    # series and a NIfTI label map beside them are three entries, the map marked as such
    from nvc_viewer.io.dicom_write import write_series

    folder = tmp_path / "study_2031"
    t2 = small_volume("axial", shape=(16, 12, 10), seed=1)
    tof = small_volume("oblique", shape=(14, 10, 6), spacing=(0.7, 0.7, 1.0), seed=2)
    write_series(t2, folder / "s3", series_description="t2_ciss_3d_0.5iso", series_number=3)
    write_series(
        tof, folder / "s5", series_description="tof_fl3d_tra", sequence_name="*fl3d1r_t70",
        series_number=5,
    )  # fmt: skip
    labels = np.zeros(t2.shape, np.uint8)
    labels[2:8, 3:9, 2:6] = 1
    labels[8:12, 3:9, 2:6] = 6
    nib.Nifti1Image(labels, t2.affine).to_filename(folder / "labels_truth.nii.gz")

    assert main(["info", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "t2_ciss_3d_0.5iso" in out and "tof_fl3d_tra" in out
    (line,) = [ln for ln in out.splitlines() if ln.startswith("labels_truth.nii.gz")]
    assert "label map" in line

    assert main(["info", "--json", str(folder)]) == 0
    info = json.loads(capsys.readouterr().out)
    roles = {s["description"]: s["role"] for s in info["series"]}
    assert roles == {"t2_ciss_3d_0.5iso": "t2", "tof_fl3d_tra": "tof"}
    (row,) = info["nifti"]
    assert row["file"] == "labels_truth.nii.gz" and row["role"] == "label"
    assert row["shape"] == [16, 12, 10]
