"""What the surgeon sees: anterior up, the patient's left on the screen's right (radiological)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from nvc_viewer_napari._layers import volume_to_layer_data
from nvc_viewer_napari._viewer import add_layer_data
from scipy import ndimage

from nvc_viewer.volume import Volume, VolumeMeta

from ._phantoms import lps_affine

# Markers in patient RAS mm (x: towards the patient's right, y: anterior, z: superior).
LEFT_MARKER = ((-10.0, -5.0), (-3.0, 3.0), (-2.0, 2.0))  # large, in the patient's LEFT
ANTERIOR_MARKER = ((-1.5, 1.5), (9.0, 12.0), (-2.0, 2.0))  # small, anterior, on the midline


def _marker_phantom(orientation: str) -> Volume:
    """40 x 48 x 32 voxels of 0.8 mm, centred on RAS (0, 0, 0), dark except the two markers."""
    shape = (40, 48, 32)
    affine = lps_affine(orientation, (0.8, 0.8, 0.8))
    centre = (np.array(shape) - 1) / 2
    affine[:3, 3] = -affine[:3, :3] @ centre
    ijk = np.indices(shape).reshape(3, -1).T
    ras = ijk @ affine[:3, :3].T + affine[:3, 3]
    data = np.zeros(shape, np.float32)
    for box in (LEFT_MARKER, ANTERIOR_MARKER):
        lo, hi = np.array(box).T
        inside = np.all((ras >= lo) & (ras <= hi), axis=1)
        data.reshape(-1)[inside] = 1000.0
    return Volume(data, affine, VolumeMeta(kind="phantom", role="t2", description=orientation))


def test_axial_screenshot_is_radiological(make_napari_viewer, tmp_path: Path) -> None:
    viewer = make_napari_viewer(show=True)
    for orientation in ("axial", "sagittal"):
        volume = _marker_phantom(orientation)
        viewer.layers.clear()
        (layer,) = add_layer_data(viewer, [volume_to_layer_data(volume)])
        layer.contrast_limits = (0.0, 1000.0)
        assert viewer.dims.axis_labels == ("S", "P", "L")
        viewer.dims.ndisplay = 2
        viewer.dims.set_point(0, 0.0)  # the axial slice through the markers (S = z_RAS = 0)
        viewer.reset_view()

        shot = viewer.screenshot(str(tmp_path / f"axial_{orientation}.png"), canvas_only=True)

        height, width = shot.shape[:2]
        blobs, n = ndimage.label(shot[..., 0] > 128)
        assert n == 2, f"{orientation}: expected two bright markers on screen, found {n}"
        sizes = ndimage.sum_labels(np.ones_like(blobs), blobs, index=[1, 2])
        big, small = np.argsort(sizes)[::-1] + 1
        left_row, left_col = ndimage.center_of_mass(blobs == big)
        front_row, front_col = ndimage.center_of_mass(blobs == small)
        assert left_col > width / 2, f"{orientation}: patient's left not on the screen's right"
        assert abs(left_row - height / 2) < height / 10
        assert front_row < height / 2, f"{orientation}: anterior not at the top"
        assert abs(front_col - width / 2) < width / 10

        # Back to patient space through the exact affine: the big marker is in the left.
        grid = layer.metadata["nvc_grid"]
        markers, n_markers = ndimage.label(layer.data > 0)
        assert n_markers == 2
        counts = np.bincount(markers.ravel())[1:]
        for label, ras_check in ((np.argmax(counts) + 1, "left"), (np.argmin(counts) + 1, "ant")):
            centre_index = np.mean(np.argwhere(markers == label), axis=0)
            x_ras, y_ras, z_ras = grid.display_to_ras(layer.data_to_world(centre_index))
            if ras_check == "left":
                assert x_ras < -5 and abs(y_ras) < 1 and abs(z_ras) < 1
            else:
                assert y_ras > 9 and abs(x_ras) < 1 and abs(z_ras) < 1
