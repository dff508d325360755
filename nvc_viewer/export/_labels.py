"""The label table (docs/design.md, section 3): value, name, colour and coded anatomy of each
structure.

Codes are SNOMED CT (``SCT``) concepts as pydicom's DICOM code dictionary lists them (CID 7140 /
7151 / 7706 segmentation property types): brain stem 119238007, cerebrospinal fluid 65216001,
facial nerve 56052001, vestibulocochlear nerve 8598002, trigeminal nerve 27612005, artery 51114001,
vein 29092000. Categories: anatomical structure 91723000, body substance 91720002 (CSF).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["LabelInfo", "LABELS"]


@dataclass(frozen=True)
class LabelInfo:
    """One structure of the label map.

    Attributes
    ----------
    value : int
        Voxel value in the uint8 label map.
    key : str
        Short machine name.
    name : str
        Human name.
    rgb : tuple of int
        Display colour, 0..255.
    category : tuple of str
        (code value, scheme, meaning) of the segmented property category.
    type : tuple of str
        (code value, scheme, meaning) of the segmented property type.
    """

    value: int
    key: str
    name: str
    rgb: tuple[int, int, int]
    category: tuple[str, str, str]
    type: tuple[str, str, str]


_ANATOMY = ("91723000", "SCT", "Anatomical Structure")
_SUBSTANCE = ("91720002", "SCT", "Body Substance")

#: value -> LabelInfo for every non-background label (docs/design.md, section 3).
LABELS: Mapping[int, LabelInfo] = MappingProxyType(
    {
        1: LabelInfo(1, "brainstem", "Brainstem (pons and medulla)", (222, 198, 150), _ANATOMY,
                     ("119238007", "SCT", "Brain Stem")),
        2: LabelInfo(2, "csf", "CSF of the CPA and prepontine cisterns", (90, 170, 255),
                     _SUBSTANCE, ("65216001", "SCT", "Cerebrospinal Fluid")),
        3: LabelInfo(3, "cn7", "Facial nerve (CN VII)", (255, 230, 0), _ANATOMY,
                     ("56052001", "SCT", "Facial nerve")),
        4: LabelInfo(4, "cn8", "Vestibulocochlear nerve (CN VIII)", (40, 200, 90), _ANATOMY,
                     ("8598002", "SCT", "Vestibulocochlear nerve")),
        5: LabelInfo(5, "cn5", "Trigeminal nerve (CN V)", (255, 140, 0), _ANATOMY,
                     ("27612005", "SCT", "Trigeminal nerve")),
        6: LabelInfo(6, "artery", "Artery", (220, 30, 40), _ANATOMY,
                     ("51114001", "SCT", "Artery")),
        7: LabelInfo(7, "vein", "Vein", (60, 70, 210), _ANATOMY, ("29092000", "SCT", "Vein")),
    }
)  # fmt: skip
