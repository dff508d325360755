"""Intensity normalisation robust to scanner scaling.

Design note
-----------
MR intensities have no absolute unit: the same scanner gives different scalings from one series
to the next. On heavy-T2 (CISS/FIESTA) the cerebrospinal fluid is the brightest large class, so
every threshold in the pipeline is expressed on a scale anchored on the case's own classes:
the *CSF peak* (the mode of the intensity histogram above the upper of two multi-Otsu
thresholds -- air and bone / tissue / fluid: a whole-head field of view holds more air than
CSF) maps to 1.0 and the *tissue peak* (the main mode between bone-dark and that threshold) to
`T2_TISSUE_LEVEL`, zero staying zero. Sequences and field strengths differ in how dark tissue
is against CSF (CISS, FIESTA, SPACE: 2.5-4 times darker): anchored on both, a nerve or vessel
as dark as tissue lands at the same level everywhere. Percentiles guard the histogram's range
against hot voxels, and air (near zero) is left out so that the size of the field of view does
not move the levels. On TOF the anchors are stationary tissue (inside the brainstem) and the
arteries' bright cores (`tof_reference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_multiotsu, threshold_otsu

from ..errors import InvalidVolumeError

__all__ = [
    "IntensityReference",
    "t2_reference",
    "tof_reference",
    "sample_values",
    "T2_TISSUE_LEVEL",
    "TOF_TISSUE_LEVEL",
]


@dataclass(frozen=True)
class IntensityReference:
    """Reference levels of one image, in its own (scanner) units.

    Attributes
    ----------
    csf : float
        The level that maps to 1.0 (CSF peak on T2, arterial level on TOF).
    tissue : float
        The level of the main tissue class (brain tissue on T2, background tissue on TOF).
    noise : float
        Standard deviation of the noise around the reference peak (same units).
    threshold : float
        The Otsu threshold that separated the two classes.
    """

    csf: float
    tissue: float
    noise: float
    threshold: float
    tissue_to: float | None = None

    def normalise(self, data: np.ndarray) -> np.ndarray:
        """The image on the reference scale, as float32.

        ``data / csf`` (the reference level becomes 1.0, zero stays zero); when ``tissue_to`` is
        set, the piecewise-linear map through (0, 0), (``tissue``, ``tissue_to``) and
        (``csf``, 1), continued beyond both ends with the slope of the nearest piece -- so that
        the case's own tissue and reference levels land where the analysis expects them,
        whatever the scanner's contrast between them.
        """
        a = np.asarray(data, dtype=np.float32)
        if self.tissue_to is None:
            return (a * np.float32(1.0 / self.csf)).astype(np.float32, copy=False)
        t, to = float(self.tissue), float(self.tissue_to)
        upper = (a - np.float32(t)) * np.float32((1.0 - to) / (self.csf - t)) + np.float32(to)
        lower = a * np.float32(to / t)
        return np.where(a >= np.float32(t), upper, lower).astype(np.float32, copy=False)

    @property
    def relative_noise(self) -> float:
        """Noise as a fraction of the reference level (1 / SNR)."""
        return self.noise / self.csf


def sample_values(data: np.ndarray, max_samples: int = 2_000_000) -> np.ndarray:
    """A regular subsample of a volume's finite values, as float32 (for histograms)."""
    step = max(1, int(np.ceil((data.size / max_samples) ** (1.0 / 3.0))))
    vals = np.asarray(data[::step, ::step, ::step], dtype=np.float32).ravel()
    return vals[np.isfinite(vals)]


def _histogram(vals: np.ndarray, lo: float, hi: float, bins: int = 256) -> tuple[np.ndarray, ...]:
    hist, edges = np.histogram(vals, bins=bins, range=(lo, hi))
    centres = 0.5 * (edges[:-1] + edges[1:])
    return ndimage.gaussian_filter1d(hist.astype(np.float64), 2.0), centres


def _peak_width(hist: np.ndarray, centres: np.ndarray, peak: int) -> float:
    """Noise sigma from the half width at half maximum on the peak's upper side."""
    half = hist[peak] / 2.0
    above = np.nonzero(hist[peak:] < half)[0]
    step = centres[1] - centres[0]
    hwhm = (above[0] if above.size else len(hist) - peak) * step
    return float(max(hwhm / 1.1774, step))


def t2_reference(data: np.ndarray, *, mask: np.ndarray | None = None) -> IntensityReference:
    """CSF peak and tissue level of a heavy-T2 volume.

    Parameters
    ----------
    data : (I, J, K) ndarray
        The T2 image in scanner units.
    mask : (I, J, K) bool ndarray, optional
        Only these voxels count (e.g. a crop around the brainstem).

    Returns
    -------
    IntensityReference

    Raises
    ------
    InvalidVolumeError
        If the image is constant or holds no positive values.
    """
    vals = np.asarray(data[mask], np.float32) if mask is not None else sample_values(data)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise InvalidVolumeError("the T2 image holds no finite values")
    hi = float(np.percentile(vals, 99.9))
    if not hi > 0:
        raise InvalidVolumeError("the T2 image holds no positive values")
    # air and the empty corners of the field of view are not a tissue class
    vals = vals[(vals > 0.05 * hi) & (vals <= 1.25 * hi)]
    if vals.size < 100 or np.ptp(vals) <= 0:
        raise InvalidVolumeError("the T2 image is constant: no CSF peak to normalise to")
    # Three classes (air and bone / tissue / fluid): a whole-head field of view holds more air
    # and noise than CSF, and a two-class split would cut between air and tissue.
    try:
        thr = float(threshold_multiotsu(vals, classes=3)[1])
    except ValueError:
        thr = float(threshold_otsu(vals))
    hist, centres = _histogram(vals, 0.0, 1.25 * hi)
    upper = centres > thr
    csf_bin = int(np.nonzero(upper)[0][np.argmax(hist[upper])])
    csf = float(centres[csf_bin])
    # tissue: the main peak between bone-dark and what heavy-T2 tissue can be (CSF is 2-4.5
    # times brighter); the lower Otsu threshold may fall above the tissue peak when tissue is
    # dark (CSF:tissue 4:1), or inside the CSF peak when the field is mostly fluid
    lower = ~upper & (centres > TISSUE_RANGE[0] * csf) & (centres < TISSUE_RANGE[1] * csf)
    noise = _peak_width(hist, centres, csf_bin)
    if not lower.any():
        return IntensityReference(csf, thr / 2, noise, thr)  # no tissue anchor: CSF alone
    tissue = float(centres[np.nonzero(lower)[0][np.argmax(hist[lower])]])
    return IntensityReference(csf, tissue, noise, thr, tissue_to=T2_TISSUE_LEVEL)


#: Where brain tissue lies on the normalised T2 scale (CSF 1.0): CISS, FIESTA and SPACE show
#: CSF 2.5-4 times as bright as brain tissue; the analysis' T2 levels are set for this one.
T2_TISSUE_LEVEL = 0.38
#: Where a heavy-T2 tissue peak is looked for, as fractions of the CSF peak.
TISSUE_RANGE = (0.1, 0.6)
#: Where brain tissue lies on the normalised TOF scale (arteries 1.0): stationary tissue is
#: about a quarter as bright as inflowing arterial blood on 3-D TOF, and the analysis' TOF
#: thresholds (a nerve's path pays from 0.3 on, a vessel is arterial from 0.42) sit above it.
TOF_TISSUE_LEVEL = 0.25


def tof_reference(
    data: np.ndarray, *, mask: np.ndarray | None = None, tissue_mask: np.ndarray | None = None
) -> IntensityReference:
    """Arterial and background levels of a TOF angiogram.

    Without ``tissue_mask``, the background tissue level is the histogram mode and the arterial
    level the 99.9th percentile of the voxels (arteries fill well under 1% of a TOF slab), never
    below twice the background; the image is then scaled so that arteries are 1.0.

    With ``tissue_mask`` (voxels known to be stationary tissue, e.g. the inside of the
    brainstem) the levels are read from the case's own classes: tissue is the median over the
    mask, the arterial level the 90th percentile of the bright tail of ``mask`` (voxels more
    than half way from tissue to the 99.95th percentile: the arteries' cores), and
    normalising maps tissue to `TOF_TISSUE_LEVEL` and arteries to 1.0 -- so that the same
    thresholds hold whatever the scanner's inflow contrast and whatever the share of CSF,
    tissue and vessel in ``mask``.

    Parameters
    ----------
    data : (I, J, K) ndarray
        The TOF image in scanner units.
    mask : (I, J, K) bool ndarray, optional
        Only these voxels count (the region the arteries are looked for in).
    tissue_mask : (I, J, K) bool ndarray, optional
        Stationary tissue; needs at least 200 voxels, else it is ignored.

    Returns
    -------
    IntensityReference
        ``csf`` holds the arterial level (it maps to 1.0).
    """
    if tissue_mask is not None and int(np.count_nonzero(tissue_mask)) >= 200:
        return _tof_reference_from_tissue(data, mask, tissue_mask)
    vals = np.asarray(data[mask], np.float32) if mask is not None else sample_values(data)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        raise InvalidVolumeError("the TOF image holds no finite values")
    hi = float(np.percentile(vals, 99.95))
    if not hi > 0:
        raise InvalidVolumeError("the TOF image holds no positive values")
    body = vals[vals > 0.02 * hi]
    hist, centres = _histogram(body, 0.0, hi)
    mode = int(np.argmax(hist))
    tissue = float(centres[mode])
    noise = _peak_width(hist, centres, mode)
    artery = max(float(np.percentile(vals, 99.9)), 2.0 * tissue)
    return IntensityReference(artery, tissue, noise, 0.5 * (artery + tissue))


def _tof_reference_from_tissue(
    data: np.ndarray, mask: np.ndarray | None, tissue_mask: np.ndarray
) -> IntensityReference:
    tis = np.asarray(data[tissue_mask], np.float32)
    tis = tis[np.isfinite(tis)]
    vals = np.asarray(data[mask], np.float32) if mask is not None else sample_values(data)
    vals = vals[np.isfinite(vals)]
    if tis.size == 0 or vals.size == 0:
        raise InvalidVolumeError("the TOF image holds no finite values")
    tissue = float(np.median(tis))
    noise = float(1.4826 * np.median(np.abs(tis - tissue)))
    hi = float(np.percentile(vals, 99.95))
    tail = vals[vals > tissue + 0.5 * (hi - tissue)]
    # the bright core of the arteries, not their partial-volume rim
    artery = float(np.percentile(tail, 90)) if tail.size else hi
    # no artery in the region (or none brighter than tissue): keep a sane scale
    artery = max(artery, 2.0 * tissue, tissue + 6.0 * noise, tissue + 1e-6)
    return IntensityReference(
        artery, tissue, noise, 0.5 * (artery + tissue), tissue_to=TOF_TISSUE_LEVEL
    )
