"""`export_case` writes the formats at the same time: the same files as one after the other, each
format's time reported, a failing format raised after the others are whole (also one written in
a child process, or whose process dies); the T2's headers read once, by the first writer that
needs them, while the others go on; the DICOM SEG's
label sampling takes slices of the label map on its own grid and agrees with a per-pixel lookup
everywhere (on the grid, in either memory order, and oblique)."""

from __future__ import annotations

import os

import highdicom as hd
import numpy as np
import pydicom
import pytest
from PIL import Image
from test_export_dicom import make_case, make_labels, write_t2

from nvc_viewer.errors import ExportError
from nvc_viewer.export import FILE_NAMES, export_case
from nvc_viewer.export.dicom_seg import (
    frame_geometries,
    labels_on_source_frames,
    read_source_datasets,
)
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.volume import Volume, VolumeMeta


@pytest.fixture(scope="module")
def t2(tmp_path_factory):
    return write_t2(tmp_path_factory.mktemp("t2") / "series")


def test_parallel_export_writes_what_the_sequential_one_writes(t2, tmp_path):
    case, labels = make_case(t2), make_labels(t2)
    timings: dict[str, float] = {}
    together = export_case(case, tmp_path / "a", t2=t2, labels=labels, timings=timings)
    alone = export_case(case, tmp_path / "b", t2=t2, labels=labels, threads=1)

    assert [p.name for p in together] == [p.name for p in alone]
    assert [p.name for p in together] == [n for names in FILE_NAMES.values() for n in names]
    for name in ("findings.json", "findings.csv", "findings.mrk.json", "segmentation_labels.txt"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    seg_a, seg_b = (hd.seg.segread(tmp_path / d / "segmentation.dcm") for d in "ab")
    assert seg_a.NumberOfFrames == seg_b.NumberOfFrames
    assert np.array_equal(seg_a.pixel_array, seg_b.pixel_array)
    assert set(timings) == {"export_headers"} | {f"export_{f}" for f in FILE_NAMES}
    assert all(seconds >= 0 for seconds in timings.values())


def test_a_failing_format_is_raised_and_the_others_are_whole(t2, tmp_path, monkeypatch):
    import nvc_viewer.export.dicom_sr as dicom_sr

    def broken(*args, **kwargs):
        raise ExportError("the SR cannot be written (test)")

    monkeypatch.setattr(dicom_sr, "write_dicom_sr", broken)
    out = tmp_path / "case"
    with pytest.raises(ExportError, match=r"the SR cannot be written \(test\)"):
        export_case(make_case(t2), out, t2=t2, labels=make_labels(t2))
    names = sorted(p.name for p in out.iterdir())
    assert "report_sr.dcm" not in names
    assert {"segmentation.dcm", "report.png", "report.pdf", "findings.json"} <= set(names)
    assert pydicom.dcmread(out / "segmentation.dcm").Modality == "SEG"  # whole, readable
    assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")]


def _lookup(labels: Volume, datasets) -> np.ndarray:
    """The label of every source pixel by a plain per-pixel lookup (the reference)."""
    frames = frame_geometries(datasets)
    inv = np.linalg.inv(labels.affine)
    rows, cols = frames[0].rows, frames[0].columns
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    out = np.zeros((len(frames), rows, cols), np.uint8)
    for n, fr in enumerate(frames):
        lps = fr.origin_lps + c[..., None] * fr.col_step_lps + r[..., None] * fr.row_step_lps
        ras = lps * [-1.0, -1.0, 1.0]
        ijk = np.rint(ras @ inv[:3, :3].T + inv[:3, 3]).astype(int)
        ok = np.all((ijk >= 0) & (ijk < labels.shape), axis=-1)
        ijk = np.clip(ijk, 0, np.array(labels.shape) - 1)
        out[n] = np.where(ok, labels.data[ijk[..., 0], ijk[..., 1], ijk[..., 2]], 0)
    return out


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("grid", ["same grid", "shifted grid", "oblique grid"])
def test_label_sampling_agrees_with_a_per_pixel_lookup(t2, tmp_path, order, grid):
    rng = np.random.default_rng(3)
    shape = t2.shape
    data = np.zeros(shape, np.uint8)
    data[3:9, 2:10, 1:6] = rng.integers(0, 8, (6, 8, 5))  # a box of labels, zeros around
    affine = t2.affine.copy()
    if grid == "shifted grid":
        affine[:3, 3] += affine[:3, :3] @ [2.0, -1.0, 1.0]  # whole voxels: still on the grid
    elif grid == "oblique grid":
        tilt = np.eye(4)
        tilt[:3, :3] = [[0.98, -0.17, 0.0], [0.17, 0.98, 0.0], [0.0, 0.0, 1.0]]
        affine = affine @ tilt
    labels = Volume(np.asarray(data, order=order), affine, VolumeMeta(role="label"))
    datasets = read_source_datasets(t2)

    sampled = labels_on_source_frames(labels, frame_geometries(datasets))

    assert np.array_equal(sampled, _lookup(labels, datasets))
    assert sampled.any()


def test_label_sampling_of_an_axial_series_on_its_grid(tmp_path):
    """An axis-aligned series: every frame is a plain slice of the label map."""
    affine = np.diag([0.5, 0.6, 0.8, 1.0])
    affine[:3, 3] = [-3.0, 4.0, 10.0]
    write_series(Volume(np.ones((10, 8, 6), np.int16), affine), tmp_path / "ax")
    from nvc_viewer.io import load

    t2 = load(tmp_path / "ax")
    data = np.zeros(t2.shape, np.uint8)
    data[2:7, 1:5, 2:4] = 5
    data[0, 0, 5] = 7
    datasets = read_source_datasets(t2)
    labels = t2.with_data(data, role="label")
    sampled = labels_on_source_frames(labels, frame_geometries(datasets))
    assert np.array_equal(sampled, _lookup(labels, datasets))
    assert int((sampled == 5).sum()) == 5 * 4 * 2 and int((sampled == 7).sum()) == 1


def test_the_headers_are_read_once_by_the_first_writer_that_needs_them(t2, tmp_path, monkeypatch):
    """The report and the NIfTI do not wait for the T2's DICOM headers: the header read below
    waits until both are written (a writer that waited for it would never finish)."""
    import threading

    import nvc_viewer.export.dicom_seg as dicom_seg

    out = tmp_path / "case"
    calls = []
    written = threading.Event()

    def read_when_the_others_are_written(volume):
        calls.append(threading.current_thread().name)
        for _ in range(600):  # at most 60 s; the report and the NIfTI take well under that
            names = {p.name for p in out.iterdir()} if out.is_dir() else set()
            if {"report.png", "report.pdf", "segmentation.nii.gz"} <= names:
                written.set()
                break
            written.wait(0.1)
        return read_source_datasets(volume)

    monkeypatch.setattr(dicom_seg, "read_source_datasets", read_when_the_others_are_written)
    files = export_case(make_case(t2), out, t2=t2, labels=make_labels(t2), threads=3)

    assert written.is_set()  # the report and the NIfTI were written while the headers waited
    assert len(calls) == 1  # read once, shared by the DICOM SEG and the SR
    assert {"segmentation.dcm", "report_sr.dcm"} <= {p.name for p in files}
    assert pydicom.dcmread(out / "report_sr.dcm").Modality == "SR"


def test_a_report_with_patient_lines_shares_the_one_header_read(t2, tmp_path, monkeypatch):
    import nvc_viewer.export.dicom_seg as dicom_seg

    calls = []

    def counted(volume):
        calls.append(volume)
        return read_source_datasets(volume)

    monkeypatch.setattr(dicom_seg, "read_source_datasets", counted)
    timings: dict[str, float] = {}
    export_case(make_case(t2), tmp_path / "case", t2=t2, labels=make_labels(t2),
                include_phi=True, timings=timings)  # fmt: skip
    assert len(calls) == 1
    assert "export_headers" in timings


def test_a_failed_header_read_fails_the_dicom_formats_only(t2, tmp_path, monkeypatch):
    import nvc_viewer.export.dicom_seg as dicom_seg

    def unreadable(volume):
        raise ExportError("the T2's headers cannot be read again (test)")

    monkeypatch.setattr(dicom_seg, "read_source_datasets", unreadable)
    out = tmp_path / "case"
    with pytest.raises(ExportError, match=r"cannot be read again \(test\)"):
        export_case(make_case(t2), out, t2=t2, labels=make_labels(t2))
    names = {p.name for p in out.iterdir()}
    assert {"findings.json", "segmentation.nii.gz", "report.png", "report.pdf"} <= names
    assert not names & {"segmentation.dcm", "report_sr.dcm"}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_format_written_in_a_child_process_is_the_same(t2, tmp_path):
    case, labels = make_case(t2), make_labels(t2)
    timings: dict[str, float] = {}
    forked = export_case(case, tmp_path / "a", t2=t2, labels=labels, timings=timings,
                         processes=("report", "seg"))  # fmt: skip
    here = export_case(case, tmp_path / "b", t2=t2, labels=labels)

    assert [p.name for p in forked] == [p.name for p in here]
    assert set(timings) == {"export_headers"} | {f"export_{f}" for f in FILE_NAMES}
    seg_a, seg_b = (hd.seg.segread(tmp_path / d / "segmentation.dcm") for d in "ab")
    assert np.array_equal(seg_a.pixel_array, seg_b.pixel_array)
    png_a, png_b = (Image.open(tmp_path / d / "report.png") for d in "ab")
    assert png_a.size == png_b.size
    assert (tmp_path / "a" / "report.pdf").read_bytes()[:5] == b"%PDF-"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_child_process_that_fails_or_dies_fails_its_format_only(t2, tmp_path, monkeypatch):
    import nvc_viewer.export.report as report

    def broken(*args, **kwargs):
        raise ExportError("the report cannot be drawn (test)")

    monkeypatch.setattr(report, "write_case_report", broken)
    out = tmp_path / "fails"
    with pytest.raises(ExportError, match=r"cannot be drawn \(test\)"):
        export_case(make_case(t2), out, t2=t2, labels=make_labels(t2), processes=("report",))
    assert {"segmentation.dcm", "report_sr.dcm", "findings.json"} <= {p.name for p in out.iterdir()}

    monkeypatch.setattr(report, "write_case_report", lambda *a, **k: os._exit(7))
    out = tmp_path / "dies"
    with pytest.raises(ExportError, match=r"report export died \(exit code 7\)"):
        export_case(make_case(t2), out, t2=t2, labels=make_labels(t2), processes=("report",))
    names = {p.name for p in out.iterdir()}
    assert {"segmentation.dcm", "report_sr.dcm", "findings.json"} <= names
    assert not names & {"report.png", "report.pdf"}
