"""A one-page printable case report (PNG and PDF): key views and the findings table.

The page is A4 portrait at 150 dpi (1240 x 1754 pixels), drawn with Pillow. Key views are axial
slices of the T2 volume through each finding's contact point (at most six; the table lists all),
shown in the viewer's convention -- anterior up, the patient's left on the right (radiological) --
cropped to a 40 mm field of view, with the point circled. The slice is the display grid's
(`nvc_viewer.geometry.to_display`: flips and transposes only, no interpolation), so an oblique
acquisition is shown along its nearest axial plane. Without findings, one view through the
landmarks (or the volume centre) is shown.

Nothing identifying is printed unless the caller passes ``patient`` (``include_phi`` in
`nvc_viewer.export.export_case`): the case pseudonym and the sha256 of the series UIDs only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..errors import ExportError
from ..findings import CaseFindings, Finding
from ..geometry import apply_affine, to_display
from ..volume import Volume

__all__ = ["render_case_report", "write_case_report", "PAGE_SIZE_PX", "DPI"]

DPI = 150
#: A4 portrait at `DPI`.
PAGE_SIZE_PX = (1240, 1754)
_MARGIN = 60
_PANEL_PX = 360
_FOV_MM = 40.0
_MAX_VIEWS = 6
#: Case warnings printed in full (the rest are counted).
_MAX_WARNINGS = 5
_RED = (220, 30, 40)


def _font(size: int):  # type: ignore[no-untyped-def]
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _window(volume: Volume) -> tuple[float, float]:
    data = volume.data
    step = max(1, data.size // 200_000)
    sample = np.asarray(data).reshape(-1)[::step].astype(np.float64)
    lo, hi = np.percentile(sample, [1.0, 99.5])
    return float(lo), float(hi if hi > lo else lo + 1.0)


def _axial_view(
    display: np.ndarray,
    grid,  # type: ignore[no-untyped-def]
    position_ras: Sequence[float],
    window: tuple[float, float],
    fov_mm: float,
):  # type: ignore[no-untyped-def]
    """An axial crop centred on a point: (PIL image, slice S in mm) or (None, None) outside."""
    from PIL import Image

    index = apply_affine(np.linalg.inv(grid.affine_ras), np.asarray(position_ras, dtype=float))
    s = int(round(index[0]))
    if not 0 <= s < display.shape[0]:
        return None, None
    plane = np.asarray(display[s], dtype=np.float64)
    sp, sl = float(grid.scale[1]), float(grid.scale[2])
    half_p, half_l = int(np.ceil(fov_mm / 2 / sp)), int(np.ceil(fov_mm / 2 / sl))
    cp, cl = int(round(index[1])), int(round(index[2]))
    crop = np.zeros((2 * half_p + 1, 2 * half_l + 1))
    p0, l0 = cp - half_p, cl - half_l
    src_p = slice(max(p0, 0), min(cp + half_p + 1, plane.shape[0]))
    src_l = slice(max(l0, 0), min(cl + half_l + 1, plane.shape[1]))
    if src_p.start < src_p.stop and src_l.start < src_l.stop:
        crop[src_p.start - p0 : src_p.stop - p0, src_l.start - l0 : src_l.stop - l0] = plane[
            src_p, src_l
        ]
    lo, hi = window
    grey = (np.clip((crop - lo) / (hi - lo), 0.0, 1.0) * 255).astype(np.uint8)
    img = Image.fromarray(grey, mode="L").convert("RGB")
    # Equal mm per screen pixel in both directions; the marked voxel stays at the centre.
    img = img.resize((_PANEL_PX, _PANEL_PX), Image.Resampling.BILINEAR)
    s_mm = float(grid.index_to_display(np.array([s, 0.0, 0.0]))[0])
    return img, s_mm


def _mark(draw, xy: tuple[float, float], radius: int = 10) -> None:  # type: ignore[no-untyped-def]
    x, y = xy
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), outline=_RED, width=2)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        draw.line(
            (
                x + dx * (radius + 3),
                y + dy * (radius + 3),
                x + dx * (radius + 9),
                y + dy * (radius + 9),
            ),
            fill=_RED,
            width=2,
        )


def _orientation_letters(draw, box: tuple[int, int, int, int]) -> None:  # type: ignore[no-untyped-def]
    x0, y0, x1, y1 = box
    font = _font(16)
    draw.text(((x0 + x1) / 2, y0 + 4), "A", fill=(255, 255, 0), font=font, anchor="mt")
    draw.text((x0 + 5, (y0 + y1) / 2), "R", fill=(255, 255, 0), font=font, anchor="lm")
    draw.text((x1 - 5, (y0 + y1) / 2), "L", fill=(255, 255, 0), font=font, anchor="rm")


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table_rows(findings: Sequence[Finding]) -> list[list[str]]:
    rows = []
    for n, f in enumerate(findings, start=1):
        rows.append(
            [
                str(n),
                f.side,
                f.nerve,
                f"{f.vessel} ({f.vessel_kind})",
                f.segment,
                f.grade,
                _num(f.distance_from_brainstem_mm),
                _num(f.vessel_diameter_mm),
                _num(f.crossing_angle_deg, 0),
                f"{f.confidence:.2f}",
                f.origin + (f" ({f.author})" if f.author else ""),
            ]
        )
    return rows


def render_case_report(
    case: CaseFindings,
    t2: Volume,
    *,
    patient: Mapping[str, str] | None = None,
    generated: str | None = None,
):  # type: ignore[no-untyped-def]
    """Draw the report page.

    Parameters
    ----------
    case : CaseFindings
    t2 : Volume
        The T2 volume the findings were made on.
    patient : mapping, optional
        Identifying lines to print (e.g. ``{"Patient": "DOE^JANE", "ID": ...}``); only when the
        user asked for PHI.
    generated : str, optional
        Timestamp to print; default now (UTC).

    Returns
    -------
    PIL.Image.Image
        RGB, `PAGE_SIZE_PX`.
    """
    from PIL import Image, ImageDraw

    if not isinstance(case, CaseFindings):
        raise ExportError(f"case must be a CaseFindings; got {type(case).__name__}")
    if not isinstance(t2, Volume):
        raise ExportError(f"t2 must be a Volume; got {type(t2).__name__}")
    page = Image.new("RGB", PAGE_SIZE_PX, "white")
    draw = ImageDraw.Draw(page)
    width = PAGE_SIZE_PX[0]
    y = _MARGIN
    draw.text((_MARGIN, y), "Neurovascular compression findings", fill="black", font=_font(34))
    y += 46
    when = generated or datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    draw.text(
        (_MARGIN, y),
        f"Case {case.case_id}    generated {when} by nvc-viewer",
        fill="black",
        font=_font(20),
    )
    y += 30
    series = ", ".join(
        f"{s['role']} {s['uid_sha256'][:12] if s['uid_sha256'] else 'n/a'}"
        for s in case.source["series"]
    )
    draw.text(
        (_MARGIN, y),
        f"Source: {case.source['kind']}; series (sha256): {series or '-'}",
        fill=(60, 60, 60),
        font=_font(16),
    )
    y += 26
    for key, value in (patient or {}).items():
        draw.text((_MARGIN, y), f"{key}: {value}", fill="black", font=_font(18))
        y += 24
    c = case.clinical
    clinical = (
        f"Condition: {c.condition or '-'}   symptomatic side: {c.symptomatic_side or '-'}   "
        f"EMG lateral spread: {c.emg_lateral_spread_response or '-'}"
    )
    draw.text((_MARGIN, y), clinical, fill="black", font=_font(18))
    y += 26
    fl = case.flags
    flags = (
        f"Multiple offenders: {'yes' if fl.multiple_offenders else 'no'}   "
        f"sandwich: {'yes' if fl.sandwich else 'no'}   "
        f"VA tortuosity: {'yes' if fl.va_tortuosity else 'no'}"
    )
    draw.text((_MARGIN, y), flags, fill="black", font=_font(18))
    y += 26
    # what the analysis could not establish: a nerve not identified, a name uncertain
    for w in case.warnings[:_MAX_WARNINGS]:
        draw.text((_MARGIN, y), f"Warning: {w[:150]}", fill=(170, 0, 0), font=_font(16))
        y += 22
    if len(case.warnings) > _MAX_WARNINGS:
        more = len(case.warnings) - _MAX_WARNINGS
        draw.text((_MARGIN, y), f"+{more} more warning(s) in findings.json", fill=(170, 0, 0),
                  font=_font(16))  # fmt: skip
        y += 22
    if c.note:
        draw.text((_MARGIN, y), f"Note: {c.note[:140]}", fill="black", font=_font(16))
        y += 24
    y += 10

    # -- key views ------------------------------------------------------------------------
    display, grid = to_display(t2)
    window = _window(t2)
    views: list[tuple[str, tuple[float, float, float]]] = [
        (f"#{n} {f.label}", f.position_ras) for n, f in enumerate(case.findings, start=1)
    ][:_MAX_VIEWS]
    if not views:
        if case.landmarks:
            centre = np.mean([lm.position_ras for lm in case.landmarks], axis=0)
            views = [("landmarks (no finding)", tuple(centre))]
        else:
            centre = t2.ras_of((np.asarray(t2.shape) - 1) / 2.0)
            views = [("volume centre (no finding)", tuple(centre))]
    gap = (width - 2 * _MARGIN - 3 * _PANEL_PX) // 2
    for n, (caption, position) in enumerate(views):
        col, row = n % 3, n // 3
        x0 = _MARGIN + col * (_PANEL_PX + gap)
        y0 = y + row * (_PANEL_PX + 56)
        img, s_mm = _axial_view(display, grid, position, window, _FOV_MM)
        box = (x0, y0, x0 + _PANEL_PX, y0 + _PANEL_PX)
        if img is None:
            draw.rectangle(box, outline="black")
            draw.text(
                (x0 + 10, y0 + _PANEL_PX / 2), "outside the image", fill="black", font=_font(18)
            )
        else:
            page.paste(img, (x0, y0))
            _mark(draw, (x0 + _PANEL_PX / 2, y0 + _PANEL_PX / 2))
            _orientation_letters(draw, box)
            draw.text(
                (x0 + 5, y0 + _PANEL_PX - 22),
                f"axial S {s_mm:.1f} mm, {_FOV_MM:.0f} mm",
                fill=(255, 255, 0),
                font=_font(14),
            )
        draw.text((x0, y0 + _PANEL_PX + 6), caption[:40], fill="black", font=_font(18))
    n_rows = (len(views) + 2) // 3
    y += n_rows * (_PANEL_PX + 56) + 10
    if len(case.findings) > _MAX_VIEWS:
        draw.text(
            (_MARGIN, y),
            f"+{len(case.findings) - _MAX_VIEWS} more finding(s) in the table",
            fill="black",
            font=_font(16),
        )
        y += 24

    # -- findings table ---------------------------------------------------------------------
    header = [
        "#",
        "Side",
        "Nerve",
        "Vessel",
        "Segment",
        "Grade",
        "Dist mm",
        "Diam mm",
        "Angle",
        "Conf",
        "Origin",
    ]
    widths = [30, 60, 60, 170, 90, 120, 80, 80, 60, 60, 310]
    font = _font(16)
    row_h = 24
    x = _MARGIN
    for text, w in zip(header, widths):
        draw.text((x, y), text, fill="black", font=_font(17))
        x += w
    y += row_h
    draw.line((_MARGIN, y - 3, width - _MARGIN, y - 3), fill="black", width=1)
    rows = _table_rows(case.findings)
    footer_y = PAGE_SIZE_PX[1] - _MARGIN - 40
    max_rows = max(0, (footer_y - y) // row_h)
    for r, cells in enumerate(rows[:max_rows]):
        x = _MARGIN
        colour = (120, 120, 120) if case.findings[r].origin == "auto-rejected" else (0, 0, 0)
        for text, w in zip(cells, widths):
            draw.text((x, y), text[: max(3, w // 9)], fill=colour, font=font)
            x += w
        y += row_h
    if not rows:
        draw.text((_MARGIN, y), "No finding recorded.", fill="black", font=font)
    elif len(rows) > max_rows:
        draw.text(
            (_MARGIN, y),
            f"... {len(rows) - max_rows} more in findings.csv",
            fill="black",
            font=font,
        )
    draw.text(
        (_MARGIN, footer_y),
        "Positions in patient RAS mm. Origin 'auto' = proposed by software, not yet reviewed; "
        "only confirmed findings should guide surgery.",
        fill=(60, 60, 60),
        font=_font(14),
    )
    return page


def write_case_report(
    case: CaseFindings,
    t2: Volume,
    png_path: str | os.PathLike[str] | None,
    pdf_path: str | os.PathLike[str] | None = None,
    *,
    patient: Mapping[str, str] | None = None,
) -> list[Path]:
    """Render the report page and write it as PNG and/or PDF (atomic).

    Parameters
    ----------
    case : CaseFindings
    t2 : Volume
    png_path, pdf_path : path-like or None
        Where to write; ``None`` skips that format.
    patient : mapping, optional
        Identifying lines to print (only with the user's consent to PHI).

    Returns
    -------
    list of Path
        The files written.
    """
    page = render_case_report(case, t2, patient=patient)
    written = []
    if png_path is not None:
        with atomic_path(png_path) as tmp:
            page.save(tmp, format="PNG", dpi=(DPI, DPI))
        written.append(Path(png_path))
    if pdf_path is not None:
        with atomic_path(pdf_path) as tmp:
            page.save(
                tmp,
                format="PDF",
                resolution=float(DPI),
                title=f"nvc-viewer report {case.case_id}",
                creator="nvc-viewer",
            )
        written.append(Path(pdf_path))
    return written
