"""Screenshots of three phantom scenarios: T2 and TOF, 2-D axial through the conflict and 3-D.

Writes ``phantom_<scenario>.png`` (a 2 x 2 montage) into the folder given::

    xvfb-run -a python benchmarks/phantom_screenshots.py docs/screenshots
"""

import sys
import time
from pathlib import Path

import napari
import numpy as np
from nvc_viewer_napari._layers import AXIS_LABELS, case_layers
from PIL import Image, ImageDraw

from nvc_viewer.phantom import make_phantom

OUT = Path(sys.argv[1])
SIZE = (420, 420)
CASES = {"contact": 0, "sandwich": 0, "displacement": 0}


def shoot(viewer):
    return np.asarray(viewer.screenshot(size=SIZE, canvas_only=True))[..., :3]


def panel(viewer, scenario, side, seed):
    t = time.perf_counter()
    ph = make_phantom(scenario, side=side, seed=seed, shape=None, spacing_mm=0.5, supersample=6)
    print(scenario, "built", round(time.perf_counter() - t, 1), ph.t2.shape, flush=True)
    viewer.layers.clear()
    layers = case_layers(ph.t2, ph.tof, ph.labels)
    added = []
    for data, kw, kind in layers:
        added.append(getattr(viewer, f"add_{kind}")(data, **kw))
    t2, tof, lab = added
    lab.visible = False
    grid = t2.metadata["nvc_grid"]
    pts = np.array(
        [grid.ras_to_display(np.asarray(f["position_ras"])) for f in ph.truth["findings"]]
    )
    centre = pts.mean(axis=0)
    marks = viewer.add_points(
        pts,
        size=4.0,
        face_color="transparent",
        border_color="yellow",
        border_width=0.12,
        name="truth contact",
        out_of_slice_display=True,
    )
    viewer.dims.axis_labels = AXIS_LABELS
    viewer.dims.ndisplay = 2
    viewer.dims.order = (0, 1, 2)
    viewer.dims.set_point(0, float(centre[0]))
    images = {}
    # 1: T2 alone, whole field
    tof.visible = False
    viewer.reset_view()
    # screenshot(size=...) keeps the canvas' pixels per mm: fit the field of view to the panel
    extent = np.asarray(viewer.layers.extent.world)
    fov = float(np.max(extent[1, 1:] - extent[0, 1:]))
    viewer.camera.zoom = 0.98 * SIZE[0] / fov
    images["T2 (CISS-like), axial"] = shoot(viewer)
    # 2: TOF alone (gray), same slice
    t2.visible = False
    tof.visible = True
    tof.colormap = "gray"
    tof.blending = "translucent"
    lo, hi = np.percentile(tof.data, [1, 99.8])
    tof.contrast_limits = (float(lo), float(hi))
    images["TOF, same slice"] = shoot(viewer)
    # 3: fused, zoomed on the conflict
    t2.visible = True
    tof.colormap = "red"
    tof.blending = "additive"
    tof.contrast_limits = tuple(layers[1][1]["contrast_limits"])
    viewer.camera.center = (float(centre[1]), float(centre[2]))
    viewer.camera.zoom *= 4.0
    images["T2 + TOF (red), zoom x4"] = shoot(viewer)
    # 4: 3-D: T2 as an axial plane through the conflict, TOF as a maximum intensity projection
    marks.visible = False
    viewer.dims.ndisplay = 3
    t2.depiction = "plane"
    t2.plane.normal = (1.0, 0.0, 0.0)
    # plane position is in the layer's data (voxel) coordinates
    t2.plane.position = tuple(float(c) for c in grid.display_to_index(centre))
    tof.rendering = "mip"
    # a projection keeps each ray's brightest voxel: window above the tissue's noise
    lo, hi = np.percentile(tof.data, [99.0, 99.95])
    tof.contrast_limits = (float(lo), float(hi))
    viewer.reset_view()
    viewer.camera.angles = (0.0, -35.0, 70.0)
    viewer.camera.zoom = 1.1 * SIZE[0] / fov
    images["3-D: T2 plane + TOF MIP"] = shoot(viewer)
    t2.depiction = "volume"
    return ph, images


def montage(scenario, side, ph, images, path):
    w, h = SIZE[1], SIZE[0]
    head = 34
    canvas = Image.new("RGB", (2 * w, 2 * h + head), "black")
    draw = ImageDraw.Draw(canvas)
    f = ph.truth["findings"]
    desc = ", ".join(f"{x['vessel']} {x['grade']} {x['segment']}" for x in f)
    draw.text((8, 4), f"phantom {scenario}, {side} side, seed {ph.seed}: {desc}", fill="white")
    draw.text(
        (8, 18),
        "axial views: anterior up, patient's left on the screen's right; "
        "yellow ring = true contact",
        fill="yellow",
    )
    for n, (title, img) in enumerate(images.items()):
        x, y = (n % 2) * w, head + (n // 2) * h
        canvas.paste(Image.fromarray(img), (x, y))
        draw.text((x + 6, y + 4), title, fill="yellow")
        if n < 3:
            draw.text((x + 6, y + h // 2), "R", fill="cyan")
            draw.text((x + w - 14, y + h // 2), "L", fill="cyan")
    canvas = canvas.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    canvas.save(path, optimize=True)
    print(path, path.stat().st_size, flush=True)


viewer = napari.Viewer(show=True)
viewer.window._qt_window.resize(1200, 900)
for scenario, seed in CASES.items():
    ph, images = panel(viewer, scenario, "left", seed)
    montage(scenario, "left", ph, images, OUT / f"phantom_{scenario}.png")
viewer.close()
