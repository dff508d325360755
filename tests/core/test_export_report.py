"""The one-page report: A4 page, key views in the radiological convention, PDF output."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from nvc_viewer.errors import ExportError
from nvc_viewer.export.report import DPI, PAGE_SIZE_PX, render_case_report, write_case_report
from nvc_viewer.findings import CaseFindings, Finding
from nvc_viewer.volume import Volume, VolumeMeta

T0 = "2026-01-31T14:05:00+00:00"
CENTRE = np.array([2.0, -3.0, 1.0])  # RAS mm of the finding


def world_volume(axes: str) -> Volume:
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
    vol = Volume(np.zeros(shape, np.float32), affine, VolumeMeta(kind="nifti", role="t2"))
    ras = vol.ras_of(np.indices(shape).reshape(3, -1).T).reshape(*shape, 3)
    data = np.zeros(shape, np.float32)
    for offset, value in (([0, 0, 0], 1000.0), ([-5, 0, 0], 600.0), ([0, 5, 0], 300.0)):
        inside = np.all(np.abs(ras - (CENTRE + offset)) <= 1.0, axis=-1)
        data[inside] = value
    return vol.with_data(data)


def case() -> CaseFindings:
    return CaseFindings(
        "rep-1",
        {"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]},
        findings=[
            Finding(
                "f1",
                "left",
                "VII",
                "AICA",
                "artery",
                "RDP",
                "contact",
                tuple(CENTRE),
                confidence=0.7,
                created=T0,
            )
        ],
    )


def first_panel(page: np.ndarray) -> np.ndarray:
    grey = page.mean(axis=-1)
    dark = (grey[:, 60:420] < 64).sum(axis=1)
    top = int(np.argmax(dark > 300))
    return grey[top : top + 360, 60:420]


@pytest.mark.parametrize("axes", ["RAS", "LPS", "ASL"])
def test_key_view_is_radiological_and_centred_on_the_finding(axes):
    page = np.asarray(render_case_report(case(), world_volume(axes), generated="fixed"))
    assert page.shape == (PAGE_SIZE_PX[1], PAGE_SIZE_PX[0], 3)
    panel = first_panel(page)
    px_per_mm = 360 / 40.0
    c = 180
    off = int(round(5 * px_per_mm))

    def level(row: int, col: int) -> float:
        return float(np.median(panel[row - 3 : row + 4, col - 3 : col + 4]))

    assert level(c, c) > 200  # the finding's cube at the marked centre
    assert level(c, c + off) > 100  # the patient's left is on the screen's right
    assert level(c, c - off) < 30
    assert level(c - off, c) > 40  # anterior is up
    assert level(c + off, c) < 30


def test_png_and_pdf_written(tmp_path):
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
    np.testing.assert_allclose(box, [0, 0, 595.2, 841.92], atol=0.5)  # A4 in points
    # The document title is the case, not the temporary file's name (PDF text is UTF-16 here).
    assert "rep-1".encode("utf-16-be") in pdf
    assert ".tmp".encode("utf-16-be") not in pdf and b".tmp" not in pdf
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.pdf", "report.png"]


def test_many_findings_and_no_findings_render():
    vol = world_volume("RAS")
    many = case().replace(
        findings=[
            Finding(
                f"f{n}",
                "left",
                "VII",
                "AICA",
                "artery",
                "RDP",
                "contact",
                tuple(CENTRE + [0, 0, n * 0.5 - 4]),
                created=T0,
            )
            for n in range(40)
        ]
    )
    assert render_case_report(many, vol).size == PAGE_SIZE_PX
    outside = case().replace(
        findings=[Finding("far", "left", "VII", "AICA", "artery", "RDP", "contact", (500.0, 0, 0))]
    )
    assert render_case_report(outside, vol).size == PAGE_SIZE_PX
    none = case().replace(findings=[])
    page = np.asarray(render_case_report(none, vol, generated="fixed"))
    assert first_panel(page).max() > 200  # a view through the volume centre is still shown


def test_bad_arguments():
    with pytest.raises(ExportError, match="CaseFindings"):
        render_case_report("rep-1", world_volume("RAS"))  # type: ignore[arg-type]
    with pytest.raises(ExportError, match="Volume"):
        render_case_report(case(), np.zeros((3, 3, 3)))  # type: ignore[arg-type]
