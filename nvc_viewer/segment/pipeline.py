"""The automatic analysis, stage by stage, with progress and cancellation.

Design note
-----------
Stages (each timed, each followed by a ``progress(fraction, message)`` call and a
``cancel()`` poll):

1. ``normalise``  -- CSF peak and tissue level of the T2 (`normalise.t2_reference`);
2. ``localise``   -- brainstem and its axis on a coarse copy (`masks.localise_brainstem`), the
   crop of both cerebellopontine angles;
3. ``masks``      -- fine masks on the crop: brainstem, CSF, cisterns, bone, dark tubes;
4. ``tof``        -- TOF resampled into the crop and rigidly aligned on the vessels
   (`register.register_to_darkness`);
5. ``nerves``     -- VII, VIII, V per side (`nerves.track_nerves`; with ``fork`` the two sides'
   facial pairs side by side, the right one in a forked process);
6. ``vessels``    -- arteries and veins (`vessels.segment_vessels`);
7. ``findings``   -- landmarks and contacts (`landmarks`, `nvc_viewer.compression`);
8. ``labels``     -- the label map on the full T2 grid.

Only the crop is ever filtered; a whole 512 x 512 x 160 scan is touched once (block means for
the coarse copy) and the output label map is its only full-size array.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from ..errors import AnalysisCancelled, AnalysisError, InvalidVolumeError
from ..geometry import resample_like
from ..labels import LABEL_VALUES
from ..volume import Volume
from .banding import BAND_WARNING_MM3, fill_bands
from .crop import Box
from .identify import identify_nerves
from .masks import BrainstemFrame, dilate_mm, erode_mm, fine_masks, localise_brainstem
from .nerves import NerveTrack, track_nerves
from .normalise import IntensityReference, t2_reference, tof_reference
from .register import register_to_darkness
from .roots import nerve_voxels
from .scene import Scene
from .vessels import VesselMasks, segment_vessels

__all__ = ["Stages", "run_stages", "build_scene", "align_tof", "labels_of", "LABELS"]

#: Label values by key and by nerve name (the label table, `nvc_viewer.labels`).
LABELS = dict(LABEL_VALUES)

Progress = Callable[[float, str], None]
Cancel = Callable[[], bool]


@dataclass
class Stages:
    """Progress reporting, cancellation and timing of the stages of one run."""

    progress: Progress | None = None
    cancel: Cancel | None = None
    weights: Mapping[str, float] = field(
        default_factory=lambda: {
            "normalise": 0.04,
            "localise": 0.08,
            "masks": 0.1,
            "tof": 0.12,
            "nerves": 0.3,
            "vessels": 0.16,
            "findings": 0.12,
            "labels": 0.08,
        }
    )
    timings_s: dict[str, float] = field(default_factory=dict)
    _done: float = 0.0
    _t0: float = field(default_factory=time.perf_counter)

    def check(self) -> None:
        """Raise `AnalysisCancelled` if the user asked to stop."""
        if self.cancel is not None and self.cancel():
            raise AnalysisCancelled("analysis cancelled")

    def start(self, name: str, message: str) -> None:
        self.check()
        if self.progress is not None:
            self.progress(min(self._done, 1.0), message)
        self._t0 = time.perf_counter()

    def finish(self, name: str) -> None:
        self.timings_s[name] = round(time.perf_counter() - self._t0, 4)
        self._done += self.weights.get(name, 0.0)
        self.check()


def _check_volume(vol: Volume, what: str) -> None:
    if not isinstance(vol, Volume):
        raise InvalidVolumeError(f"{what} must be a Volume, got {type(vol).__name__}")
    if min(vol.shape) < 8:
        raise AnalysisError(f"{what} is too small to analyse: shape {vol.shape}")
    if not np.isfinite(vol.data).all():
        raise InvalidVolumeError(f"{what} holds NaN or infinite values")


def build_scene(
    t2: Volume,
    *,
    seeds: Mapping[str, Any] | None = None,
    box: Box | None = None,
    ref: IntensityReference | None = None,
    frame: BrainstemFrame | None = None,
    stages: Stages | None = None,
) -> Scene:
    """Normalise, localise and mask: the scene the other stages work on.

    Parameters
    ----------
    t2 : Volume
        Heavy-T2 reference.
    seeds : mapping, optional
        ``{"brainstem": (x, y, z) RAS mm}``: a point in the brainstem (skips the automatic
        guess).
    box : Box, optional
        Work on this box of the T2 grid instead of the automatic crop (seeded refinement).
    ref : IntensityReference, optional
        Reuse intensity levels measured before.
    frame : BrainstemFrame, optional
        Reuse a brainstem localisation made before.
    stages : Stages, optional
    """
    stages = stages or Stages()
    stages.start("normalise", "Normalising intensities")
    if ref is None:
        ref = t2_reference(t2.data)
    stages.finish("normalise")
    stages.start("localise", "Finding the brainstem")
    seed = None if not seeds else seeds.get("brainstem")
    if frame is None:
        frame = localise_brainstem(t2.data, t2.affine, ref, seed_ras=seed)
    if box is None:
        box = frame.box
    stages.finish("localise")
    stages.start("masks", "Brainstem, cisterns and tubes")
    sp = t2.spacing_mm
    norm, bands = fill_bands(ref.normalise(t2.data[box.slices]), sp)
    f = frame.factors
    cshape = frame.mask_coarse.shape
    idx = [
        np.minimum(np.arange(a, b) // fa, s - 1) for a, b, fa, s in zip(box.lo, box.hi, f, cshape)
    ]
    prior = frame.mask_coarse[np.ix_(*idx)]
    masks = fine_masks(norm, sp, prior)
    affine = box.affine(t2.affine)
    scene = Scene(box=box, affine=affine, spacing=sp, norm=norm, ref=ref, frame=frame, masks=masks)
    scene.band_mm3 = band_mm3 = float(bands.sum() * np.prod(sp))
    if band_mm3 >= BAND_WARNING_MM3:
        scene.warnings.append(
            f"dark off-resonance bands cross the cisterns ({band_mm3:.0f} mm3 filled with the CSF "
            "around them before the analysis); where a band crosses a nerve or lies between a "
            "nerve and a vessel, a contact may be misjudged"
        )
    x, z = (_ras_coordinate(affine, row, norm.shape) for row in (0, 2))
    scene.side_right = np.empty(norm.shape, bool)
    np.greater(x, frame.midline_x(z), out=scene.side_right)
    stages.finish("masks")
    return scene


def _ras_coordinate(affine: np.ndarray, row: int, shape: tuple[int, ...]) -> np.ndarray:
    """RAS coordinate ``row`` (0 x, 1 y, 2 z) of every voxel of a grid, broadcastable to
    ``shape``: the sum of the axes' terms, without the axes it does not change along (an
    axis-aligned crop's height is one value per slice)."""
    out: Any = 0
    for a, n in enumerate(shape):
        if affine[row, a] != 0.0:
            index = np.arange(n, dtype=np.float32).reshape([-1 if b == a else 1 for b in range(3)])
            out = out + affine[row, a] * index
    return out + affine[row, 3]


def align_tof(scene: Scene, tof: Volume, *, motion: np.ndarray | None = None) -> None:
    """Resample the TOF into the scene's crop, aligned on the vessels, normalised (in place).

    Parameters
    ----------
    scene : Scene
    tof : Volume
    motion : (4, 4) ndarray, optional
        A known RAS correction (T2 anatomy -> TOF anatomy); estimated when None.
    """
    crop = Volume(scene.norm, scene.affine)
    region = scene.masks.cistern if scene.masks.cistern.any() else None
    # the inside of the brainstem, clear of a misregistration of up to 2 mm: stationary tissue
    tissue = erode_mm(scene.masks.brainstem, 2.0, scene.spacing)
    if motion is None:
        raw = resample_like(tof, crop).data
        tr = tof_reference(raw, mask=region, tissue_mask=tissue)
        moving = tr.normalise(raw)
        sp = scene.spacing
        shell = dilate_mm(scene.masks.dark, 1.0, sp) & scene.masks.cistern
        pts = np.argwhere(shell)
        darkness = np.clip(1.0 - scene.norm, 0.0, 1.0) * scene.masks.cistern
        m_grid, ncc = register_to_darkness(moving, darkness, pts, sp)
        g = scene.affine @ np.diag([1.0 / s for s in sp] + [1.0])
        motion = g @ m_grid @ np.linalg.inv(g)
        scene.tof_ncc = round(float(ncc), 3)
    fixed = Volume(tof.data, np.linalg.inv(motion) @ tof.affine, tof.meta)
    aligned = resample_like(fixed, crop).data
    tr = tof_reference(aligned, mask=region, tissue_mask=tissue)
    scene.tof = tr.normalise(aligned)
    scene.tof_motion = motion


def labels_of(scene: Scene, vm: VesselMasks | None, shape: tuple[int, int, int]) -> np.ndarray:
    """The uint8 label map (docs/design.md, section 3) on the full T2 grid."""
    out = np.zeros(shape, np.uint8)
    crop = np.zeros(scene.shape, np.uint8)
    m = scene.masks
    csf = m.csf & m.cistern
    crop[csf] = LABELS["csf"]
    crop[m.brainstem] = LABELS["brainstem"]
    for name in ("V", "VIII", "VII"):
        for t in scene.nerves.values():
            if t.name == name:
                crop[_nerve_label_voxels(scene, t)] = LABELS[name]
    if vm is not None:
        crop[vm.vein] = LABELS["vein"]
        crop[vm.artery] = LABELS["artery"]
    out[scene.box.slices] = crop
    return out


def _nerve_label_voxels(scene: Scene, track: NerveTrack) -> np.ndarray:
    r = ndimage.median_filter(track.radius_mm, size=9, mode="nearest")
    smooth = NerveTrack(
        track.name,
        track.side,
        track.points,
        r,
        track.i_rexp,
        track.i_rdp,
        track.confidence,
        track.s_mm,
    )
    return nerve_voxels(smooth, scene.shape, scene.spacing, pad_mm=0.0)


def run_stages(
    t2: Volume,
    tof: Volume | None,
    *,
    seeds: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    fork: bool = False,
) -> tuple[Scene, VesselMasks, Stages]:
    """Run stages 1-6 and return the scene (with nerves), the vessels and the timings.

    With ``fork`` each side's facial pair is tracked beside the other's, in a child process
    forked for the right side (`nerves.track_nerves`); the result is the same.
    """
    _check_volume(t2, "the T2 volume")
    if tof is not None:
        _check_volume(tof, "the TOF volume")
    stages = Stages(progress, cancel)
    scene = build_scene(t2, seeds=seeds, stages=stages)
    stages.start("tof", "Aligning the TOF angiogram")
    if tof is not None:
        align_tof(scene, tof)
    stages.finish("tof")
    stages.start("nerves", "Tracking the cranial nerves")
    scene.nerves = track_nerves(scene, fork=fork)
    scene.identification = identify_nerves(scene)
    stages.finish("nerves")
    stages.start("vessels", "Separating arteries and veins")
    vm = segment_vessels(scene)
    stages.finish("vessels")
    return scene, vm, stages
