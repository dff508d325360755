"""The findings' and landmarks' tags: numbered, off their contact, never on each other.

The sandwich and two-offender phantoms put two findings of one nerve a millimetre or two apart,
next to the nerve's RDP and TZ (and the V's RExP and RDP on one point): where the names used to
pile up. The boxes are measured from the layers (data -> world -> screen pixels through the
camera), not taken from the placement's own bookkeeping.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nvc_viewer_napari._case_view import case_view_for
from nvc_viewer_napari._markers import place_tags, tag_size_px

from nvc_viewer.phantom import make_phantom

from ._phantoms import screenshot_dir, truth_as_result


@pytest.fixture(scope="module", params=["sandwich", "two_offenders"])
def phantom(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return make_phantom(request.param, supersample=2, snr=None)


def _open(viewer, phantom, workspace: Path):  # type: ignore[no-untyped-def]
    view = case_view_for(viewer, workspace=workspace)
    view.open_case(phantom.t2, phantom.tof, case_id=f"phantom-{phantom.scenario}")
    result = truth_as_result(phantom, view.session.findings.source, centrelines=False)
    view.session.apply_analysis(result)
    return view


def _to_screen(viewer, world: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """World mm -> canvas pixels (x right, y down) of the 2-D view."""
    camera = getattr(viewer, "scene", viewer).camera  # napari >= 0.9
    rows, cols = list(viewer.dims.displayed)
    vertical, horizontal = camera.orientation2d
    centre = np.asarray(camera.center)[-2:]
    dy = (world[..., rows] - centre[0]) * camera.zoom * (1 if vertical == "down" else -1)
    dx = (world[..., cols] - centre[1]) * camera.zoom * (1 if horizontal == "right" else -1)
    return np.stack([dx, dy], axis=-1)


def _world(layer, data: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    return np.asarray(data) * np.asarray(layer.scale) + np.asarray(layer.translate)


def _tag_boxes(viewer, layer) -> list[tuple[str, np.ndarray]]:  # type: ignore[no-untyped-def]
    """The rectangles shown in the tags layer on this slice: (text, (x0, y0, x1, y1) pixels)."""
    boxes = []
    texts = list(layer.features["text"])
    point = np.asarray(viewer.dims.point)
    (hidden,) = [a for a in range(3) if a not in viewer.dims.displayed]
    for data, kind, text in zip(layer.data, layer.shape_type, texts):
        if kind != "rectangle":
            continue
        corners = _world(layer, data)
        assert np.allclose(corners[:, hidden], point[hidden], atol=1e-6)  # on this slice
        px = _to_screen(viewer, corners)
        boxes.append((text, np.concatenate([px.min(axis=0), px.max(axis=0)])))
    return boxes


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_placement_keeps_tags_apart_and_off_their_points() -> None:
    anchors = np.array([[0.0, 0.0], [3.0, 1.0], [1.0, -2.0], [2.0, 2.0], [0.0, 0.0]])
    sizes = np.array([tag_size_px("1"), tag_size_px("2"), tag_size_px("RDP V-L")] * 2)[:5]
    radii = np.full(5, 6.0)
    boxes = place_tags(anchors, sizes, anchors, radii, anchor_radii=radii)
    assert not np.isnan(boxes).any()
    for i in range(5):
        for j in range(i + 1, 5):
            assert not _overlap(boxes[i], boxes[j]), (i, j)
        for p in anchors:  # no box covers any marker
            nearest = np.clip(p, boxes[i, :2], boxes[i, 2:])
            assert np.hypot(*(nearest - p)) >= 6.0
    # an optional tag that fits nowhere near is left out rather than piled on
    crowd = np.array([[x, y] for x in range(-60, 61, 12) for y in range(-60, 61, 12)], float)
    out = place_tags(
        np.zeros((1, 2)), [tag_size_px("RExP VII-L")], crowd, np.full(len(crowd), 5.0),
        optional=[True],
    )  # fmt: skip
    assert np.isnan(out).all()


def test_tags_are_numbered_apart_and_off_the_contacts_in_2d_names_hidden_in_3d(
    make_napari_viewer, qtbot, tmp_path: Path, phantom
) -> None:
    viewer = make_napari_viewer()
    view = _open(viewer, phantom, tmp_path / "ws")
    findings = view.session.findings.findings
    assert len(findings) == 2
    tags = view.tags.layer
    assert tags is not None
    for row, finding in enumerate(findings, start=1):
        view.select(finding.id)  # the slice through it, zoomed in on it
        assert str(row) in [t for t, _ in _tag_boxes(viewer, tags)]
        viewer.reset_view()  # the same slice at the default zoom
        boxes = _tag_boxes(viewer, tags)
        texts = [t for t, _ in boxes]
        assert str(row) in texts  # the finding's number is its row in the table
        for i, (ti, a) in enumerate(boxes):
            for tj, b in boxes[i + 1 :]:
                assert not _overlap(a, b), (ti, tj)
        # no tag covers a contact (or a landmark) shown on this slice
        points = np.concatenate(
            [_world(view.findings_layer, view.findings_layer.data),
             _world(view.landmarks_layer, view.landmarks_layer.data)]
        )  # fmt: skip
        (hidden,) = [a for a in range(3) if a not in viewer.dims.displayed]
        on_slice = np.abs(points[:, hidden] - viewer.dims.point[hidden]) <= 0.5 * tags.scale[hidden]
        assert on_slice.sum() >= 1
        for p in _to_screen(viewer, points[on_slice]):
            for text, box in boxes:
                nearest = np.clip(p, box[:2], box[2:])
                assert np.hypot(*(nearest - p)) > 3.0, text
        # at the default zoom the landmarks go untagged (named on hover)
        assert set(texts) <= {str(n) for n in range(1, len(findings) + 1)}
        assert "label" in view.landmarks_layer.features  # what hover shows

    # zoomed in on the RDP of the nerve, the landmark names fit and are tagged, still apart
    (rdp,) = [
        lm for lm in view.session.findings.landmarks
        if (lm.name, lm.nerve, lm.side) == ("RDP", findings[0].nerve, findings[0].side)
    ]  # fmt: skip
    view.centre_on(rdp.position_ras)
    assert all(t.isdigit() for t, _ in _tag_boxes(viewer, tags))
    getattr(viewer, "scene", viewer).camera.zoom *= 4
    boxes = _tag_boxes(viewer, tags)
    assert any(not t.isdigit() for t, _ in boxes)
    for i, (ti, a) in enumerate(boxes):
        for tj, b in boxes[i + 1 :]:
            assert not _overlap(a, b), (ti, tj)

    # 3-D: no names, only the findings' numbers, each on its own
    viewer.dims.ndisplay = 3
    assert not tags.visible
    assert not view.landmarks_layer.text.visible or not any(view.landmarks_layer.text.view_text())
    numbers = view.tags.layer_3d
    assert numbers.visible
    assert sorted(numbers.features["text"]) == [str(n) for n in range(1, len(findings) + 1)]
    drawn = [box for _, box in view.tags.drawn]
    for i, a in enumerate(drawn):
        for b in drawn[i + 1 :]:
            assert not _overlap(a, b)
    viewer.dims.ndisplay = 2
    assert tags.visible and not numbers.visible


def test_the_tags_layer_is_made_ahead_and_shown_only_while_it_holds_tags(
    make_napari_viewer, qtbot, tmp_path: Path, phantom
) -> None:
    """A moment after a case opens the tags layer is made and shown once, empty (the canvas
    builds its shader programs then, not when the first tags come), then hidden; afterwards
    it is shown only while a tag is on the slice."""
    viewer = make_napari_viewer()
    view = case_view_for(viewer, workspace=tmp_path / "ws")
    shown: list[bool] = []

    def on_inserted(event) -> None:  # type: ignore[no-untyped-def]
        layer = event.value
        if layer.metadata.get("nvc_role") == "tags":
            shown.append(layer.visible)
            layer.events.visible.connect(lambda _: shown.append(layer.visible))

    viewer.layers.events.inserted.connect(on_inserted)
    view.open_case(phantom.t2, phantom.tof, case_id=f"phantom-{phantom.scenario}")
    assert view.tags.layer is None  # not in the way of the first frame
    qtbot.waitUntil(lambda: shown == [False, True, False], timeout=10_000)
    tags = view.tags.layer
    assert tags.nshapes == 0

    # the analysis' findings and landmarks come in while the slice shown holds none of them
    (hidden,) = [a for a in range(3) if a not in viewer.dims.displayed]
    viewer.dims.set_current_step(hidden, 0)
    result = truth_as_result(phantom, view.session.findings.source, centrelines=False)
    view.session.apply_analysis(result)
    assert view.tags.layer is tags and tags.nshapes == 0 and not tags.visible
    first = view.session.findings.findings[0]
    view.select(first.id)  # the slice through it: its number is shown
    assert tags.visible and "1" in [t for t, _ in _tag_boxes(viewer, tags)]
    viewer.dims.set_current_step(hidden, 0)
    assert tags.nshapes == 0 and not tags.visible


def test_screenshot_of_the_sandwich_markers(make_napari_viewer, tmp_path: Path) -> None:
    """The sandwich case's markers over the T2 (written to docs/screenshots with
    NVC_WRITE_SCREENSHOTS=1): the tags' dark boxes are drawn, with white numbers in them."""
    phantom = make_phantom("sandwich", supersample=2, snr=None)
    viewer = make_napari_viewer(show=True)
    viewer.window._qt_window.resize(1000, 760)
    view = _open(viewer, phantom, tmp_path / "ws")
    first = view.session.findings.findings[0]
    view.select(first.id)
    camera = getattr(viewer, "scene", viewer).camera
    camera.zoom *= 2.5  # the cerebellopontine angle fills the canvas
    view.select(first.id)  # centred again at this zoom
    image = viewer.screenshot(canvas_only=True, flash=False)
    rgb = image[..., :3].astype(int)
    # each drawn tag: a dark box around white text
    boxes = _tag_boxes(viewer, view.tags.layer)
    assert len(boxes) >= 2
    for _, box in boxes:
        size = np.array(image.shape[1::-1], float)
        x0, y0 = np.floor(box[:2] + size / 2).astype(int)
        x1, y1 = np.ceil(box[2:] + size / 2).astype(int)
        inside = rgb[y0 + 3 : y1 - 3, x0 + 3 : x1 - 3]
        assert (inside.max(axis=-1) < 60).mean() > 0.4  # the box is dark ...
        assert (inside.min(axis=-1) > 200).any()  # ... with white text in it
    from PIL import Image

    path = screenshot_dir(tmp_path) / "markers_sandwich.png"
    Image.fromarray(image[..., :3]).quantize(colors=256, dither=Image.Dither.NONE).save(
        path, optimize=True
    )
    assert path.stat().st_size < 300_000
