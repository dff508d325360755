"""DICOM SEG and SR read back with highdicom; `export_case`; no PHI outside DICOM exports."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from scipy.spatial.transform import Rotation

import nvc_viewer
from nvc_viewer.errors import ExportError
from nvc_viewer.export import FILE_NAMES, export_case
from nvc_viewer.export.dicom_seg import write_dicom_seg
from nvc_viewer.export.dicom_sr import CODES, write_dicom_sr
from nvc_viewer.export.nifti_labels import write_segmentation_nifti
from nvc_viewer.findings import (
    CaseFindings,
    Clinical,
    Finding,
    Landmark,
    reject,
    source_from_volumes,
    uid_sha256,
)
from nvc_viewer.io.dicom_write import write_series
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume, VolumeMeta

PHI = {"name": "Doe^Jane", "id": "PHI-12345", "birth_date": "19700101", "accession": "ACC98765"}
T0 = "2026-01-31T14:05:00+00:00"


def oblique_affine() -> np.ndarray:
    a = np.eye(4)
    a[:3, :3] = Rotation.from_euler("xyz", [15, -10, 25], degrees=True).as_matrix() @ np.diag(
        [0.6, 0.5, 0.8]
    )
    a[:3, 3] = [10.0, -20.0, 5.0]
    return a


def write_t2(folder, *, enhanced: bool = False) -> Volume:
    rng = np.random.default_rng(1)
    data = rng.integers(0, 1000, (14, 12, 9)).astype(np.int16)
    vol = Volume(data, oblique_affine(), VolumeMeta(kind="phantom", role="t2"))
    write_series(vol, folder, enhanced=enhanced, patient=PHI)
    return nvc_viewer.load(folder)


def make_labels(t2: Volume) -> Volume:
    lab = np.zeros(t2.shape, np.uint8)
    lab[2:6, 3:7, 1:5] = 1
    lab[3:5, 4:6, 2:4] = 3  # nerve inside the brainstem block: labels overwrite
    lab[8:12, 1:4, 4:8] = 6
    lab[0, 11, 8] = 2  # a corner voxel
    return t2.with_data(lab, role="label")


def make_case(t2: Volume) -> CaseFindings:
    p1 = tuple(t2.ras_of([4.0, 5.0, 3.0]))
    p2 = tuple(t2.ras_of([9.5, 2.0, 6.0]))
    return CaseFindings(
        "case-001",
        source_from_volumes([t2]),
        landmarks=[Landmark("RDP", "left", "VII", p1)],
        findings=[
            Finding(
                "f1",
                "left",
                "VII",
                "AICA",
                "artery",
                "RDP",
                "indentation",
                p1,
                distance_from_brainstem_mm=0.8,
                vessel_diameter_mm=1.7,
                crossing_angle_deg=64.0,
                confidence=0.9,
                created=T0,
            ),
            Finding(
                "f2",
                "left",
                "VII",
                "VA",
                "artery",
                "cisternal",
                "contact",
                p2,
                confidence=0.6,
                origin="manual",
                author="dr.a",
                created=T0,
            ),
            reject(
                Finding(
                    "f3",
                    "right",
                    "V",
                    "vein",
                    "vein",
                    "cisternal",
                    "contact",
                    (0.0, 0.0, 0.0),
                    created=T0,
                )
            ),
        ],
        clinical=Clinical("hemifacial_spasm", "left", "present"),
    )


@pytest.fixture(scope="module", params=[False, True], ids=["classic", "enhanced"])
def t2(request, tmp_path_factory) -> Volume:
    return write_t2(tmp_path_factory.mktemp("t2") / "series", enhanced=request.param)


# -- SEG ----------------------------------------------------------------------------------------
def test_seg_read_back_with_highdicom_matches_labels_in_space(t2, tmp_path):
    labels = make_labels(t2)
    path = write_dicom_seg(labels, t2, tmp_path / "segmentation.dcm")
    seg = hd.seg.segread(path)
    # One segment per label present, numbered 1..n, with SNOMED CT anatomy.
    present = [1, 2, 3, 6]
    assert seg.segment_numbers == [1, 2, 3, 4]
    by_code = {LABELS[v].type[0]: v for v in present}
    seg_to_label = np.zeros(5, dtype=np.uint8)
    for n in seg.segment_numbers:
        desc = seg.get_segment_description(n)
        value = by_code[desc.segmented_property_type.value]
        assert desc.segmented_property_type.scheme_designator == "SCT"
        assert desc.segment_label == LABELS[value].name
        # the colour of the label table, as the viewer shows it
        lab = hd.color.CIELabColor.from_dicom_value(desc.RecommendedDisplayCIELabValue)
        assert lab.to_rgb() == LABELS[value].rgb
        seg_to_label[n] = value
    assert sorted(seg_to_label[1:]) == present
    assert {
        d.segmented_property_type.value for d in map(seg.get_segment_description, [1, 2, 3, 4])
    } == {"119238007", "65216001", "56052001", "51114001"}
    # Every voxel of highdicom's volume (index -> LPS) holds the label at that place.
    vol = seg.get_volume(combine_segments=True, relabel=False)
    idx = np.indices(vol.array.shape).reshape(3, -1).T
    ras = (idx @ vol.affine[:3, :3].T + vol.affine[:3, 3]) * [-1, -1, 1]
    ijk_float = t2.ijk_of(ras)
    ijk = np.rint(ijk_float).astype(int)
    assert np.abs(ijk_float - ijk).max() < 1e-3  # the SEG grid is the T2 grid
    assert np.all((ijk >= 0) & (ijk < t2.shape))
    got = seg_to_label[vol.array.reshape(-1)]
    np.testing.assert_array_equal(got, labels.data[tuple(ijk.T)])
    assert np.count_nonzero(got) == np.count_nonzero(labels.data)  # nothing lost


def test_seg_references_source_series_and_patient(t2, tmp_path):
    path = write_dicom_seg(make_labels(t2), t2, tmp_path / "segmentation.dcm")
    seg = hd.seg.segread(path)
    src = [pydicom.dcmread(p, stop_before_pixels=True) for p in dict.fromkeys(t2.meta.source_paths)]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == t2.meta.series_uid
    refs = {
        r.ReferencedSOPInstanceUID
        for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert refs == {ds.SOPInstanceUID for ds in src}
    assert (seg.PatientName, seg.PatientID, seg.PatientBirthDate) == (
        PHI["name"],
        PHI["id"],
        PHI["birth_date"],
    )
    assert seg.StudyInstanceUID == src[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == src[0].FrameOfReferenceUID
    if len(src) > 1:  # classic series: per-instance pixels line up with the source slices
        uids = [ds.SOPInstanceUID for ds in src]
        pix = seg.get_pixels_by_source_instance(uids, combine_segments=True, relabel=True)
        assert pix.shape == (len(src), src[0].Rows, src[0].Columns)


def test_seg_refuses_unknown_or_empty_labels_and_nifti(t2, tmp_path):
    with pytest.raises(ExportError, match=r"label value\(s\) \[9\]"):
        write_dicom_seg(t2.with_data(np.full(t2.shape, 9, np.uint8)), t2, tmp_path / "a.dcm")
    with pytest.raises(ExportError, match="empty"):
        write_dicom_seg(t2.with_data(np.zeros(t2.shape, np.uint8)), t2, tmp_path / "b.dcm")
    nifti_t2 = Volume(t2.data, t2.affine, VolumeMeta(kind="nifti", role="t2"))
    with pytest.raises(ExportError, match="read from DICOM"):
        write_dicom_seg(make_labels(t2), nifti_t2, tmp_path / "c.dcm")
    assert not list(tmp_path.iterdir())


# -- SR -----------------------------------------------------------------------------------------
def test_sr_read_back_with_highdicom(t2, tmp_path):
    case = make_case(t2)
    path = write_dicom_sr(case, t2, tmp_path / "report_sr.dcm")
    sr = hd.sr.srread(path)
    assert sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.34"  # Comprehensive 3D SR
    assert (sr.PatientName, sr.PatientID) == (PHI["name"], PHI["id"])
    frame_uid = pydicom.dcmread(
        t2.meta.source_paths[0], stop_before_pixels=True
    ).FrameOfReferenceUID
    report = sr.content
    assert isinstance(report, hd.sr.MeasurementReport)
    groups = report.get_planar_roi_measurement_groups()
    assert len(groups) == 2  # the rejected proposal is left out
    for group, f in zip(groups, case.findings[:2]):
        assert group.tracking_identifier == f"{f.label} [{f.id}]"
        roi = group.roi
        assert roi.graphic_type == hd.sr.GraphicTypeValues3D.POINT
        assert roi.frame_of_reference_uid == frame_uid
        x, y, z = f.position_ras
        np.testing.assert_allclose(roi.value, [[-x, -y, z]], atol=1e-4)  # LPS, DICOM's own
        site = group.finding_sites[0]
        assert site.value.value == CODES["nerve"][f.nerve][0] == "56052001"
        assert site.laterality.meaning == "Left"
        assert site.topographical_modifier.value == CODES["segment"][f.segment][0]
        evaluations = {q.name.meaning: q.value for q in group.get_qualitative_evaluations()}
        assert evaluations["Offending vessel"].value == CODES["vessel"][f.vessel][0]
        assert evaluations["Neurovascular conflict grade"].meaning == CODES["grade"][f.grade][2]
        assert evaluations["Finding origin"].value == CODES["origin"][f.origin][0]
    values = {m.name.meaning: (m.value, m.unit.value) for m in groups[0].get_measurements()}
    assert values == {
        "Distance from root detachment point": (0.8, "mm"),
        "Diameter": (1.7, "mm"),
        "Angle": (64.0, "deg"),
        "Confidence of finding": (0.9, "1"),
    }
    assert {m.name.meaning for m in groups[1].get_measurements()} == {"Confidence of finding"}
    assert CODES["vessel"]["VA"] == ("85234005", "SCT", "Vertebral artery")
    # Evidence: the whole T2 series.
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert evidence.SeriesInstanceUID == t2.meta.series_uid
    src_uids = {
        pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in t2.meta.source_paths
    }
    assert {r.ReferencedSOPInstanceUID for r in evidence.ReferencedSOPSequence} == src_uids


def test_sr_can_include_rejected_and_handles_no_findings(t2, tmp_path):
    case = make_case(t2)
    sr = hd.sr.srread(write_dicom_sr(case, t2, tmp_path / "a.dcm", include_rejected=True))
    assert len(sr.content.get_planar_roi_measurement_groups()) == 3
    empty = CaseFindings("case-002", source_from_volumes([t2]))
    sr = hd.sr.srread(write_dicom_sr(empty, t2, tmp_path / "b.dcm"))
    assert sr.content.get_planar_roi_measurement_groups() == []
    groups = sr.content.get_image_measurement_groups()
    assert (
        len(groups) == 1 and groups[0].finding_type.meaning == "No neurovascular conflict recorded"
    )


# -- export_case and PHI ------------------------------------------------------------------------
def phi_strings(t2: Volume) -> list[bytes]:
    ds = pydicom.dcmread(t2.meta.source_paths[0], stop_before_pixels=True)
    raw = [
        PHI["name"],
        "Doe",
        "Jane",
        PHI["id"],
        PHI["birth_date"],
        PHI["accession"],
        ds.SeriesInstanceUID,
        ds.StudyInstanceUID,
        ds.SOPInstanceUID,
        ds.FrameOfReferenceUID,
    ]
    # PDF text strings may be UTF-16: look for both encodings.
    return [s.encode(enc) for s in raw for enc in ("utf-8", "utf-16-be")]


def test_export_case_dicom_writes_everything_without_phi_leaks(t2, tmp_path):
    case = make_case(t2)
    out = tmp_path / case.case_id
    written = export_case(case, out, t2=t2, labels=make_labels(t2))
    expected = [n for names in FILE_NAMES.values() for n in names]
    assert [p.name for p in written] == expected
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)  # no temp files left
    secrets = phi_strings(t2)
    for name in (
        "findings.json",
        "findings.csv",
        "findings.mrk.json",
        "report.png",
        "report.pdf",
        "segmentation_labels.txt",
    ):
        content = (out / name).read_bytes()
        for secret in secrets:
            assert secret not in content, (name, secret)
    assert uid_sha256(t2.meta.series_uid).encode() in (out / "findings.json").read_bytes()
    # DICOM exports carry the patient module, as the standard requires.
    for name in ("segmentation.dcm", "report_sr.dcm"):
        assert pydicom.dcmread(out / name).PatientID == PHI["id"]


def test_include_phi_prints_patient_on_report_only(t2, tmp_path):
    from test_export_report import pdf_pages

    case = make_case(t2)
    a = export_case(case, tmp_path / "a", t2=t2, formats=("json", "report"))
    b = export_case(case, tmp_path / "b", t2=t2, formats=("json", "report"), include_phi=True)
    assert (
        [p.name for p in a] == [p.name for p in b] == ["findings.json", "report.png", "report.pdf"]
    )
    assert a[0].read_bytes() == b[0].read_bytes()  # the JSON schema has no place for PHI
    without, with_phi = (" ".join(pdf_pages(paths[2])) for paths in (a, b))
    for value in PHI.values():
        assert value not in without
    assert f"Patient ID {PHI['id']}" in with_phi and PHI["accession"] in with_phi
    assert a[1].read_bytes() != b[1].read_bytes()  # the page-1 preview shows them too


def test_export_case_nifti_skips_dicom_formats(tmp_path):
    vol = Volume(
        np.random.default_rng(0).random((16, 16, 8)),
        np.diag([0.5, 0.5, 0.7, 1.0]),
        VolumeMeta(kind="nifti", role="t2"),
    )
    labels = vol.with_data((vol.data > 0.9).astype(np.uint8) * 3, role="label")
    case = CaseFindings("n1", source_from_volumes([vol]))
    written = export_case(case, tmp_path / "n1", t2=vol, labels=labels)
    assert [p.name for p in written] == [
        "findings.json",
        "findings.csv",
        "findings.mrk.json",
        "segmentation.nii.gz",
        "segmentation_labels.txt",
        "report.png",
        "report.pdf",
    ]
    only = export_case(case, tmp_path / "n2", t2=vol, labels=None, formats=["nifti", "seg", "sr"])
    assert only == []


def test_export_case_rejects_unknown_format(tmp_path):
    vol = Volume(np.zeros((2, 2, 2)), np.eye(4), VolumeMeta(kind="nifti"))
    with pytest.raises(ExportError, match=r"unknown export format\(s\) \['docx'\]"):
        export_case(
            CaseFindings("x", {"kind": "nifti", "series": []}),
            tmp_path,
            t2=vol,
            formats=["json", "docx"],
        )
    assert not list(tmp_path.iterdir())


def test_segmentation_nifti_matches_seg_geometry(t2, tmp_path):
    """NIfTI and DICOM SEG of one label map put each label at the same patient position."""
    import nibabel as nib

    labels = make_labels(t2)
    img = nib.load(write_segmentation_nifti(labels, tmp_path / "s.nii.gz"))
    np.testing.assert_allclose(img.affine, t2.affine, atol=1e-4)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels.data)


def test_labels_off_the_source_grid_are_sampled_at_pixel_centres(t2):
    """A label map on another grid (coarser, shifted) is read at each source pixel's position."""
    from nvc_viewer.export.dicom_seg import (
        frame_geometries,
        labels_on_source_frames,
        read_source_datasets,
    )

    coarse_affine = t2.affine @ np.diag([2.0, 2.0, 2.0, 1.0])
    coarse_affine[:3, 3] += [0.3, -0.2, 0.1]
    data = np.random.default_rng(3).integers(0, 8, (7, 6, 5)).astype(np.uint8)
    coarse = Volume(data, coarse_affine, VolumeMeta(role="label"))
    frames = frame_geometries(read_source_datasets(t2))
    got = labels_on_source_frames(coarse, frames)
    # Brute force: every pixel's LPS position -> RAS -> nearest coarse voxel.
    for n, fr in enumerate(frames):
        r, c = np.indices((fr.rows, fr.columns)).reshape(2, -1)
        lps = fr.origin_lps + c[:, None] * fr.col_step_lps + r[:, None] * fr.row_step_lps
        ijk = np.rint(coarse.ijk_of(lps * [-1, -1, 1])).astype(int)
        inside = np.all((ijk >= 0) & (ijk < coarse.shape), axis=1)
        want = np.zeros(len(r), np.uint8)
        want[inside] = data[tuple(ijk[inside].T)]
        np.testing.assert_array_equal(got[n].reshape(-1), want)
    assert 0 < np.count_nonzero(got) < got.size  # some pixels fall outside the coarse grid
