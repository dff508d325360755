"""The label table (docs/design.md, section 3): value, names, colour and coded anatomy of each
structure of the label map.

Design note
-----------
This is the one place that says which voxel value means which structure and how it is named
and coloured. The analysis and the phantom write these values; every export (NIfTI with the
ITK-SNAP / 3D Slicer label file, DICOM SEG), the napari Labels layer, the 3-D surfaces and the
report read their names and colours here, so the viewer shows a structure in the colour the
exported files give it. Cheap to import (no numpy).

Colours are chosen for a dark canvas (napari's, 3D Slicer's slice views) under a half-opaque
overlay on a bright heavy-T2: arteries red, veins violet (a dark blue would vanish on black and
be confused with the blue CSF), the three nerves yellow, mint and orange.

Codes are SNOMED CT (``SCT``) concepts as pydicom's DICOM code dictionary lists them (CID 7140 /
7151 / 7706 segmentation property types): brain stem 119238007, cerebrospinal fluid 65216001,
facial nerve 56052001, vestibulocochlear nerve 8598002, trigeminal nerve 27612005, artery 51114001,
vein 29092000. Categories: anatomical structure 91723000, body substance 91720002 (CSF).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "LabelInfo",
    "LABELS",
    "LABEL_VALUES",
    "NERVE_LABELS",
    "BACKGROUND",
    "BRAINSTEM",
    "CSF",
    "CN7",
    "CN8",
    "CN5",
    "ARTERY",
    "VEIN",
]

#: Voxel values of the uint8 label map.
BACKGROUND = 0
BRAINSTEM = 1
CSF = 2
CN7 = 3
CN8 = 4
CN5 = 5
ARTERY = 6
VEIN = 7


@dataclass(frozen=True)
class LabelInfo:
    """One structure of the label map.

    Attributes
    ----------
    value : int
        Voxel value in the uint8 label map.
    key : str
        Short machine name (DICOM SEG tracking id).
    name : str
        Human name, as the exports write it.
    display_name : str
        Lower-case name in the viewer (3-D surfaces, tooltips).
    short : str
        A word or two for a check box.
    rgb : tuple of int
        Colour, 0..255, in the viewer and in every export.
    category : tuple of str
        (code value, scheme, meaning) of the segmented property category.
    type : tuple of str
        (code value, scheme, meaning) of the segmented property type.
    nerve : str or None
        The nerve (``"V"``, ``"VII"``, ``"VIII"``) a nerve label stands for.
    """

    value: int
    key: str
    name: str
    display_name: str
    short: str
    rgb: tuple[int, int, int]
    category: tuple[str, str, str]
    type: tuple[str, str, str]
    nerve: str | None = None

    @property
    def hex(self) -> str:
        """The colour as ``"#rrggbb"``."""
        return "#{:02x}{:02x}{:02x}".format(*self.rgb)


_ANATOMY = ("91723000", "SCT", "Anatomical Structure")
_SUBSTANCE = ("91720002", "SCT", "Body Substance")

#: value -> LabelInfo for every non-background label (docs/design.md, section 3).
LABELS: Mapping[int, LabelInfo] = MappingProxyType(
    {
        info.value: info
        for info in (
            LabelInfo(BRAINSTEM, "brainstem", "Brainstem (pons and medulla)", "brainstem",
                      "brainstem", (200, 168, 120), _ANATOMY, ("119238007", "SCT", "Brain Stem")),
            LabelInfo(CSF, "csf", "CSF of the CPA and prepontine cisterns", "cisternal CSF", "CSF",
                      (48, 112, 255), _SUBSTANCE, ("65216001", "SCT", "Cerebrospinal Fluid")),
            LabelInfo(CN7, "cn7", "Facial nerve (CN VII)", "facial nerve (VII)", "VII",
                      (255, 224, 0), _ANATOMY, ("56052001", "SCT", "Facial nerve"), nerve="VII"),
            LabelInfo(CN8, "cn8", "Vestibulocochlear nerve (CN VIII)",
                      "vestibulocochlear nerve (VIII)", "VIII", (64, 224, 160), _ANATOMY,
                      ("8598002", "SCT", "Vestibulocochlear nerve"), nerve="VIII"),
            LabelInfo(CN5, "cn5", "Trigeminal nerve (CN V)", "trigeminal nerve (V)", "V",
                      (255, 144, 0), _ANATOMY, ("27612005", "SCT", "Trigeminal nerve"), nerve="V"),
            LabelInfo(ARTERY, "artery", "Artery", "arteries", "arteries", (255, 32, 32), _ANATOMY,
                      ("51114001", "SCT", "Artery")),
            LabelInfo(VEIN, "vein", "Vein", "veins", "veins", (160, 64, 255), _ANATOMY,
                      ("29092000", "SCT", "Vein")),
        )
    }
)  # fmt: skip

#: Nerve (``"V"``, ``"VII"``, ``"VIII"``) -> label value.
NERVE_LABELS: Mapping[str, int] = MappingProxyType(
    {info.nerve: value for value, info in LABELS.items() if info.nerve is not None}
)

#: Label value by key (``"brainstem"``, ``"csf"``, ``"artery"`` ...) and by nerve (``"VII"`` ...).
LABEL_VALUES: Mapping[str, int] = MappingProxyType(
    {**{info.key: value for value, info in LABELS.items()}, **NERVE_LABELS}
)
