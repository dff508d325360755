"""The printable case report: a vector PDF with real text, and a PNG preview of its first page.

One layout, two renderers. `_build_layout` places every element of the report on A4 pages in
millimetres (text, rules, filled boxes, circles and the key images); `_write_pdf` draws it with
fpdf2 (text stays text: a reader can search and copy it, ``pdftotext`` extracts it) and
`render_case_report` draws the first page with Pillow at `DPI` for the PNG preview.

What the report holds, in reading order:

* on every page, while any proposal is unreviewed (a finding of origin ``auto``), the banner
  "DRAFT -- contains unreviewed proposals";
* the case: pseudonym, reviewer (the ``reviewer`` argument, else the findings' authors) and
  review time (the latest change of a reviewed finding), the series (description, voxel size,
  grid) and the clinical record; patient lines (name, ID, dates of the study) only when the
  caller passes ``patient`` (``include_phi`` in `nvc_viewer.export.export_case`);
* what the analysis identified, per side and nerve (found / not identified, with the reason and
  the confidence) and the case warnings;
* the key images: confirmed and surgeon-drawn findings first, then unreviewed proposals, marked
  as such; rejected proposals are not shown. Each image is an axial slice through the finding
  wide enough for both sides of the brainstem: the T2 in grey, the TOF in red over it, the
  outline of the label map in the label table's colours (`nvc_viewer.labels`). Without a
  finding to show, one image through the root exit zones (the landmarks) is shown;
* the findings table (same numbers as the key images) and the rejected proposals.

Images are in the viewer's convention (docs/design.md, section 2): radiological, the patient's
left on the image's right, anterior up. The slice is the T2's own nearest axial plane on the
display grid (`nvc_viewer.geometry.to_display`), so an oblique acquisition is shown along it;
the TOF and the label map are sampled onto that plane through their exact affines.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..atomic import atomic_path
from ..errors import ExportError
from ..findings import CaseFindings, Finding
from ..geometry import apply_affine, to_display
from ..labels import BRAINSTEM, LABELS
from ..volume import Volume

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["render_case_report", "write_case_report", "PAGE_SIZE_PX", "DPI", "PAGE_SIZE_MM"]

#: Resolution of the PNG preview.
DPI = 150
#: A4 portrait, mm.
PAGE_SIZE_MM = (210.0, 297.0)
#: A4 portrait at `DPI` (the PNG preview of page 1).
PAGE_SIZE_PX = (1240, 1754)

_MARGIN = 12.0
_CONTENT_W = PAGE_SIZE_MM[0] - 2 * _MARGIN
_BOTTOM = PAGE_SIZE_MM[1] - 16.0  # the footer lives below
#: Field of view of a key image (left-right x anterior-posterior, mm): both sides of the pons.
_FOV_MM = (64.0, 40.0)
#: Field of view of the close-up beside it, centred on the finding (same aspect).
_ZOOM_FOV_MM = (24.0, 15.0)
#: Raster width of a key image, pixels.
_RASTER_W = 512
_PANEL_GAP = 6.0
_PANEL_W = (_CONTENT_W - _PANEL_GAP) / 2
_PANEL_H = _PANEL_W * _FOV_MM[1] / _FOV_MM[0]
#: Key images at most (the table lists every finding).
_MAX_VIEWS = 6
#: Case warnings printed in full (the rest are counted).
_MAX_WARNINGS = 8

RGB = tuple[int, int, int]
_BLACK: RGB = (0, 0, 0)
_GREY: RGB = (95, 95, 95)
_LIGHT: RGB = (225, 225, 225)
_WHITE: RGB = (255, 255, 255)
_DRAFT_RED: RGB = (190, 20, 30)
_WARN: RGB = (160, 30, 0)
_OK_GREEN: RGB = (20, 110, 40)
_ORANGE: RGB = (190, 100, 0)
_MARKER: RGB = (0, 235, 255)
_OVERLAY: RGB = (255, 255, 255)
_TAB: RGB = (25, 25, 25)
_TOF_RED = np.array([255.0, 35.0, 35.0])

_DRAFT_TEXT = "DRAFT \u2014 contains unreviewed proposals"

_STATUS = {
    "auto-confirmed": "confirmed",
    "manual": "surgeon (manual)",
    "auto": "UNREVIEWED proposal",
    "auto-rejected": "rejected",
}
_SIDE_NAME = {"left": "Left", "right": "Right"}


# -- layout elements (mm, origin at the page's top-left corner) -------------------------------
@dataclass(frozen=True)
class _Text:
    """One line of text in the box (x, y, w, h), vertically centred."""

    x: float
    y: float
    w: float
    h: float
    text: str
    size: float = 9.0  # points
    bold: bool = False
    colour: RGB = _BLACK
    align: str = "L"  # "L", "C" or "R"


@dataclass(frozen=True)
class _Rect:
    x: float
    y: float
    w: float
    h: float
    fill: RGB | None = None
    stroke: RGB | None = None
    width: float = 0.2


@dataclass(frozen=True)
class _Line:
    x1: float
    y1: float
    x2: float
    y2: float
    colour: RGB = _BLACK
    width: float = 0.2


@dataclass(frozen=True)
class _Circle:
    cx: float
    cy: float
    r: float
    colour: RGB = _MARKER
    width: float = 0.4


@dataclass(frozen=True)
class _Picture:
    x: float
    y: float
    w: float
    h: float
    image: Any  # PIL.Image.Image, RGB


_Op = _Text | _Rect | _Line | _Circle | _Picture


def _clean(text: object) -> str:
    """Printable in the PDF core fonts (Windows-1252); control characters dropped."""
    s = re.sub(r"[\x00-\x1f\x7f]+", " ", str(text))
    return s.encode("cp1252", "replace").decode("cp1252")


def _new_fpdf():  # type: ignore[no-untyped-def]
    from fpdf import FPDF

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_auto_page_break(False)
    pdf.c_margin = 0
    return pdf


class _Layout:
    """Pages of `_Op` filled top to bottom, with page breaks, wrapping and tables."""

    def __init__(self, banner: str | None, running_head: str) -> None:
        self.pages: list[list[_Op]] = []
        self.banner = banner
        self.running_head = running_head
        self.y = _MARGIN
        self._measure = _new_fpdf()
        self.new_page()

    # measuring and wrapping with the PDF fonts' own metrics
    def width(self, text: str, size: float, bold: bool = False) -> float:
        self._measure.set_font("helvetica", "B" if bold else "", size)
        return float(self._measure.get_string_width(_clean(text)))

    def wrap(self, text: str, width: float, size: float, bold: bool = False) -> list[str]:
        lines: list[str] = []
        for para in _clean(text).split("\n"):
            line = ""
            for word in para.split(" "):
                trial = f"{line} {word}" if line else word
                if self.width(trial, size, bold) <= width or not line:
                    line = trial
                else:
                    lines.append(line)
                    line = word
                while self.width(line, size, bold) > width and len(line) > 1:  # a long word
                    cut = len(line) - 1
                    while cut > 1 and self.width(line[:cut], size, bold) > width:
                        cut -= 1
                    lines.append(line[:cut])
                    line = line[cut:]
            lines.append(line)
        return lines

    # pages
    @property
    def ops(self) -> list[_Op]:
        return self.pages[-1]

    def new_page(self) -> None:
        self.pages.append([])
        self.y = _MARGIN
        if self.banner:
            self.ops.append(_Rect(_MARGIN, self.y, _CONTENT_W, 9.0, fill=_DRAFT_RED))
            self.ops.append(
                _Text(_MARGIN, self.y, _CONTENT_W, 9.0, self.banner, 12, True, _WHITE, "C")
            )
            self.y += 12.0
        if len(self.pages) > 1:
            self.ops.append(_Text(_MARGIN, self.y, _CONTENT_W, 4.5, self.running_head, 8,
                                  colour=_GREY))  # fmt: skip
            self.y += 7.0

    def need(self, height: float) -> None:
        """Start a new page unless ``height`` mm fit below the cursor."""
        if self.y + height > _BOTTOM:
            self.new_page()

    # blocks
    def heading(self, text: str, keep_with: float = 12.0) -> None:
        self.need(8.0 + keep_with)
        self.y += 1.5
        self.ops.append(_Text(_MARGIN, self.y, _CONTENT_W, 6.0, text, 11.5, True))
        self.y += 6.2
        self.ops.append(_Line(_MARGIN, self.y, _MARGIN + _CONTENT_W, self.y, _GREY, 0.25))
        self.y += 1.8

    def paragraph(
        self,
        text: str,
        *,
        size: float = 9.0,
        bold: bool = False,
        colour: RGB = _BLACK,
        indent: float = 0.0,
        bullet: str | None = None,
    ) -> None:
        lh = size * 0.46
        x = _MARGIN + indent + (3.5 if bullet else 0.0)
        for n, line in enumerate(self.wrap(text, _MARGIN + _CONTENT_W - x, size, bold)):
            self.need(lh)
            if bullet and n == 0:
                self.ops.append(_Text(x - 3.5, self.y, 3.5, lh, bullet, size, bold, colour))
            self.ops.append(_Text(x, self.y, _MARGIN + _CONTENT_W - x, lh, line, size, bold,
                                  colour))  # fmt: skip
            self.y += lh

    def fields(self, rows: Sequence[tuple[str, str]], key_w: float = 30.0) -> None:
        """Key: value lines, values wrapped in their column."""
        size, lh = 9.0, 4.3
        for key, value in rows:
            lines = self.wrap(value, _CONTENT_W - key_w, size)
            self.need(lh * len(lines))
            self.ops.append(_Text(_MARGIN, self.y, key_w, lh, key, size, True))
            for line in lines:
                self.ops.append(_Text(_MARGIN + key_w, self.y, _CONTENT_W - key_w, lh, line,
                                      size))  # fmt: skip
                self.y += lh

    def table(
        self,
        columns: Sequence[tuple[str, float]],
        rows: Sequence[tuple[Sequence[str], RGB]],
        *,
        size: float = 8.0,
    ) -> None:
        """A table with a grey header row, repeated on every page it spans."""
        lh = size * 0.45
        pad = 1.0
        widths = [w for _, w in columns]

        def header() -> None:
            heads = [self.wrap(t, w - 2 * pad, size, True) for t, w in columns]
            h = max(len(c) for c in heads) * lh + 2 * pad
            self.ops.append(_Rect(_MARGIN, self.y, sum(widths), h, fill=_LIGHT))
            x = _MARGIN
            for lines, w in zip(heads, widths):
                for k, line in enumerate(lines):
                    self.ops.append(_Text(x + pad, self.y + pad + k * lh, w - 2 * pad, lh, line,
                                          size, True))  # fmt: skip
                x += w
            self.y += h

        wrapped = [
            ([self.wrap(c, w - 2 * pad, size) for c, w in zip(cells, widths)], colour)
            for cells, colour in rows
        ]
        first_h = (max(len(c) for c in wrapped[0][0]) * lh + 2 * pad) if wrapped else 0.0
        self.need(4 * lh + 2 * pad + first_h)
        header()
        for cells, colour in wrapped:
            h = max(len(c) for c in cells) * lh + 2 * pad
            if self.y + h > _BOTTOM:
                self.new_page()
                header()
            x = _MARGIN
            for lines, w in zip(cells, widths):
                for k, line in enumerate(lines):
                    self.ops.append(_Text(x + pad, self.y + pad + k * lh, w - 2 * pad, lh, line,
                                          size, colour=colour))  # fmt: skip
                x += w
            self.y += h
            self.ops.append(_Line(_MARGIN, self.y, _MARGIN + sum(widths), self.y, _LIGHT, 0.2))

    def finish(self, footer: str) -> list[list[_Op]]:
        n = len(self.pages)
        for k, ops in enumerate(self.pages, start=1):
            y = PAGE_SIZE_MM[1] - 11.0
            ops.append(_Line(_MARGIN, y, _MARGIN + _CONTENT_W, y, _LIGHT, 0.2))
            ops.append(_Text(_MARGIN, y + 1.0, _CONTENT_W - 22, 4.0, footer, 7, colour=_GREY))
            ops.append(_Text(_MARGIN + _CONTENT_W - 22, y + 1.0, 22, 4.0, f"page {k} of {n}", 7,
                             colour=_GREY, align="R"))  # fmt: skip
        return self.pages


# -- key images -------------------------------------------------------------------------------
def _window(data: np.ndarray, lo_pct: float, hi_pct: float) -> tuple[float, float]:
    data = np.asarray(data)
    step = max(1, data.size // 200_000)
    if data.flags.c_contiguous:
        sample = data.reshape(-1)[::step].astype(np.float64)
    else:  # the same voxels, picked without copying the whole volume into C order first
        picked = np.unravel_index(np.arange(0, data.size, step), data.shape)
        sample = data[picked].astype(np.float64)
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(sample, [lo_pct, hi_pct])
    return float(lo), float(hi if hi > lo else lo + 1.0)


@dataclass
class _Imaging:
    """The volumes a key image is made of, on the T2's display grid."""

    t2: Volume
    tof: Volume | None
    labels: Volume | None
    grid: Any = field(init=False)
    t2_window: tuple[float, float] = field(init=False)
    tof_window: tuple[float, float] | None = field(init=False)

    def __post_init__(self) -> None:
        _, self.grid = to_display(self.t2)
        self.t2_window = _window(self.t2.data, 1.0, 99.5)
        # Vessels are the brightest few percent of a TOF: the red starts above the background.
        self.tof_window = _window(self.tof.data, 98.5, 99.8) if self.tof is not None else None

    def index_of(self, position_ras: Sequence[float]) -> np.ndarray:
        """Patient RAS mm -> fractional display index (s, p, l)."""
        return apply_affine(np.linalg.inv(self.grid.affine_ras), np.asarray(position_ras, float))

    def sample(self, volume: Volume, s: int, p: np.ndarray, lc: np.ndarray, order: int):
        """``volume`` on display plane ``s`` at rows ``p`` x columns ``lc`` (display index)."""
        from scipy.ndimage import map_coordinates

        pp, ll = np.meshgrid(p, lc, indexing="ij")
        display_index = np.stack([np.full(pp.shape, float(s)), pp, ll, np.ones(pp.shape)])
        to_voxel = np.linalg.inv(volume.affine) @ self.grid.affine_ras
        ijk = np.tensordot(to_voxel[:3], display_index, axes=1)
        data = np.asarray(volume.data)
        if data.dtype == bool:
            data = data.astype(np.uint8)
        return map_coordinates(data, ijk, order=order, mode="constant", cval=0.0)


@dataclass(frozen=True)
class _View:
    """One key image: where, what it shows and how it is captioned."""

    number: str
    centre_ras: tuple[float, float, float]  # the finding, or the root exit zones
    midline_ras: tuple[float, float, float] | None
    title: str
    detail: str
    detail_colour: RGB = _BLACK
    unreviewed: bool = False
    marked: bool = True
    fov: tuple[float, float] = _FOV_MM


def _key_image(imaging: _Imaging, view: _View):  # type: ignore[no-untyped-def]
    """The view's raster (PIL RGB) and where things are on it.

    Returns
    -------
    (image, info) or (None, None)
        ``info``: ``s_mm`` (display S of the slice) and ``mark`` (the centre's position as a
        fraction of the image width and height). None when the point is outside the T2.
    """
    from PIL import Image

    grid = imaging.grid
    centre = imaging.index_of(view.centre_ras)
    s = int(round(centre[0]))
    if np.any(centre < -0.5) or np.any(centre > np.asarray(grid.shape) - 0.5):
        return None, None
    sp, sl = float(grid.scale[1]), float(grid.scale[2])
    fov_w, fov_h = view.fov
    px_per_mm = _RASTER_W / fov_w
    # Left-right: centred on the midline, so that both sides show, but the point stays inside.
    cl = centre[2]
    if view.midline_ras is not None:
        mid = imaging.index_of(view.midline_ras)[2]
        reach = (fov_w / 2 - 6.0) / sl
        cl = float(np.clip(mid, centre[2] - reach, centre[2] + reach))
    cp = centre[1]
    w_px, h_px = _RASTER_W, int(round(fov_h * px_per_mm))
    # pixel centres -> display index (rows: P, anterior up; columns: L, patient left right)
    rows = cp + ((np.arange(h_px) + 0.5) / px_per_mm - fov_h / 2) / sp
    cols = cl + ((np.arange(w_px) + 0.5) / px_per_mm - fov_w / 2) / sl
    t2 = imaging.sample(imaging.t2, s, rows, cols, order=1)
    lo, hi = imaging.t2_window
    grey = np.clip((t2 - lo) / (hi - lo), 0.0, 1.0) * 255.0
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    if imaging.tof is not None and imaging.tof_window is not None:
        tof = imaging.sample(imaging.tof, s, rows, cols, order=1)
        tlo, thi = imaging.tof_window
        alpha = (np.clip((tof - tlo) / (thi - tlo), 0.0, 1.0) * 0.9)[..., None]
        rgb = rgb * (1.0 - alpha) + _TOF_RED * alpha
    if imaging.labels is not None:
        lab = np.rint(imaging.sample(imaging.labels, s, rows, cols, order=0)).astype(np.int32)
        edge = np.zeros(lab.shape, bool)
        edge[1:, :] |= lab[1:, :] != lab[:-1, :]
        edge[:-1, :] |= lab[:-1, :] != lab[1:, :]
        edge[:, 1:] |= lab[:, 1:] != lab[:, :-1]
        edge[:, :-1] |= lab[:, :-1] != lab[:, 1:]
        edge &= lab > 0
        for value, info in LABELS.items():
            rgb[edge & (lab == value)] = info.rgb
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    s_mm = float(grid.index_to_display(np.array([s, 0.0, 0.0]))[0])
    mark = (
        0.5 + (centre[2] - cl) * sl / fov_w,
        0.5 + (centre[1] - cp) * sp / fov_h,
    )
    return image, {"s_mm": s_mm, "mark": mark}


def _place_view(layout: _Layout, imaging: _Imaging, view: _View, x: float, y: float) -> None:
    """The key image, its overlays and its caption at (x, y)."""
    ops = layout.ops
    w, h = _PANEL_W, _PANEL_H
    image, info = _key_image(imaging, view)
    if image is None:
        ops.append(_Rect(x, y, w, h, fill=(40, 40, 40)))
        ops.append(_Text(x, y, w, h, "outside the T2 image", 10, colour=_WHITE, align="C"))
    else:
        ops.append(_Picture(x, y, w, h, image))
        # orientation letters on dark tabs at the edges' middles (readable over bright CSF)
        for letter, lx, ly in (
            ("A", x + w / 2 - 2.5, y),
            ("P", x + w / 2 - 2.5, y + h - 5.0),
            ("R", x, y + h / 2 - 2.5),
            ("L", x + w - 5.0, y + h / 2 - 2.5),
        ):
            ops.append(_Rect(lx, ly, 5.0, 5.0, fill=_TAB))
            ops.append(_Text(lx, ly, 5.0, 5.0, letter, 10, True, _OVERLAY, "C"))
        label = f"axial S {info['s_mm']:.1f} mm"
        ops.append(_Rect(x, y, layout.width(label, 7) + 3.0, 4.5, fill=_TAB))
        ops.append(_Text(x + 1.5, y, 40, 4.5, label, 7, colour=_OVERLAY))
        bar = 10.0 if view.fov[0] > 30 else 5.0  # anatomy mm
        mm = w / view.fov[0] * bar  # on paper
        bx, by = x + w - 3.0 - mm, y + h - 3.0
        ops.append(_Rect(bx - 4.0, by - 5.0, mm + 8.0, 8.0, fill=_TAB))
        ops.append(_Line(bx, by, bx + mm, by, _OVERLAY, 0.5))
        ops.append(_Text(bx - 4, by - 4.2, mm + 8, 3.5, f"{bar:.0f} mm", 7, colour=_OVERLAY,
                         align="C"))  # fmt: skip
        if view.marked:
            mx, my = x + info["mark"][0] * w, y + info["mark"][1] * h
            if 0 <= mx - x <= w and 0 <= my - y <= h:
                ops.append(_Circle(mx, my, 2.6, _MARKER, 0.45))
                ops.append(_Text(mx + 2.4, my - 6.2, 6, 4, view.number, 9, True, _MARKER))
        if view.unreviewed:
            ops.append(_Rect(x + w - 27.5, y + 1.0, 26.5, 5.0, fill=_DRAFT_RED))
            ops.append(_Text(x + w - 27.5, y + 1.0, 26.5, 5.0, "UNREVIEWED", 8, True, _WHITE,
                             "C"))  # fmt: skip
    ty = y + h + 0.8
    for line in layout.wrap(view.title, w, 9, True)[:2]:
        ops.append(_Text(x, ty, w, 4.2, line, 9, True))
        ty += 4.2
    for line in layout.wrap(view.detail, w, 8)[:2]:
        ops.append(_Text(x, ty, w, 3.8, line, 8, colour=view.detail_colour))
        ty += 3.8


# -- content ----------------------------------------------------------------------------------
def _notes(f: Finding) -> str:
    """A finding's close-up caption: the machine's rationale, then the surgeon's note."""
    return "; ".join(t for t in (f.rationale, f"surgeon's note: {f.note}" if f.note else "") if t)


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _when(stamp: str | None) -> str:
    """An ISO 8601 time as ``YYYY-MM-DD HH:MM UTC``."""
    if not stamp:
        return "-"
    try:
        t = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _ordered(findings: Sequence[Finding]) -> tuple[list[Finding], list[Finding]]:
    """(shown, rejected): confirmed and manual findings first, then the unreviewed ones."""
    rank = {"auto-confirmed": 0, "manual": 0, "auto": 1}
    shown = sorted(
        (f for f in findings if f.origin != "auto-rejected"), key=lambda f: rank[f.origin]
    )
    return shown, [f for f in findings if f.origin == "auto-rejected"]


def _status(f: Finding) -> str:
    status = _STATUS[f.origin]
    return f"{status} ({f.author})" if f.author and f.origin != "auto" else status


def _midline(case: CaseFindings, t2: Volume, labels: Volume | None) -> float:
    """RAS x of the brainstem midline: between the two sides' landmarks, else the brainstem's
    centre in the label map, else the T2's centre."""
    sides = {
        side: [lm.position_ras[0] for lm in case.landmarks if lm.side == side]
        for side in ("left", "right")
    }
    if sides["left"] and sides["right"]:
        return float((np.mean(sides["left"]) + np.mean(sides["right"])) / 2)
    if labels is not None:
        idx = np.argwhere(np.asarray(labels.data) == BRAINSTEM)
        if len(idx):
            return float(labels.ras_of(idx.mean(axis=0))[0])
    return float(t2.ras_of((np.asarray(t2.shape) - 1) / 2.0)[0])


def _series_line(volume: Volume, kind: str) -> str:
    sx, sy, sz = (float(v) for v in volume.spacing_mm)
    nx, ny, nz = volume.shape
    desc = volume.meta.description or "(no description)"
    return f"{desc} ({kind}); voxel {sx:.2f} x {sy:.2f} x {sz:.2f} mm; grid {nx} x {ny} x {nz}"


def _identification_rows(case: CaseFindings) -> list[tuple[list[str], RGB]]:
    by = {(i.side, i.nerve): i for i in case.identification}
    rows = []
    for nerve in ("V", "VII", "VIII"):
        cells = [f"CN {nerve}"]
        worst = _OK_GREEN
        for side in ("right", "left"):
            ident = by.get((side, nerve))
            if ident is None:
                cells.append("not assessed")
                continue
            if not ident.found:
                cells.append(
                    f"NOT IDENTIFIED: {ident.reason or 'no evidence'} "
                    f"(confidence {ident.confidence:.2f})"
                )
                worst = _WARN
            elif ident.uncertain:
                cells.append(
                    f"found, name uncertain (confidence {ident.confidence:.2f})"
                    + (f": {ident.reason}" if ident.reason else "")
                )
                worst = _WARN if worst == _WARN else _ORANGE
            else:
                cells.append(f"found (confidence {ident.confidence:.2f})")
        rows.append((cells, worst))
    return rows


def _build_layout(
    case: CaseFindings,
    t2: Volume,
    *,
    tof: Volume | None,
    labels: Volume | None,
    patient: Mapping[str, str] | None,
    reviewer: str | None,
    generated: str | None,
) -> list[list[_Op]]:
    from .. import __version__

    if not isinstance(case, CaseFindings):
        raise ExportError(f"case must be a CaseFindings; got {type(case).__name__}")
    if not isinstance(t2, Volume):
        raise ExportError(f"t2 must be a Volume; got {type(t2).__name__}")
    for name, vol in (("tof", tof), ("labels", labels)):
        if vol is not None and not isinstance(vol, Volume):
            raise ExportError(f"{name} must be a Volume or None; got {type(vol).__name__}")

    shown, rejected = _ordered(case.findings)
    unreviewed = [f for f in case.findings if f.origin == "auto"]
    banner = None
    if unreviewed:
        banner = f"{_DRAFT_TEXT} ({len(unreviewed)} of {len(case.findings)} not reviewed)"
    layout = _Layout(banner, f"Neurovascular compression report, case {case.case_id}")

    # -- title and the case ---------------------------------------------------------------------
    ops = layout.ops
    ops.append(_Text(_MARGIN, layout.y, 120, 8, "Neurovascular compression report", 16, True))
    ops.append(_Text(_MARGIN + 100, layout.y, _CONTENT_W - 100, 8, f"Case {case.case_id}", 14,
                     True, align="R"))  # fmt: skip
    layout.y += 10.0
    reviewed = [f for f in case.findings if f.origin != "auto"]
    authors = sorted({f.author for f in reviewed if f.author})
    who = reviewer or ", ".join(authors) or ("-" if reviewed else "not reviewed yet")
    last = max((f.modified or f.created for f in reviewed), default=None)
    kind = {"dicom": "DICOM", "nifti": "NIfTI"}.get(case.source["kind"], case.source["kind"])
    rows: list[tuple[str, str]] = [
        ("Reviewer", who),
        ("Review time", _when(last) if last else "not reviewed yet"),
        (
            "Generated",
            f"{generated or datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} "
            f"by nvc-viewer {__version__}",
        ),
        ("T2 series", _series_line(t2, kind)),
    ]
    if tof is not None:
        rows.append(("TOF series", _series_line(tof, kind)))
    else:
        roles = [s["role"] for s in case.source["series"] if s["role"] != "t2"]
        rows.append(("Other series", ", ".join(roles) + " (not shown)" if roles else "none"))
    for key, value in (patient or {}).items():
        rows.append((str(key), str(value)))
    c = case.clinical
    clinical = [
        (c.condition or "condition not entered").replace("_", " "),
        f"symptomatic side {c.symptomatic_side or '-'}",
        f"EMG lateral spread {(c.emg_lateral_spread_response or '-').replace('_', ' ')}",
    ]
    rows.append(("Clinical", "; ".join(clinical)))
    if c.note:
        rows.append(("Note", c.note))
    fl = case.flags
    flags = [
        name
        for name, on in (
            ("multiple offenders", fl.multiple_offenders),
            ("sandwich", fl.sandwich),
            ("VA tortuosity", fl.va_tortuosity),
        )
        if on
    ]
    rows.append(("Flags", ", ".join(flags) or "none"))
    counts = (
        f"{len(case.findings)} finding(s): "
        f"{sum(f.origin == 'auto-confirmed' for f in case.findings)} confirmed, "
        f"{sum(f.origin == 'manual' for f in case.findings)} drawn by a surgeon, "
        f"{len(unreviewed)} unreviewed, {len(rejected)} rejected"
    )
    rows.append(("Findings", counts))
    layout.fields(rows)

    # -- what the analysis identified -----------------------------------------------------------
    layout.heading("Identification (per side)")
    if case.identification:
        layout.table(
            [("Nerve", 16.0), ("Right", (_CONTENT_W - 16) / 2), ("Left", (_CONTENT_W - 16) / 2)],
            _identification_rows(case),
        )
    else:
        layout.paragraph(
            "Not recorded: the findings file predates the identification summary, so what was "
            "or was not identified is unknown (not 'nothing found').",
            colour=_GREY,
        )
    if case.warnings:
        layout.y += 1.5
        layout.paragraph("Warnings", bold=True, colour=_WARN)
        for w in case.warnings[:_MAX_WARNINGS]:
            layout.paragraph(w, colour=_WARN, bullet="-")
        if len(case.warnings) > _MAX_WARNINGS:
            more = len(case.warnings) - _MAX_WARNINGS
            layout.paragraph(f"+{more} more warning(s) in findings.json", colour=_WARN)

    # -- key images -----------------------------------------------------------------------------
    imaging = _Imaging(t2, tof, labels)
    midline_x = _midline(case, t2, labels)
    views: list[tuple[_View, _View | None]] = []  # rows: the plane, the close-up
    for n, f in enumerate(shown[:_MAX_VIEWS], start=1):
        side = _SIDE_NAME[f.side]
        title = (
            f"{n}. {side} {f.nerve} \u2014 {f.vessel} ({f.vessel_kind}), {f.grade} at {f.segment}"
        )
        measures = (
            f"{_num(f.distance_from_brainstem_mm)} mm along the nerve from the RDP, vessel "
            f"{_num(f.vessel_diameter_mm)} mm, crossing {_num(f.crossing_angle_deg, 0)} deg"
        )
        if f.origin == "auto":
            detail = f"UNREVIEWED proposal, confidence {f.confidence:.2f}; {measures}"
            colour = _DRAFT_RED
        else:
            detail = f"{_status(f)}; {measures}"
            colour = _BLACK
        mid = (midline_x, f.position_ras[1], f.position_ras[2])
        auto = f.origin == "auto"
        zoom = _View(str(n), f.position_ras, None, f"{n}. close-up, {_ZOOM_FOV_MM[0]:.0f} mm "
                     "wide", _notes(f), _GREY, auto, fov=_ZOOM_FOV_MM)  # fmt: skip
        views.append((_View(str(n), f.position_ras, mid, title, detail, colour, auto), zoom))
    if not views:
        rez = [lm.position_ras for lm in case.landmarks if lm.name in ("RExP", "RDP")]
        rez = rez or [lm.position_ras for lm in case.landmarks]
        if rez:
            centre = tuple(float(v) for v in np.mean(rez, axis=0))
            title = "Root exit zones (no finding to show)"
        else:
            centre = tuple(float(v) for v in t2.ras_of((np.asarray(t2.shape) - 1) / 2.0))
            title = "Volume centre (no finding, no landmark)"
        detail = "plane through the landmarks" if rez else "no landmark recorded"
        mid = (midline_x, centre[1], centre[2])
        plane = _View("", centre, mid, title, detail, _GREY, marked=False)  # type: ignore[arg-type]
        views.append((plane, None))
    layout.heading("Key images", keep_with=_PANEL_H + 14)
    legend = (
        "Axial, radiological: the patient's left on the image's right, anterior up. T2 in grey, "
        + ("TOF in red, " if tof is not None else "no TOF given, ")
        + ("outlines of the segmentation" if labels is not None else "no segmentation given")
        + "; cyan circle: the finding."
    )
    layout.paragraph(legend, size=7.5, colour=_GREY)
    x = _MARGIN
    for info in LABELS.values():  # one swatch per label colour
        name = info.display_name
        layout.ops.append(_Rect(x, layout.y + 0.8, 2.6, 2.6, fill=info.rgb, stroke=_GREY))
        layout.ops.append(_Text(x + 3.4, layout.y, 40, 4.2, name, 7.5, colour=_GREY))
        x += 3.4 + layout.width(name, 7.5) + 4.0
    layout.y += 6.0
    row_h = _PANEL_H + 14.0
    for plane, close_up in views:
        layout.need(row_h)
        _place_view(layout, imaging, plane, _MARGIN, layout.y)
        if close_up is not None:
            _place_view(layout, imaging, close_up, _MARGIN + _PANEL_W + _PANEL_GAP, layout.y)
        layout.y += row_h
    if len(shown) > _MAX_VIEWS:
        layout.paragraph(f"+{len(shown) - _MAX_VIEWS} more finding(s): see the table.")

    # -- the findings table ---------------------------------------------------------------------
    columns = [
        ("#", 6.0),
        ("Status", 34.0),
        ("Side", 11.0),
        ("Nerve", 11.0),
        ("Vessel", 28.0),
        ("Segment", 17.0),
        ("Grade", 21.0),
        ("Dist. mm", 16.0),
        ("Vessel diam. mm", 16.0),
        ("Angle deg", 13.0),
        ("Conf.", 13.0),
    ]

    def cells(n: str, f: Finding) -> list[str]:
        return [
            n,
            _status(f),
            f.side,
            f.nerve,
            f"{f.vessel} ({f.vessel_kind})",
            f.segment,
            f.grade,
            _num(f.distance_from_brainstem_mm),
            _num(f.vessel_diameter_mm),
            _num(f.crossing_angle_deg, 0),
            f"{f.confidence:.2f}",
        ]

    layout.heading("All findings")
    if shown:
        layout.table(
            columns,
            [
                (cells(str(n), f), _DRAFT_RED if f.origin == "auto" else _BLACK)
                for n, f in enumerate(shown, start=1)
            ],
        )
    else:
        layout.paragraph("No finding stands (none recorded, or every proposal was rejected).")
    if rejected:
        layout.y += 2.0
        layout.paragraph(
            "Rejected proposals (not shown in the key images)", bold=True, colour=_GREY
        )
        layout.table(columns, [(cells("-", f), _GREY) for f in rejected])
    layout.y += 2.0
    layout.paragraph(
        "Dist.: along the nerve from the root detachment point (RDP), negative on the attached "
        "segment. Positions in patient RAS mm. Only findings confirmed or drawn by a surgeon "
        "should guide surgery; an unreviewed proposal is the software's suggestion.",
        size=7.5,
        colour=_GREY,
    )
    if labels is not None:
        _both_sides(layout, case, labels)
    return layout.finish(f"nvc-viewer {__version__} \u00b7 case {case.case_id}")


def _both_sides(layout: _Layout, case: CaseFindings, labels: Volume) -> None:
    """The "Both sides" table: left and right of each nerve side by side (`nvc_viewer.compare`)."""
    from ..compare import compare_case, comparison_rows

    rows = comparison_rows(compare_case(labels, case))
    layout.y += 2.0
    layout.heading("Both sides")
    head, body = rows[0], rows[1:]
    columns = [("", 34.0), (head[1], (_CONTENT_W - 34.0) / 2), (head[2], (_CONTENT_W - 34.0) / 2)]
    layout.table(columns, [(list(r), _BLACK) for r in body])
    layout.y += 2.0
    layout.paragraph(
        "Per REZ segment the nearest vessel: from the findings on it, else measured on the label "
        "map (surface gap in mm, or contact). Distances along the nerve; calibre: median "
        "diameter of the free cisternal root.",
        size=7.5,
        colour=_GREY,
    )


# -- renderers --------------------------------------------------------------------------------
@lru_cache(maxsize=32)
def _pil_font(px: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    return ImageFont.load_default(size=px)


def _draw_png(ops: Sequence[_Op], dpi: int = DPI):  # type: ignore[no-untyped-def]
    """One page with Pillow."""
    from PIL import Image, ImageDraw

    k = dpi / 25.4
    size = (int(round(PAGE_SIZE_MM[0] * k)), int(round(PAGE_SIZE_MM[1] * k)))
    page = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(page)
    for op in ops:
        if isinstance(op, _Picture):
            w, h = int(round(op.w * k)), int(round(op.h * k))
            page.paste(op.image.resize((w, h), Image.Resampling.BILINEAR),
                       (int(round(op.x * k)), int(round(op.y * k))))  # fmt: skip
        elif isinstance(op, _Rect):
            box = (op.x * k, op.y * k, (op.x + op.w) * k, (op.y + op.h) * k)
            draw.rectangle(box, fill=op.fill, outline=op.stroke,
                           width=max(1, round(op.width * k)) if op.stroke else 0)  # fmt: skip
        elif isinstance(op, _Line):
            draw.line((op.x1 * k, op.y1 * k, op.x2 * k, op.y2 * k), fill=op.colour,
                      width=max(1, round(op.width * k)))  # fmt: skip
        elif isinstance(op, _Circle):
            box = ((op.cx - op.r) * k, (op.cy - op.r) * k, (op.cx + op.r) * k, (op.cy + op.r) * k)
            draw.ellipse(box, outline=op.colour, width=max(1, round(op.width * k)))
        elif isinstance(op, _Text):
            font = _pil_font(max(6, int(round(op.size * dpi / 72 * 0.92))))
            anchor, x = {"L": ("lm", op.x), "C": ("mm", op.x + op.w / 2),
                         "R": ("rm", op.x + op.w)}[op.align]  # fmt: skip
            text = _clean(op.text).replace("\u2014", "-")  # not in Pillow's default font
            draw.text((x * k, (op.y + op.h / 2) * k), text, fill=op.colour,
                      font=font, anchor=anchor, stroke_width=1 if op.bold else 0,
                      stroke_fill=op.colour)  # fmt: skip
    return page


def _write_pdf(pages: Sequence[Sequence[_Op]], path: str | os.PathLike[str], case_id: str) -> None:
    """Every page with fpdf2: text as text, rules and marks as vectors, images embedded."""
    pdf = _new_fpdf()
    pdf.set_title(f"nvc-viewer report {case_id}")
    pdf.set_subject("Neurovascular compression findings")
    pdf.set_creator("nvc-viewer")
    for ops in pages:
        pdf.add_page()
        for op in ops:
            if isinstance(op, _Picture):
                pdf.image(op.image, x=op.x, y=op.y, w=op.w, h=op.h)
            elif isinstance(op, _Rect):
                style = ("F" if op.fill else "") + ("D" if op.stroke else "")
                if op.fill:
                    pdf.set_fill_color(*op.fill)
                if op.stroke:
                    pdf.set_draw_color(*op.stroke)
                    pdf.set_line_width(op.width)
                pdf.rect(op.x, op.y, op.w, op.h, style=style or "D")
            elif isinstance(op, _Line):
                pdf.set_draw_color(*op.colour)
                pdf.set_line_width(op.width)
                pdf.line(op.x1, op.y1, op.x2, op.y2)
            elif isinstance(op, _Circle):
                pdf.set_draw_color(*op.colour)
                pdf.set_line_width(op.width)
                pdf.ellipse(op.cx - op.r, op.cy - op.r, 2 * op.r, 2 * op.r, style="D")
            elif isinstance(op, _Text):
                pdf.set_font("helvetica", "B" if op.bold else "", op.size)
                pdf.set_text_color(*op.colour)
                pdf.set_xy(op.x, op.y)
                pdf.cell(op.w, op.h, _clean(op.text), align=op.align)
    pdf.output(str(path))


# -- public -----------------------------------------------------------------------------------
def render_case_report(
    case: CaseFindings,
    t2: Volume,
    *,
    patient: Mapping[str, str] | None = None,
    generated: str | None = None,
    tof: Volume | None = None,
    labels: Volume | None = None,
    reviewer: str | None = None,
) -> PILImage.Image:
    """Draw the report's first page (the PNG preview).

    Parameters
    ----------
    case : CaseFindings
    t2 : Volume
        The T2 volume the findings were made on.
    patient : mapping, optional
        Identifying lines to print (e.g. ``{"Patient": "DOE^JANE", "Study date": ...}``); only
        when the user asked for PHI.
    generated : str, optional
        Timestamp to print; default now (UTC).
    tof : Volume, optional
        The TOF angiogram, drawn in red over the T2.
    labels : Volume, optional
        The label map (values of the label table), drawn as outlines.
    reviewer : str, optional
        Who reviewed the case; default the authors of the reviewed findings.

    Returns
    -------
    PIL.Image.Image
        RGB, `PAGE_SIZE_PX`.
    """
    pages = _build_layout(case, t2, tof=tof, labels=labels, patient=patient, reviewer=reviewer,
                          generated=generated)  # fmt: skip
    return _draw_png(pages[0])


def write_case_report(
    case: CaseFindings,
    t2: Volume,
    png_path: str | os.PathLike[str] | None,
    pdf_path: str | os.PathLike[str] | None = None,
    *,
    patient: Mapping[str, str] | None = None,
    tof: Volume | None = None,
    labels: Volume | None = None,
    reviewer: str | None = None,
    generated: str | None = None,
) -> list[Path]:
    """Write the report: the PDF (every page, vector text) and/or the PNG of page 1 (atomic).

    Parameters
    ----------
    case : CaseFindings
    t2 : Volume
    png_path, pdf_path : path-like or None
        Where to write; ``None`` skips that format.
    patient : mapping, optional
        Identifying lines to print (only with the user's consent to PHI).
    tof, labels : Volume, optional
        The TOF and the label map of the key images.
    reviewer : str, optional
        Who reviewed the case; default the authors of the reviewed findings.
    generated : str, optional
        Timestamp to print; default now (UTC).

    Returns
    -------
    list of Path
        The files written.
    """
    pages = _build_layout(case, t2, tof=tof, labels=labels, patient=patient, reviewer=reviewer,
                          generated=generated)  # fmt: skip
    written = []
    if png_path is not None:
        with atomic_path(png_path) as tmp:
            # zlib level 3: the same pixels, half the time of the default 6, 6 % more bytes
            _draw_png(pages[0]).save(tmp, format="PNG", dpi=(DPI, DPI), compress_level=3)
        written.append(Path(png_path))
    if pdf_path is not None:
        with atomic_path(pdf_path) as tmp:
            _write_pdf(pages, tmp, case.case_id)
        written.append(Path(pdf_path))
    return written
