"""Guess a series' role (heavy-T2 or TOF) from DICOM tags or a file name.

The vocabulary: ``ciss``, ``fiesta``, ``space``, ``drive``, ``bffe``,
``t2`` -> T2; ``tof``, ``mra``, ``angio`` -> TOF. Scanner tags add a few more (Siemens sequence
names ``*ci3d`` = CISS, ``*fl3d`` + "TOF", GE ``FIESTA``/``FIESTA-C``, Philips ``DRIVE``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..volume import Role

__all__ = ["guess_role"]

_TOF = re.compile(r"(?<![a-z])(tof|mra|angio|inhance|time.?of.?flight)", re.I)
_T2 = re.compile(
    r"(ciss|fiesta|(?<![a-z])space(?![a-z])|spc|drive|bffe|b-ffe|truefisp|true.?fisp|"
    r"\*ci3d|(?<![a-z0-9])t2(?![a-z0-9]))",
    re.I,
)
_T1 = re.compile(r"(?<![a-z0-9])(t1|mprage|mp.?rage|spgr|bravo|vibe)(?![a-z0-9])", re.I)


def guess_role(texts: Iterable[str | None]) -> Role:
    """Role of a series from its descriptive strings.

    Parameters
    ----------
    texts : iterable of str or None
        SeriesDescription, SequenceName, ProtocolName, ScanningSequence, or a file name; the
        first decisive one wins, TOF words before T2 words within one string (a "T2 TOF" is TOF).

    Returns
    -------
    {"tof", "t2", "t1", "unknown"}
    """
    for text in texts:
        if not text:
            continue
        text = str(text).replace("_", " ")
        if _TOF.search(text):
            return "tof"
        if _T2.search(text):
            return "t2"
        if _T1.search(text):
            return "t1"
    return "unknown"
