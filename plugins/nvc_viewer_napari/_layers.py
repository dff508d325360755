"""The one place that turns `Volume` objects into napari layer data.

Every layer of a case shares the reference (T2) volume's display grid: the reference is put on
the (S, P, L) world by flips and transposes only (`nvc_viewer.geometry.to_display`), and every
other volume (TOF, labels) is first resampled into the reference's voxel grid
(`nvc_viewer.geometry.resample_like`). napari then gets only ``scale`` and ``translate`` -- never
an ``affine`` or ``rotate``, which would make vispy raise "Singular matrix" in 2-D for
axis-permuting matrices. No other module of the plugin computes ``scale`` or ``translate``.

The layer ``metadata`` carries the way back to patient space:

``nvc_volume``
    The `Volume` shown (on the reference grid).
``nvc_source_volume``
    The volume as it was read, before any resampling.
``nvc_grid``
    The `DisplayGrid` (``display_to_ras`` / ``ras_to_display``).
``affine_ras``
    ``(4, 4)`` display-array index -> patient RAS mm (``nvc_grid.affine_ras``).
``nvc_role``
    ``"t2"``, ``"tof"``, ``"label"`` ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from nvc_viewer.errors import InvalidVolumeError
from nvc_viewer.geometry import DisplayGrid, resample_like, to_display
from nvc_viewer.labels import LABELS
from nvc_viewer.volume import Volume

if TYPE_CHECKING:
    from nvc_viewer.reformat import Reformat

__all__ = [
    "AXIS_LABELS",
    "LABEL_COLORS",
    "LayerDataTuple",
    "label_features",
    "case_layers",
    "iter_case_layers",
    "volume_to_layer_data",
    "plane_layers",
]

#: napari ``dims.axis_labels`` of the display world (see `nvc_viewer.geometry`).
AXIS_LABELS = ("S", "P", "L")

#: One colour per label value: the label table's (`nvc_viewer.labels`, the exported colours);
#: 0 is transparent background.
LABEL_COLORS: dict[int | None, str] = {
    None: "yellow",  # any value outside the table stays visible
    0: "transparent",
    **{value: info.hex for value, info in LABELS.items()},
}


def label_features() -> dict[str, list[Any]]:
    """Features of a Labels layer: the structure's name of each value (the label table's, as the
    exported files name it). napari shows the name beside the value under the mouse
    ("6; structure: Artery")."""
    return {
        "index": [0, *LABELS],
        "structure": ["background", *(info.name for info in LABELS.values())],
    }


#: (data, kwargs, layer type), as a napari reader or sample-data function returns it.
LayerDataTuple = tuple[np.ndarray, dict[str, Any], str]

# Robust window: extreme voxels (Gibbs ringing, fat, flow artefacts) must not set the contrast.
_PERCENTILES = (0.5, 99.5)
# Percentiles are computed on at most about this many voxels (a strided subsample).
_MAX_STATS_VOXELS = 2_000_000
# The TOF overlay starts high in the TOF's own distribution inside the T2 field: stationary
# tissue (most voxels) and slow venous flow stay uncoloured and only the bright arterial inflow
# tints the T2 image. Arteries fill a few per cent of a CPA field of view.
_TOF_LOW_PERCENTILE = 95.0


def _robust_limits(data: np.ndarray, low: float, high: float) -> tuple[float, float]:
    """Contrast limits from percentiles of a strided subsample; never an empty range."""
    step = max(1, int(np.ceil((data.size / _MAX_STATS_VOXELS) ** (1 / 3))))
    sample = np.asarray(data[::step, ::step, ::step], dtype=np.float64)
    lo, hi = (float(v) for v in np.percentile(sample, [low, high]))
    if hi <= lo:  # a nearly constant image: fall back to its full range
        lo, hi = float(np.min(data)), float(np.max(data))
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _overlay_limits(data: np.ndarray) -> tuple[float, float]:
    """Contrast limits of the angiogram overlay, from its voxels inside the T2 field.

    ``data`` is the TOF on the T2 grid; voxels the TOF does not cover were filled with 0 by
    the resampling and are left out, so that a small TOF slab does not pull the window down.
    """
    step = max(1, int(np.ceil((data.size / _MAX_STATS_VOXELS) ** (1 / 3))))
    sample = np.asarray(data[::step, ::step, ::step], dtype=np.float64)
    covered = sample[sample != 0]
    if covered.size < 100:  # nearly no overlap (or an empty TOF): the plain robust window
        return _robust_limits(data, _TOF_LOW_PERCENTILE, _PERCENTILES[1])
    lo, hi = (float(v) for v in np.percentile(covered, [_TOF_LOW_PERCENTILE, _PERCENTILES[1]]))
    if hi <= lo:  # bright voxels rarer than 0.5 %: window up to the brightest one
        hi = float(covered.max())
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def _same_grid(volume: Volume, grid: DisplayGrid) -> bool:
    """Whether ``volume`` lies on the voxel grid ``grid`` was built from."""
    _, own = to_display(volume)
    return own.shape == grid.shape and bool(
        np.allclose(own.affine_ras, grid.affine_ras, rtol=0.0, atol=1e-6)
    )


def volume_to_layer_data(
    volume: Volume,
    *,
    name: str | None = None,
    kind: Literal["image", "labels"] = "image",
    reference_grid: DisplayGrid | None = None,
    source_volume: Volume | None = None,
    overlay: bool | None = None,
) -> LayerDataTuple:
    """Turn a volume into napari layer data on the display (S, P, L) world.

    Parameters
    ----------
    volume : Volume
        The volume to show.
    name : str, optional
        Layer name; default the volume's description, else its role.
    kind : {"image", "labels"}
        ``"labels"`` gives a Labels layer (integer label map, docs/design.md, section 3).
    reference_grid : DisplayGrid, optional
        The case's reference grid (from the T2 volume). A volume not on that grid is resampled
        into it (trilinear for images, nearest for labels), so every layer of a case shares one
        ``scale`` and ``translate``. Default: the volume's own grid (it is the reference).
    source_volume : Volume, optional
        The volume as read, when ``volume`` is a resampled copy (kept in metadata).
    overlay : bool, optional
        Draw an image as the angiogram overlay (red, additive blending, lower contrast limit at
        the 95th percentile of the TOF inside the T2 field, so that only arterial inflow is
        coloured) instead of a gray base image.
        Default: when ``volume.meta.role == "tof"``.

    Returns
    -------
    data : (S, P, L) ndarray
        Display-ordered voxels. For images a view of ``volume.data`` (no copy); for labels a
        copy, so that painting in napari cannot change the `Volume`.
    kwargs : dict
        ``name``, ``scale`` and ``translate`` (mm), ``metadata`` (see the module docstring), and
        for images ``contrast_limits``, ``colormap``, ``blending``.
    layer_type : {"image", "labels"}

    Raises
    ------
    InvalidVolumeError
        If ``kind`` is unknown or a label map holds non-integer values.
    """
    if kind not in ("image", "labels"):
        raise InvalidVolumeError(f"kind must be 'image' or 'labels', got {kind!r}")
    source_volume = volume if source_volume is None else source_volume
    if reference_grid is not None and not _same_grid(volume, reference_grid):
        # A throw-away reference on the display grid (no memory: a broadcast zero).
        target = Volume(
            np.broadcast_to(np.uint8(0), reference_grid.shape), reference_grid.affine_ras
        )
        volume = resample_like(volume, target, order=0 if kind == "labels" else 1)
    data, grid = to_display(volume)
    if reference_grid is not None:
        grid = reference_grid  # numerically the same; one object shared by the case's layers
    role = volume.meta.role
    if name is None:
        name = volume.meta.description or role
    kwargs: dict[str, Any] = {
        "name": name,
        "scale": tuple(float(s) for s in grid.scale),
        "translate": tuple(float(t) for t in grid.translate),
        "metadata": {
            "nvc_volume": volume,
            "nvc_source_volume": source_volume,
            "nvc_grid": grid,
            "affine_ras": grid.affine_ras,
            "nvc_role": "label" if kind == "labels" else role,
        },
    }
    if kind == "labels":
        if data.dtype.kind == "f":
            if not np.all(np.equal(np.mod(data, 1), 0)):
                raise InvalidVolumeError(
                    f"label map {name!r} holds non-integer values; resample labels with order=0"
                )
            data = data.astype(np.uint8 if data.max() <= 255 else np.int32)
        elif data.dtype == bool:
            data = data.astype(np.uint8)
        else:
            data = np.array(data)
        kwargs.update(colormap=dict(LABEL_COLORS), opacity=0.5, features=label_features())
        return data, kwargs, "labels"
    if overlay is None:
        overlay = role == "tof"
    if overlay:
        kwargs.update(
            contrast_limits=_overlay_limits(data),
            colormap="red",
            blending="additive",
        )
    else:
        kwargs.update(
            contrast_limits=_robust_limits(data, *_PERCENTILES),
            colormap="gray",
            blending="translucent",
        )
    return data, kwargs, "image"


def case_layers(
    t2: Volume,
    tof: Volume | None = None,
    labels: Volume | None = None,
) -> list[LayerDataTuple]:
    """Layer data of one case: the T2 reference, the fused TOF, the label map.

    Parameters
    ----------
    t2 : Volume
        The reference volume (heavy-T2 CISS/FIESTA); its grid is the case's display grid.
    tof : Volume, optional
        The TOF angiogram, on any grid: resampled into the T2 grid (trilinear) and shown as a
        red additive overlay.
    labels : Volume, optional
        A label map (values: docs/design.md, section 3), resampled into the T2 grid (nearest).

    Returns
    -------
    list of (data, kwargs, layer_type)
        In drawing order: T2 first, then TOF, then labels. All share one ``scale`` and
        ``translate``.
    """
    return list(iter_case_layers(t2, tof, labels))


def iter_case_layers(
    t2: Volume,
    tof: Volume | None = None,
    labels: Volume | None = None,
) -> Iterator[LayerDataTuple]:
    """`case_layers` one at a time: each is made when the next is asked for, so that a caller
    can draw the T2 before the TOF and the label map are resampled into its grid."""
    _, grid = to_display(t2)
    yield volume_to_layer_data(t2, name=_name(t2, "T2"), reference_grid=grid, overlay=False)
    if tof is not None:
        fused = resample_like(tof, t2, order=1)
        yield volume_to_layer_data(
            fused,
            name=_name(tof, "TOF"),
            reference_grid=grid,
            source_volume=tof,
            overlay=True,
        )
    if labels is not None:
        on_grid = resample_like(labels, t2, order=0)
        yield volume_to_layer_data(
            on_grid,
            name=_name(labels, "labels"),
            kind="labels",
            reference_grid=grid,
            source_volume=labels,
        )


def _name(volume: Volume, fallback: str) -> str:
    description = volume.meta.description.strip()
    return f"{fallback}: {description}" if description else fallback


def plane_layers(
    plane: Reformat,
    *,
    name: str = "nerve plane",
    contrast_limits: tuple[float, float] | None = None,
) -> list[LayerDataTuple]:
    """Layer data of a reformatted plane (`nvc_viewer.reformat.Reformat`): its image, then its
    label map when it has one.

    The plane's world is 2-D, in mm on the plane: pixel ``(row, column)`` sits at
    ``(row, column) * spacing_mm``, rows downwards. The way back to patient space is the plane's
    own affine, kept in ``metadata`` (``nvc_reformat``: the plane, ``affine_ras``: pixel -> RAS),
    never the layer's scale.

    Parameters
    ----------
    plane : Reformat
    name : str, optional
        Layer names: ``"<name>"`` and ``"<name> labels"``.
    contrast_limits : (2,) floats, optional
        The image's window (e.g. the main view's T2 window); default a robust window of the
        plane's own pixels.
    """
    spacing = float(plane.spacing_mm)
    common: dict[str, Any] = {
        "scale": (spacing, spacing),
        "translate": (0.0, 0.0),
        "units": ("mm", "mm"),
    }

    def metadata(role: str) -> dict[str, Any]:
        return {"nvc_reformat": plane, "affine_ras": plane.affine_ras, "nvc_role": role}

    if contrast_limits is None:
        covered = plane.image[plane.image != 0]
        lo, hi = (
            (float(v) for v in np.percentile(covered, _PERCENTILES)) if covered.size else (0, 1)
        )
        contrast_limits = (lo, hi if hi > lo else lo + 1.0)
    layers: list[LayerDataTuple] = [
        (
            plane.image,
            {
                **common,
                "name": name,
                "metadata": metadata("t2"),
                "colormap": "gray",
                "contrast_limits": tuple(float(v) for v in contrast_limits),
            },
            "image",
        )
    ]
    if plane.labels is not None:
        layers.append(
            (
                plane.labels,
                {
                    **common,
                    "name": f"{name} labels",
                    "metadata": metadata("label"),
                    "colormap": dict(LABEL_COLORS),
                    "opacity": 0.5,
                    "features": label_features(),
                },
                "labels",
            )
        )
    return layers
