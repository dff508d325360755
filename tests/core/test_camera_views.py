"""The 3-D camera presets: the surgeon's retrosigmoid line of sight and the six anatomical
views, in patient RAS, and their conversion to napari's camera in the (S, P, L) world."""

from __future__ import annotations

import numpy as np
import pytest

from nvc_viewer.orientation import (
    ANATOMICAL_VIEWS,
    CameraView,
    anatomical_view,
    camera_view,
    napari_camera_angles,
    ras_direction_to_spl,
    surgeon_view,
    unmirrored_orientation,
    zoom_for_field,
)

R, A, S = np.eye(3)


def test_left_surgeon_view_looks_forward_medially_and_a_little_down_superior_up() -> None:
    view = surgeon_view("left")
    direction, up = np.asarray(view.view_ras), np.asarray(view.up_ras)
    assert direction[1] > 0.5, "the line of sight must run posterior -> anterior"
    assert direction[0] > 0.4, "from the left, lateral -> medial is towards R"
    assert -0.5 < direction[2] < 0.0, "the eye is a little above the root exit zone"
    assert up[2] > 0.8, "superior is up"
    assert abs(np.dot(direction, up)) < 1e-9
    assert np.linalg.norm(direction) == pytest.approx(1.0)
    assert np.linalg.norm(up) == pytest.approx(1.0)
    # not mirrored: the brainstem (medial, R) on the screen's right, the internal auditory
    # canal (lateral and anterior of the root exit zone) on its left
    right = np.asarray(view.right_ras)
    assert right[0] > 0.5 and right[1] < 0.0
    assert np.dot(right, [-1.0, 1.0, 0.0]) < 0.0
    assert abs(np.dot(right, direction)) < 1e-9 and abs(np.dot(right, up)) < 1e-9


def test_right_surgeon_view_mirrors_the_left_across_the_midline() -> None:
    left, right = surgeon_view("left"), surgeon_view("right")
    np.testing.assert_allclose(right.view_ras, np.asarray(left.view_ras) * [-1, 1, 1])
    np.testing.assert_allclose(right.up_ras, np.asarray(left.up_ras) * [-1, 1, 1])
    assert right.view_ras[0] < -0.4  # from the right side, medial is towards L
    with pytest.raises(ValueError, match="side"):
        surgeon_view("both")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "eye", "up", "screen_right"),
    [
        ("anterior", A, S, -R),  # from the front: the patient's left on the screen's right
        ("posterior", -A, S, R),
        ("left", -R, S, -A),  # from the patient's left: posterior on the screen's right
        ("right", R, S, A),
        ("superior", S, A, R),  # from above, anterior up: the patient's right on the right
        ("inferior", -S, A, -R),  # from below (as an axial slice): the left on the right
    ],
)
def test_each_anatomical_view_looks_from_its_side_with_its_up(
    name: str, eye: np.ndarray, up: np.ndarray, screen_right: np.ndarray
) -> None:
    view = anatomical_view(name)
    np.testing.assert_allclose(view.view_ras, -eye)  # looking from the eye to the patient
    np.testing.assert_allclose(view.up_ras, up)
    np.testing.assert_allclose(view.right_ras, screen_right, atol=1e-12)


def test_anatomical_views_are_the_six_and_unknown_names_are_refused() -> None:
    assert set(ANATOMICAL_VIEWS) == {
        "anterior", "posterior", "left", "right", "superior", "inferior"
    }  # fmt: skip
    with pytest.raises(ValueError, match="view must be one of"):
        anatomical_view("oblique")
    with pytest.raises(ValueError, match="along the view"):
        camera_view("bad", (0, 0, 1), (0, 0, 2))


def test_ras_directions_in_the_spl_world() -> None:
    assert ras_direction_to_spl((1, 0, 0)) == (0.0, 0.0, -1.0)  # R is -L
    assert ras_direction_to_spl((0, 1, 0)) == (0.0, -1.0, 0.0)  # A is -P
    assert ras_direction_to_spl((0, 0, 1)) == (1.0, 0.0, 0.0)  # S is S
    view = surgeon_view("left")
    np.testing.assert_allclose(
        view.view_spl, [view.view_ras[2], -view.view_ras[1], -view.view_ras[0]]
    )


@pytest.mark.parametrize("displayed", [(0, 1, 2), (1, 0, 2), (2, 0, 1), (0, 2, 1)])
def test_the_unmirrored_orientation_has_the_patient_s_handedness(displayed) -> None:  # type: ignore[no-untyped-def]
    orientation = unmirrored_orientation(displayed)
    assert orientation[1:] == ("down", "right")  # vertical and horizontal kept
    # (S, P, L) is left-handed in RAS: an even permutation of it needs napari's left-handed
    # frame (depth flipped), an odd one is right-handed already
    even = list(displayed) in ([0, 1, 2], [1, 2, 0], [2, 0, 1])
    assert orientation[0] == ("away" if even else "towards")
    # a flipped vertical (napari's own control) is kept and the depth follows
    assert unmirrored_orientation(displayed, ("towards", "up", "right"))[0] == (
        "towards" if even else "away"
    )


def _napari_view_and_up(angles, orientation):  # type: ignore[no-untyped-def]
    """napari's inverse (view_and_up_directions_from_angles), restated: R(-angles) @ home."""
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("XYZ", -np.asarray(angles), degrees=True).as_matrix()
    home_view = np.array([-1.0 if orientation[0] == "towards" else 1.0, 0.0, 0.0])
    home_up = np.array([0.0, -1.0 if orientation[1] == "down" else 1.0, 0.0])
    return rotation @ home_view, rotation @ home_up


@pytest.mark.parametrize("displayed", [(0, 1, 2), (1, 0, 2)])
@pytest.mark.parametrize("name", [*ANATOMICAL_VIEWS, "surgeon left", "surgeon right"])
def test_camera_angles_give_back_the_view_and_up_in_scene_axes(displayed, name: str) -> None:  # type: ignore[no-untyped-def]
    view: CameraView = (
        surgeon_view(name.split()[1]) if name.startswith("surgeon") else anatomical_view(name)  # type: ignore[arg-type]
    )
    orientation = unmirrored_orientation(displayed)
    angles = napari_camera_angles(view, displayed, orientation)
    got_view, got_up = _napari_view_and_up(angles, orientation)
    np.testing.assert_allclose(got_view, np.asarray(view.view_spl)[list(displayed)], atol=1e-9)
    np.testing.assert_allclose(got_up, np.asarray(view.up_spl)[list(displayed)], atol=1e-9)


def test_zoom_fits_the_field_across_the_smaller_side() -> None:
    assert zoom_for_field(30.0, (900, 600)) == pytest.approx(20.0)
    with pytest.raises(ValueError):
        zoom_for_field(0.0, (900, 600))
