"""The printable report: a vector PDF whose text a reader (and ``pdftotext``) can extract, the
key images in the radiological convention, review state, identification and privacy.

``pdftotext`` is Debian's poppler-utils (``scripts/test.sh`` installs it); without it the text
tests skip, and under CI they fail.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nvc_viewer.errors import ExportError
from nvc_viewer.export.report import DPI, PAGE_SIZE_PX, render_case_report, write_case_report
from nvc_viewer.findings import CaseFindings, Finding, NerveIdentification, confirm, reject
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume, VolumeMeta

T0 = "2026-01-31T14:05:00+00:00"
REVIEWED = "2026-02-01T09:30:00+00:00"
CENTRE = np.array([2.0, -3.0, 1.0])  # RAS mm of the finding
PATIENT_NAME = "Qzxwv^Jolyon"


def world_volume(axes: str, role: str = "t2") -> Volume:
    """A dark 0.5 mm volume with bright cubes at the finding, 5 mm left and 5 mm anterior of it.

    ``axes`` orders and signs the voxel axes (e.g. ``"RAS"``, ``"LPS"``, ``"ASL"``); the content
    in patient space is the same for every order.
    """
    unit = {
        "R": [1, 0, 0],
        "L": [-1, 0, 0],
        "A": [0, 1, 0],
        "P": [0, -1, 0],
        "S": [0, 0, 1],
        "I": [0, 0, -1],
    }
    affine = np.eye(4)
    affine[:3, :3] = np.array([unit[a] for a in axes]).T * 0.5
    shape = (60, 60, 30)
    # Centre the grid on the finding.
    affine[:3, 3] = CENTRE - affine[:3, :3] @ ((np.array(shape) - 1) / 2)
    meta = VolumeMeta(kind="nifti", role=role, description=f"{role}_world_0.5iso")  # type: ignore[arg-type]
    vol = Volume(np.zeros(shape, np.float32), affine, meta)
    ras = vol.ras_of(np.indices(shape).reshape(3, -1).T).reshape(*shape, 3)
    data = np.zeros(shape, np.float32)
    for offset, value in (([0, 0, 0], 1000.0), ([-5, 0, 0], 600.0), ([0, 5, 0], 300.0)):
        inside = np.all(np.abs(ras - (CENTRE + offset)) <= 1.0, axis=-1)
        data[inside] = value
    return vol.with_data(data)


def finding(fid: str, vessel: str = "AICA", *, side: str = "left", nerve: str = "VII",
            origin: str = "auto", author: str | None = None) -> Finding:  # fmt: skip
    return Finding(fid, side, nerve, vessel, "artery", "RDP", "contact", tuple(CENTRE),  # type: ignore[arg-type]
                   distance_from_brainstem_mm=0.8, vessel_diameter_mm=1.4, confidence=0.7,
                   origin=origin, author=author, created=T0)  # type: ignore[arg-type]  # fmt: skip


def case(findings: list[Finding] | None = None, **changes) -> CaseFindings:  # type: ignore[no-untyped-def]
    base = CaseFindings(
        "rep-1",
        {"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]},
        findings=[finding("f1")] if findings is None else findings,
    )
    return base.replace(**changes) if changes else base


def reviewed(f: Finding, action=confirm, author: str = "dr.lee") -> Finding:  # type: ignore[no-untyped-def]
    return dataclasses.replace(action(f, author=author), modified=REVIEWED)


def review_case() -> CaseFindings:
    """An unreviewed AICA proposal first in the file, a confirmed PICA contact, a surgeon's VA
    finding and a rejected SCA proposal on the right trigeminal nerve."""
    return case(
        [
            finding("a1", "AICA"),
            reviewed(finding("c1", "PICA")),
            finding("m1", "VA", origin="manual", author="dr.lee"),
            reviewed(finding("r1", "SCA", side="right", nerve="V"), reject),
        ]
    )


# -- pdftotext ---------------------------------------------------------------------------------
def _pdftotext() -> str:
    found = shutil.which("pdftotext")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (Debian poppler-utils) is missing: scripts/test.sh installs it")
        pytest.skip("pdftotext (Debian poppler-utils) not installed")
    return found


def pdf_pages(path: Path) -> list[str]:
    """The text of every page, whitespace collapsed."""
    out = subprocess.run([_pdftotext(), "-layout", str(path), "-"], capture_output=True, check=True)
    pages = out.stdout.decode("utf-8").split("\f")
    return [" ".join(p.split()) for p in pages if p.strip()]


def report_text(tmp_path: Path, c: CaseFindings, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    pdf = tmp_path / "report.pdf"
    write_case_report(c, world_volume("RAS"), None, pdf, **kwargs)
    return pdf_pages(pdf)


def key_images(text: str) -> str:
    """The key-image section: from its heading to the table's."""
    return text[text.index("Key images") : text.index("All findings")]


# -- text --------------------------------------------------------------------------------------
def test_pdf_text_names_the_case_series_and_voxel_size(tmp_path):
    tof = world_volume("LPS", role="tof")
    text = " ".join(report_text(tmp_path, case(), tof=tof))
    assert "Case rep-1" in text
    assert "t2_world_0.5iso (NIfTI); voxel 0.50 x 0.50 x 0.50 mm" in text
    assert "tof_world_0.5iso (NIfTI); voxel 0.50 x 0.50 x 0.50 mm" in text


def test_draft_on_every_page_while_a_proposal_is_unreviewed(tmp_path):
    pages = report_text(tmp_path, review_case())
    assert len(pages) >= 2  # three key images and the tables do not fit on one page
    for page in pages:
        assert "DRAFT \u2014 contains unreviewed proposals (1 of 4 not reviewed)" in page


def test_no_draft_once_every_proposal_is_reviewed(tmp_path):
    c = review_case()
    c = c.with_finding(reviewed(c.finding("a1")))
    pages = report_text(tmp_path, c)
    text = " ".join(pages)
    assert "1. Left VII \u2014 AICA" in key_images(text)  # now confirmed: file order
    assert "confirmed (dr.lee)" in text
    assert not any("DRAFT" in page for page in pages)
    assert "UNREVIEWED" not in text


def test_confirmed_and_surgeon_findings_come_before_unreviewed_ones(tmp_path):
    text = " ".join(report_text(tmp_path, review_case()))
    keys = key_images(text)
    pica = keys.index("1. Left VII \u2014 PICA")
    va = keys.index("2. Left VII \u2014 VA")
    aica = keys.index("3. Left VII \u2014 AICA")
    assert pica < va < aica
    assert "confirmed (dr.lee)" in keys and "surgeon (manual) (dr.lee)" in keys
    assert keys.count("UNREVIEWED") >= 2  # the caption and the tag on the image of the AICA
    assert "UNREVIEWED proposal, confidence 0.70" in keys[aica:]
    table = text[text.index("All findings") :]
    assert table.index("PICA") < table.index("VA (artery)") < table.index("AICA")


def test_a_rejected_finding_is_not_among_the_key_images(tmp_path):
    text = " ".join(report_text(tmp_path, review_case()))
    assert "SCA" not in key_images(text)
    rejected = text[text.index("Rejected proposals") :]
    assert "rejected (dr.lee)" in rejected and "SCA (artery)" in rejected


def test_identification_summary_and_warnings(tmp_path):
    ident = (
        NerveIdentification("right", "VII", True, 0.93),
        NerveIdentification("left", "VII", True, 0.45, "two roots"),
        NerveIdentification("left", "VIII", False, 0.0, "merged with VII"),
    )
    warnings = tuple(w for w in (i.warning for i in ident) if w)
    text = " ".join(report_text(tmp_path, case(identification=ident, warnings=warnings)))
    summary = text[text.index("Identification") : text.index("Key images")]
    assert "found (confidence 0.93)" in summary
    assert "name uncertain (confidence 0.45)" in summary
    assert "NOT IDENTIFIED: merged with VII" in summary
    assert "not assessed" in summary  # V was not reported on
    assert "left VIII not identified: merged with VII" in summary  # the case warning
    # a version-1 file: unknown, not "nothing found"
    old = " ".join(report_text(tmp_path, case()))
    assert "Not recorded" in old[old.index("Identification") : old.index("Key images")]


def test_reviewer_and_review_time(tmp_path):
    text = " ".join(report_text(tmp_path, review_case()))
    assert "Reviewer dr.lee" in text
    assert "Review time 2026-02-01 09:30 UTC" in text
    text = " ".join(report_text(tmp_path, review_case(), reviewer="Dr. A. Surgeon"))
    assert "Reviewer Dr. A. Surgeon" in text
    text = " ".join(report_text(tmp_path, case()))
    assert "Reviewer not reviewed yet" in text


def test_no_patient_name_unless_the_caller_includes_phi(tmp_path):
    patient = {"Patient": PATIENT_NAME, "Study date": "20250314"}
    without = " ".join(report_text(tmp_path, case()))
    assert "Case rep-1" in without
    assert "Qzxwv" not in without and "20250314" not in without
    # The PNG preview is drawn from the same layout: not there either.
    with_phi = " ".join(report_text(tmp_path, case(), patient=patient))
    assert f"Patient {PATIENT_NAME}" in with_phi and "Study date 20250314" in with_phi


def test_export_case_writes_a_text_report(tmp_path):
    from nvc_viewer.export import export_case

    t2 = world_volume("RAS")
    labels = t2.with_data((t2.data > 500).astype(np.uint8) * 6)
    written = export_case(case(), tmp_path, t2=t2, labels=labels, formats=("report",))
    assert [p.name for p in written] == ["report.png", "report.pdf"]
    text = " ".join(pdf_pages(tmp_path / "report.pdf"))
    assert "Case rep-1" in text and "DRAFT" in text


# -- images ------------------------------------------------------------------------------------
@pytest.mark.parametrize("axes", ["RAS", "LPS", "ASL"])
def test_key_image_is_radiological_and_centred_on_the_finding(axes):
    from nvc_viewer.export.report import _ZOOM_FOV_MM, _Imaging, _key_image, _View

    view = _View("1", tuple(CENTRE), None, "t", "d", fov=_ZOOM_FOV_MM)
    image, info = _key_image(_Imaging(world_volume(axes), None, None), view)
    panel = np.asarray(image.convert("L"), dtype=float)
    px_per_mm = panel.shape[1] / _ZOOM_FOV_MM[0]
    cy, cx = panel.shape[0] / 2, panel.shape[1] / 2
    off = 5 * px_per_mm
    assert info["mark"] == pytest.approx((0.5, 0.5), abs=0.02)

    def level(dy: float, dx: float) -> float:
        r, c = int(cy + dy), int(cx + dx)
        return float(np.median(panel[r - 3 : r + 4, c - 3 : c + 4]))

    assert level(0, 0) > 200  # the finding's cube at the marked centre
    assert level(0, off) > 100  # the patient's left is on the screen's right
    assert level(0, -off) < 30
    assert level(-off, 0) > 40  # anterior is up
    assert level(off, 0) < 30


def test_key_image_fuses_the_tof_in_red_and_outlines_the_labels():
    from nvc_viewer.export.report import _Imaging, _key_image, _View

    t2 = world_volume("RAS")
    tof = world_volume("LPS", role="tof")  # the same content on another grid
    labels = t2.with_data(((t2.data > 900) * 3).astype(np.uint8))  # the centre cube as VII
    view = _View("1", tuple(CENTRE), None, "t", "d", fov=(24.0, 15.0))
    image, _ = _key_image(_Imaging(t2, tof, labels), view)
    rgb = np.asarray(image).astype(int)
    cy, cx = rgb.shape[0] // 2, rgb.shape[1] // 2
    r, g, b = rgb[cy, cx]
    assert r > 200 and g < 120 and b < 120  # bright on the TOF: red over the grey T2
    colour = np.array(LABELS[3].rgb)
    outlined = np.all(rgb == colour, axis=-1)
    assert outlined.any() and not outlined[cy, cx]  # the outline, not the filled label
    rows, cols = np.nonzero(outlined)
    half = 1.0 * rgb.shape[1] / 24.0  # the 2 mm cube's half width in pixels
    assert abs(cols.min() - cx) == pytest.approx(half, abs=5)


def test_png_preview_and_vector_pdf_written(tmp_path):
    written = write_case_report(
        case(), world_volume("RAS"), tmp_path / "report.png", tmp_path / "report.pdf"
    )
    assert [p.name for p in written] == ["report.png", "report.pdf"]
    with Image.open(written[0]) as img:
        assert img.size == PAGE_SIZE_PX
        assert round(img.info["dpi"][0]) == DPI
    pdf = written[1].read_bytes()
    assert pdf.startswith(b"%PDF")
    box = [float(v) for v in re.search(rb"/MediaBox \[\s*([\d.\s]+)\]", pdf).group(1).split()]
    np.testing.assert_allclose(box, [0, 0, 595.28, 841.89], atol=0.5)  # A4 in points
    # The document title is the case, not the temporary file's name.
    assert b"/Title (nvc-viewer report rep-1)" in pdf
    assert b".tmp" not in pdf
    assert b"/Font" in pdf and b"Helvetica" in pdf  # text is text, in the PDF core font
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf", "report.png"]


def test_many_findings_and_no_findings_render(tmp_path):
    vol = world_volume("RAS")
    many = case(
        [
            dataclasses.replace(finding(f"f{n}"), position_ras=tuple(CENTRE + [0, 0, n * 0.5 - 4]))
            for n in range(40)
        ]
    )
    write_case_report(many, vol, None, tmp_path / "many.pdf")
    pages = pdf_pages(tmp_path / "many.pdf")
    assert len(pages) > 2 and "+34 more finding(s)" in " ".join(pages)
    outside = case([dataclasses.replace(finding("far"), position_ras=(500.0, 0.0, 0.0))])
    assert render_case_report(outside, vol).size == PAGE_SIZE_PX
    write_case_report(outside, vol, None, tmp_path / "outside.pdf")
    assert "outside the T2 image" in " ".join(pdf_pages(tmp_path / "outside.pdf"))
    write_case_report(case([]), vol, None, tmp_path / "none.pdf")
    text = " ".join(pdf_pages(tmp_path / "none.pdf"))
    assert "Volume centre (no finding, no landmark)" in text and "DRAFT" not in text


def test_bad_arguments():
    with pytest.raises(ExportError, match="CaseFindings"):
        render_case_report("rep-1", world_volume("RAS"))  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="Volume"):
        render_case_report(case(), np.zeros((3, 3, 3)))  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="tof"):
        render_case_report(case(), world_volume("RAS"), tof=np.zeros(3))  # type: ignore[arg-type]


# -- a phantom ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_phantom_with_two_findings(tmp_path):
    """The sandwich phantom (two vessels on the left VII): both key images on page 1."""
    from phantom_cases import small_phantom

    from nvc_viewer.findings import validate_findings_dict

    ph = small_phantom("sandwich", "left")
    truth = CaseFindings.from_dict(validate_findings_dict(ph.truth)).replace(case_id="phantom-2")
    first = truth.findings[0]
    c = truth.replace(findings=[dataclasses.replace(first, origin="auto", author=None),
                                *truth.findings[1:]])  # fmt: skip
    pdf = tmp_path / "report.pdf"
    write_case_report(c, ph.t2, tmp_path / "report.png", pdf, tof=ph.tof, labels=ph.labels)
    page1 = pdf_pages(pdf)[0]
    assert "Case phantom-2" in page1 and "DRAFT" in page1
    keys = key_images(" ".join(pdf_pages(pdf)))
    assert keys.index("1. Left VII") < keys.index("2. Left VII")
    assert "surgeon (manual)" in keys[: keys.index("2. Left VII")]
