"""The viewer's display arithmetic: ruler lengths, angles, window/level and its presets."""

import numpy as np
import pytest

from nvc_viewer.measure import (
    WINDOW_PRESETS,
    WindowPreset,
    angle_deg,
    describe_shape,
    drag_limits,
    head_sample,
    limits_of,
    polyline_length_mm,
    preset_limits,
    window_level,
)


def test_length_of_a_line_and_of_a_polyline() -> None:
    assert polyline_length_mm([[0, 0, 0], [3, 4, 12]]) == pytest.approx(13.0)
    assert polyline_length_mm([[0, 0, 0], [0, 3, 0], [0, 3, 4]]) == pytest.approx(7.0)
    with pytest.raises(ValueError):
        polyline_length_mm([[1.0, 2.0, 3.0]])


def test_angle_at_the_middle_point() -> None:
    assert angle_deg([[5, 0, 0], [0, 0, 0], [0, 0, 7]]) == pytest.approx(90.0)
    assert angle_deg([[1, 1, 0], [0, 0, 0], [1, 0, 0]]) == pytest.approx(45.0)
    assert angle_deg([[1, 0, 0], [0, 0, 0], [-2, 0, 0]]) == pytest.approx(180.0)
    with pytest.raises(ValueError):
        angle_deg([[0, 0, 0], [0, 0, 0], [1, 0, 0]])  # an arm of no length
    with pytest.raises(ValueError):
        angle_deg([[0, 0, 0], [1, 0, 0]])


def test_describe_shape_says_mm_or_degrees() -> None:
    assert describe_shape([[0, 0, 0], [0, 6, 8]], "line") == "10.0 mm"
    assert describe_shape([[0, 0, 3], [0, 0, 0], [0, 2, 0]], "path") == "90.0°"
    assert describe_shape([[0, 0, 0], [0, 0, 1], [0, 1, 1], [1, 1, 1]], "path") == "3.0 mm"
    assert describe_shape([[0, 0, 0], [0, 0, 1], [0, 1, 1]], "polygon") == ""
    assert describe_shape([[0, 0, 0], [0, 0, 0], [0, 1, 1]], "path") == ""


def test_window_level_round_trip() -> None:
    assert window_level((100.0, 300.0)) == (200.0, 200.0)
    assert limits_of(200.0, 200.0) == (100.0, 300.0)


def test_drag_right_widens_the_window_and_drag_down_raises_the_level() -> None:
    limits, value_range = (100.0, 300.0), (0.0, 1000.0)
    window, level = window_level(limits)
    wider = window_level(drag_limits(limits, 40.0, 0.0, value_range))
    assert wider[0] == pytest.approx(window + 100.0) and wider[1] == pytest.approx(level)
    narrower = window_level(drag_limits(limits, -40.0, 0.0, value_range))
    assert narrower[0] == pytest.approx(window - 100.0)
    darker = window_level(drag_limits(limits, 0.0, 20.0, value_range))
    assert darker[0] == pytest.approx(window) and darker[1] == pytest.approx(level + 50.0)
    brighter = window_level(drag_limits(limits, 0.0, -20.0, value_range))
    assert brighter[1] == pytest.approx(level - 50.0)
    # never an empty or inverted window, the level stays within the image's values
    low, high = drag_limits(limits, -10_000.0, -10_000.0, value_range)
    assert high > low and (low + high) / 2 == pytest.approx(0.0)


def _head_volume() -> tuple[np.ndarray, np.ndarray]:
    """A 'head' of the values 100..1099 (each once) in a zero background."""
    data = np.zeros((20, 20, 20), np.float32)
    head = np.arange(100, 1100, dtype=np.float32)
    data[5:15, 5:15, 5:15] = head.reshape(10, 10, 10)
    return data, head


def test_head_sample_leaves_out_the_background() -> None:
    data, head = _head_volume()
    np.testing.assert_array_equal(np.sort(head_sample(data)), head)


@pytest.mark.parametrize("preset", WINDOW_PRESETS, ids=lambda p: p.name)
def test_presets_are_percentiles_of_the_head(preset: WindowPreset) -> None:
    data, head = _head_volume()
    expected = np.percentile(head, [preset.low, preset.high])
    np.testing.assert_allclose(preset_limits(data, preset), expected)
    # the same preset on a brighter scan gives proportionally brighter limits
    np.testing.assert_allclose(preset_limits(data * 3.0, preset), 3.0 * expected, rtol=1e-6)


def test_presets_cover_both_series_and_keep_their_order() -> None:
    names = [p.name for p in WINDOW_PRESETS]
    assert names == ["CISS: CSF/nerves", "CISS: wide", "TOF: arteries", "TOF: all inflow"]
    data, _ = _head_volume()
    narrow, wide = (preset_limits(data, p) for p in WINDOW_PRESETS[:2])
    assert wide[0] < narrow[0] and narrow[1] <= wide[1]
    arteries, inflow = (preset_limits(data, p) for p in WINDOW_PRESETS[2:])
    assert inflow[0] < arteries[0]


def test_preset_of_a_constant_image_is_not_empty() -> None:
    low, high = preset_limits(np.full((5, 5, 5), 7.0), WINDOW_PRESETS[0])
    assert high > low
