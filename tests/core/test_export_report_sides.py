"""The report's "Both sides" table, read back from the PDF with ``pdftotext``.

On the ``asymptomatic_contact`` phantom the vessel touches the facial root of the side that is
not symptomatic: the table puts that contact beside the symptomatic side's free root.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from phantom_cases import small_phantom
from test_export_report import pdf_pages

from nvc_viewer.compare import compare_case, comparison_rows
from nvc_viewer.export.report import write_case_report
from nvc_viewer.findings import CaseFindings, validate_findings_dict
from nvc_viewer.phantom import Phantom


@pytest.fixture(scope="module")
def ph() -> Phantom:
    return small_phantom("asymptomatic_contact", "left")


def test_the_report_compares_both_sides(ph: Phantom, tmp_path: Path) -> None:
    case = CaseFindings.from_dict(validate_findings_dict(ph.truth)).replace(case_id="sides-1")
    pdf = tmp_path / "report.pdf"
    write_case_report(case, ph.t2, None, pdf, tof=ph.tof, labels=ph.labels)
    text = " ".join(pdf_pages(pdf))
    assert "Both sides" in text
    tail = text[text.index("Both sides") :]
    assert "left (symptomatic) right" in tail
    rows = comparison_rows(compare_case(ph.labels, case))
    by_name = {r[0]: r for r in rows}
    contact_side = ph.params["contact_side"]
    (touching,) = [r for r in ph.params["relations"] if r["side"] == contact_side]
    row = by_name[f"VII {touching['segment']}"]
    assert row[2 if contact_side == "right" else 1] == f"{touching['vessel']} contact"
    # every short row reads left to right on one line, in the table's order
    shown = [" ".join(r) for r in rows[1:] if max(len(c) for c in r) < 30]
    assert len(shown) >= 20
    at = 0
    for line in shown:
        at = tail.index(line, at)


def test_no_label_map_no_comparison(ph: Phantom, tmp_path: Path) -> None:
    case = CaseFindings.from_dict(validate_findings_dict(ph.truth)).replace(case_id="sides-2")
    pdf = tmp_path / "report.pdf"
    write_case_report(case, ph.t2, None, pdf, tof=ph.tof)
    assert "Both sides" not in " ".join(pdf_pages(pdf))
