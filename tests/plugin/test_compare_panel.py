"""The "Compare sides" panel: left and right of each nerve side by side after an analysis and
after the case is reopened, and the mirror view of both facial root exit zones.

The case is the ``asymptomatic_contact`` phantom (a vessel on the facial root of the side that
is not symptomatic) written as NIfTI; the analysis returns the phantom's truth, so the test
checks the wiring -- session events, table, mirror camera -- not the segmentation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from nvc_viewer_napari._case_view import case_view_for
from nvc_viewer_napari._dock import dock_panels, raise_dock
from PIL import Image

from nvc_viewer.findings import (
    CaseFindings,
    Finding,
    Landmark,
    NerveIdentification,
    source_from_volumes,
    validate_findings_dict,
)
from nvc_viewer.phantom import Phantom, make_phantom
from nvc_viewer.volume import Volume

from ._phantoms import screenshot_dir

WAIT_MS = 30_000


@pytest.fixture(scope="module")
def phantom() -> Phantom:
    return make_phantom("asymptomatic_contact", side="left", seed=1)  # 0.5 mm voxels


@dataclass
class TruthResult:
    """Shaped like the analysis result as far as the viewer reads it."""

    labels: Volume
    centrelines: dict[str, np.ndarray]
    landmarks: tuple[Landmark, ...]
    findings: tuple[Finding, ...]
    identification: tuple[NerveIdentification, ...] = field(default_factory=tuple)

    def to_case_findings(self, case_id: str, *, t2: Volume, tof: Volume | None) -> CaseFindings:
        return CaseFindings(
            case_id=case_id,
            source=source_from_volumes([v for v in (t2, tof) if v is not None]),
            landmarks=self.landmarks,
            findings=self.findings,
            identification=self.identification,
        )


def truth_analyse(ph: Phantom):  # type: ignore[no-untyped-def]
    truth = CaseFindings.from_dict(validate_findings_dict(ph.truth))
    idents = tuple(
        NerveIdentification(side, nerve, True, 0.9)  # type: ignore[arg-type]
        for side in ("left", "right")
        for nerve in ("VII", "VIII", "V")
    )

    def analyse(t2, tof=None, *, seeds=None, progress=None, cancel=None, labels=None):  # type: ignore[no-untyped-def]
        return TruthResult(
            labels=t2.with_data(np.asarray(ph.labels.data, np.uint8), role="label"),
            centrelines={k: v for k, v in ph.centrelines.items() if k[:2] in ("VI", "V_")},
            landmarks=tuple(
                Landmark.from_dict({**lm.to_dict(), "origin": "auto"}) for lm in truth.landmarks
            ),
            findings=tuple(
                Finding.from_dict(
                    {
                        **f.to_dict(),
                        "origin": "auto",
                        "id": f"auto-{n}",
                        "author": None,
                        "confidence": 0.8,
                    }
                )  # fmt: skip
                for n, f in enumerate(truth.findings)
            ),
            identification=idents,
        )

    return analyse


def _write_case(ph: Phantom, folder: Path) -> Path:
    folder.mkdir()
    for name, vol in (("t2_ciss", ph.t2), ("tof", ph.tof)):
        nib.Nifti1Image(np.asarray(vol.data), vol.affine).to_filename(folder / f"{name}.nii.gz")
    return folder


def test_the_panel_compares_both_sides_after_an_analysis_and_a_reopen(
    make_napari_viewer: Any, qtbot: Any, tmp_path: Path, phantom: Phantom
) -> None:
    folder = _write_case(phantom, tmp_path / "sides_case")
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1400, 860)
    panels = dock_panels(viewer, workspace=tmp_path / "ws")
    panels.analysis.analyse = truth_analyse(phantom)
    panel = panels.compare
    assert panels.case.scan(folder) and panels.case.open_case(), panels.case.status.text()
    qtbot.waitUntil(lambda: "run the analysis" in panel.status.text(), timeout=WAIT_MS)
    assert panel.table.rowCount() == 0

    with qtbot.waitSignal(panels.analysis.finished, timeout=WAIT_MS) as outcome:
        assert panels.analysis.start()
    assert outcome.args == ["done"], panels.analysis.status.text()
    # out of sight (a tab behind Findings, raised after the analysis): not measured yet
    qtbot.wait(50)
    assert not panel.in_sight
    assert panel.stale and panel.comparison is None and panel.table.rowCount() == 0
    raise_dock(panel)  # its tab brought to the front: measured before it is painted
    assert panel.table.rowCount() > 0 and not panel.stale
    headers = [panel.table.horizontalHeaderItem(c).text() for c in range(3)]
    assert headers == ["", "left", "right"]
    rows = {r[0]: r[1:] for r in panel.rows()}
    for nerve in ("VII", "VIII", "V"):
        left, right = rows[f"{nerve} identified"]
        assert left.startswith("yes") and right.startswith("yes")
        assert all(v.endswith(" mm") for v in rows[f"{nerve} calibre"])
    contact_side = phantom.params["contact_side"]
    (touching,) = [r for r in phantom.params["relations"] if r["side"] == contact_side]
    column = 1 if contact_side == "right" else 0
    vii = rows[f"VII {touching['segment']}"]
    assert vii[column] == f"{touching['vessel']} contact"
    assert "contact" not in vii[1 - column]
    r = [r[0] for r in panel.rows()].index(f"VII {touching['segment']}")
    assert panel.table.item(r, column + 1).foreground().color().red() > 200  # shown in red
    assert "centrelines" in panel.status.text()

    # the mirror view: one axial slice at the RDPs' mean height, both RDPs on screen
    view = case_view_for(viewer)
    case = view.session.findings
    assert case is not None
    rdps = [np.asarray(lm.position_ras) for lm in case.landmarks
            if lm.nerve == "VII" and lm.name == "RDP"]  # fmt: skip
    assert len(rdps) == 2
    raise_dock(panel)
    qtbot.wait(200)  # the canvas takes its size before the camera is fitted to it
    assert panel.mirror_view(), panel.status.text()
    world = np.array([view.ras_to_world(p) for p in rdps])
    displayed = list(viewer.dims.displayed)
    assert viewer.dims.ndisplay == 2 and viewer.dims.not_displayed == (0,)  # axial: S sliced
    step = float(viewer.layers[0].scale[0])  # napari shows the slice nearest the mean height
    assert viewer.dims.point[0] == pytest.approx(world[:, 0].mean(), abs=step / 2 + 1e-6)
    camera = viewer.scene.camera
    np.testing.assert_allclose(camera.center[-2:], world.mean(axis=0)[displayed], atol=1e-6)
    height, width = viewer.canvas.size
    for p in world:  # each RDP lies on the canvas, inside the margin
        offset = (p[displayed] - world.mean(axis=0)[displayed]) * camera.zoom
        assert abs(offset[0]) < height / 2 and abs(offset[1]) < width / 2
    qtbot.wait(100)
    shot = viewer.screenshot(canvas_only=False, flash=False)
    image = Image.fromarray(shot[..., :3]).convert("P", palette=Image.ADAPTIVE, colors=128)
    out = screenshot_dir(tmp_path) / "compare_sides.png"
    image.save(out, optimize=True)
    assert out.stat().st_size < 200_000

    # reopened: the saved label map and findings.json, before any centreline is back (the
    # analysis panel restores them in the background); the same contact
    view.session.close()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 0, timeout=WAIT_MS)
    assert panels.case.scan(folder) and panels.case.open_case(), panels.case.status.text()
    raise_dock(panel)  # (the Findings tab comes to the front when a case opens)
    if not view.session.centrelines:
        panel.refresh()
        assert "saved label map" in panel.status.text()
    assert panel.comparison is not None
    again = {r[0]: r[1:] for r in panel.rows()}
    assert again[f"VII {touching['segment']}"][column] == f"{touching['vessel']} contact"
    assert all(again[f"{n} identified"][0].startswith("yes") for n in ("VII", "VIII", "V"))
