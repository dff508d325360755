"""Fuzzing support: a seed corpus of real and generated images, mutators, and the reader check.

Shared by ``tests/core/test_fuzz.py`` (a few hundred inputs) and ``benchmarks/fuzz_long.py``
(tens of thousands, each in a forked child). Every mutator is a pure function of the seed bytes
and a `random.Random`, so a failing input can be rebuilt from its (seed name, mutator, number).
"""

from __future__ import annotations

import gzip
import io
import math
import random
import shutil
import signal
import struct
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

NIBABEL_DATA = Path(nib.__file__).parent / "tests" / "data"

#: Seconds an input may take before it counts as a hang.
TIME_LIMIT_S = 5.0


@dataclass(frozen=True)
class Seed:
    """One valid input: ``kind`` is ``"nifti"`` (a .nii/.nii.gz file) or ``"dicom"`` (a file)."""

    name: str
    kind: str
    data: bytes
    suffix: str
    #: Valid files written beside the mutated one (the rest of its series).
    companions: tuple[bytes, ...] = ()

    def write(self, data: bytes, folder: Path) -> Path:
        """Write ``data`` (a mutation of this seed) and the companions into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for n, other in enumerate(self.companions):
            (folder / f"other{n:03d}.dcm").write_bytes(other)
        path = folder / f"input{self.suffix}"
        path.write_bytes(data)
        return path


def _pydicom_seed(name: str) -> bytes | None:
    from pydicom.data import get_testdata_file

    found = get_testdata_file(name)
    return None if found is None else Path(found).read_bytes()


def _nifti_bytes(data: np.ndarray, affine: np.ndarray, gz: bool) -> bytes:
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=1) if gz else raw


def small_volume(shape: tuple[int, int, int] = (8, 7, 5), seed: int = 0) -> np.ndarray:
    """A small int16 volume with structure on every axis."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 1000, shape).astype(np.int16)


def dicom_series_bytes(
    tmp: Path, *, enhanced: bool = False, patient: dict[str, str] | None = None
) -> list[bytes]:
    """A tiny classic (or Enhanced) MR series written by the project's DICOM writer."""
    from nvc_viewer.io.dicom_write import write_series
    from nvc_viewer.volume import Volume

    affine = np.diag([-0.5, -0.5, 0.7, 1.0])
    affine[:3, 3] = (10.0, -20.0, -30.0)
    folder = tmp / ("enhanced" if enhanced else "classic")
    if folder.exists():
        shutil.rmtree(folder)
    write_series(Volume(small_volume(), affine), folder, enhanced=enhanced, patient=patient)
    return [p.read_bytes() for p in sorted(folder.iterdir())]


def _deflated(blob: bytes) -> bytes:
    """The same data set in the Deflated Explicit VR Little Endian transfer syntax."""
    import pydicom
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = pydicom.dcmread(io.BytesIO(blob))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def seed_corpus(tmp: Path) -> list[Seed]:
    """Real files from the nibabel and pydicom wheels plus small generated NIfTI and DICOM."""
    seeds: list[Seed] = []
    for name in ("anatomical.nii", "example_nifti2.nii.gz", "standard.nii.gz"):
        path = NIBABEL_DATA / name
        if path.is_file():
            seeds.append(Seed(name, "nifti", path.read_bytes(), ".nii.gz" if name.endswith("gz")
                              else ".nii"))  # fmt: skip
    affine = np.diag([0.8, 0.8, 1.0, 1.0])
    seeds.append(Seed("small.nii", "nifti", _nifti_bytes(small_volume(), affine, False), ".nii"))
    seeds.append(Seed("small.nii.gz", "nifti", _nifti_bytes(small_volume(), affine, True),
                      ".nii.gz"))  # fmt: skip
    for name in ("MR_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                 "MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "emri_small.dcm"):  # fmt: skip
        data = _pydicom_seed(name)
        if data is not None:
            seeds.append(Seed(name, "dicom", data, ".dcm"))
    classic = dicom_series_bytes(tmp)
    seeds.append(Seed("classic-slice.dcm", "dicom", classic[0], ".dcm"))
    seeds.append(Seed("classic-series.dcm", "dicom", classic[2], ".dcm", tuple(classic[:2])
                      + tuple(classic[3:])))  # fmt: skip
    enhanced = dicom_series_bytes(tmp, enhanced=True)
    seeds.append(Seed("enhanced.dcm", "dicom", enhanced[0], ".dcm"))
    seeds.append(Seed("deflated.dcm", "dicom", _deflated(classic[0]), ".dcm"))
    return seeds


# -- mutators: (seed bytes, rng) -> mutated bytes -----------------------------------------------


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    """Overwrite 1-16 random bytes (biased to the header, where the parsing happens)."""
    out = bytearray(data)
    head = min(len(out), 2048)
    for _ in range(rng.randint(1, 16)):
        end = head if rng.random() < 0.8 else len(out)
        out[rng.randrange(end)] = rng.randrange(256)
    return bytes(out)


def flip_bits(data: bytes, rng: random.Random) -> bytes:
    """Flip 1-8 random bits."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(min(len(out), 4096) if rng.random() < 0.8 else len(out))
        out[pos] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    """Cut the file anywhere (mostly inside the header)."""
    cut = rng.randrange(min(len(data), 1500)) if rng.random() < 0.6 else rng.randrange(len(data))
    return data[:cut]


def splice(data: bytes, rng: random.Random) -> bytes:
    """Delete, duplicate or insert a chunk."""
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 64))
    choice = rng.randrange(3)
    if choice == 0:
        return data[:a] + data[b:]
    if choice == 1:
        return data[:b] + data[a:b] + data[b:]
    return data[:a] + bytes(rng.randrange(256) for _ in range(b - a)) + data[a:]


_INTERESTING_INT = (0, 1, -1, 2, 3, 4, 7, 8, 16, 32, 64, 255, 256, 32767, -32768, 65535,
                    2**31 - 1, -(2**31), 2**32 - 1)  # fmt: skip
_INTERESTING_FLOAT = (0.0, -0.0, 1e-30, -1.0, 1e30, -1e30, math.nan, math.inf, -math.inf)


def _nifti1_field(raw: bytearray, rng: random.Random) -> None:
    endian = "<" if struct.unpack_from("<i", raw, 0)[0] == 348 else ">"
    # (offset, format, count) of the NIfTI-1 header fields a reader trusts.
    fields = [(40, "h", 8), (70, "h", 1), (72, "h", 1), (76, "f", 8), (108, "f", 1),
              (112, "f", 1), (116, "f", 1), (252, "h", 1), (254, "h", 1), (256, "f", 6),
              (280, "f", 12), (344, "4s", 1), (0, "i", 1), (68, "h", 1)]  # fmt: skip
    for _ in range(rng.randint(1, 3)):
        offset, fmt, count = rng.choice(fields)
        index = rng.randrange(count)
        if fmt == "4s":
            struct.pack_into("4s", raw, offset, rng.choice([b"n+1\0", b"ni1\0", b"n+2\0", b"xxxx"]))
            continue
        size = struct.calcsize(fmt)
        if fmt == "f":
            value: float | int = rng.choice(_INTERESTING_FLOAT + (rng.uniform(-1e4, 1e4),))
        else:
            value = rng.choice(_INTERESTING_INT + (rng.randint(-5000, 5000),))
            bits = 8 * size
            value = (value + 2 ** (bits - 1)) % 2**bits - 2 ** (bits - 1)
        struct.pack_into(endian + fmt, raw, offset + index * size, value)


def nifti_header_field(data: bytes, rng: random.Random) -> bytes:
    """Set dims, pixdim, vox_offset, datatype, bitpix, scaling, q/sform fields to odd values."""
    gz = data[:2] == b"\x1f\x8b"
    raw = bytearray(gzip.decompress(data) if gz else data)
    if len(raw) < 348 or struct.unpack_from("<i", raw, 0)[0] not in (348, 540) and \
            struct.unpack_from(">i", raw, 0)[0] not in (348, 540):  # fmt: skip
        return flip_bytes(data, rng)
    if struct.unpack_from("<i", raw, 0)[0] == 540 or struct.unpack_from(">i", raw, 0)[0] == 540:
        return flip_bytes(bytes(raw), rng) if not gz else gzip.compress(flip_bytes(bytes(raw), rng))
    _nifti1_field(raw, rng)
    return gzip.compress(bytes(raw), compresslevel=1) if gz else bytes(raw)


_DICOM_EDITS: list[tuple[str, tuple[object, ...]]] = [
    ("Rows", (0, 1, 65535, 3)),
    ("Columns", (0, 1, 65535, 3)),
    ("BitsAllocated", (0, 1, 7, 12, 24, 64, 65535)),
    ("BitsStored", (0, 1, 17, 64, 65535)),
    ("HighBit", (0, 40)),
    ("PixelRepresentation", (0, 1, 7)),
    ("SamplesPerPixel", (0, 3, 65535)),
    ("NumberOfFrames", ("0", "-1", "2", "999999999", "abc", "1e9")),
    ("PixelSpacing", (["0", "0"], ["nan", "nan"], ["inf", "1"], ["-1", "-1"], ["1"], ["x", "y"])),
    ("ImageOrientationPatient", (["0"] * 6, ["1", "0", "0", "1", "0", "0"], ["nan"] * 6,
                                 ["1", "0", "0"], ["1e308", "0", "0", "0", "1e308", "0"])),
    ("ImagePositionPatient", (["nan", "0", "0"], ["inf", "inf", "inf"], ["0"], ["1e308"] * 3)),
    ("RescaleSlope", ("0", "nan", "inf", "-1e38")),
    ("RescaleIntercept", ("nan", "1e38")),
    ("SliceThickness", ("0", "nan", "-5")),
    ("PhotometricInterpretation", ("RGB", "PALETTE COLOR", "")),
    ("SpecificCharacterSet", ("ISO 2022 IR 87", "GB18030", "bogus")),
    ("SeriesInstanceUID", ("", "../../x")),
    ("SeriesDescription", ("../../x", "tof" * 30)),
    ("ImageType", (["ORIGINAL", "PRIMARY", "M", "MOSAIC"],)),
]  # fmt: skip


def dicom_header_field(data: bytes, rng: random.Random) -> bytes:
    """Rewrite a few geometry / pixel-format elements with pydicom to odd or absurd values."""
    import pydicom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(io.BytesIO(data), force=True)
        except Exception:  # noqa: BLE001 -- not parsable: fall back to a byte mutation
            return flip_bytes(data, rng)
        targets = [ds]
        for name in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            for group in ds.get(name) or []:
                for element in group.values():
                    if element.VR == "SQ":
                        targets.extend(i for i in element.value if isinstance(i, pydicom.Dataset))
        for _ in range(rng.randint(1, 3)):
            keyword, values = rng.choice(_DICOM_EDITS)
            holders = [t for t in targets if keyword in t] or [ds]
            target = rng.choice(holders)
            value = rng.choice(values)
            try:
                setattr(target, keyword, value)
            except Exception:  # noqa: BLE001 -- pydicom refuses some values; write raw text
                continue
        out = io.BytesIO()
        try:
            ds.save_as(out, enforce_file_format=False)
        except Exception:  # noqa: BLE001
            return flip_bytes(data, rng)
    return out.getvalue()


MUTATORS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    "flip_bytes": flip_bytes,
    "flip_bits": flip_bits,
    "truncate": truncate,
    "splice": splice,
    "nifti_field": nifti_header_field,
    "dicom_field": dicom_header_field,
}


def mutators_for(seed: Seed) -> list[str]:
    """The mutators that make sense for a seed."""
    common = ["flip_bytes", "flip_bits", "truncate", "splice"]
    return common + (["nifti_field"] * 3 if seed.kind == "nifti" else ["dicom_field"] * 3)


def mutate(seed: Seed, mutator: str, number: int) -> bytes:
    """The ``number``-th mutation of ``seed`` by ``mutator`` (deterministic)."""
    rng = random.Random(f"{seed.name}/{mutator}/{number}")
    return MUTATORS[mutator](seed.data, rng)


def gzip_bomb(header_shape: tuple[int, int, int], inflated_bytes: int) -> bytes:
    """A .nii.gz: a valid header claiming ``header_shape`` uint8 voxels, followed by
    ``inflated_bytes`` of zeros, built from repeated gzip members (small on disk)."""
    img = nib.Nifti1Image(np.zeros((1, 1, 1), np.uint8), np.eye(4))
    header = img.header.copy()
    header.set_data_shape(header_shape)
    header.set_data_offset(352)
    head = header.binaryblock + b"\0" * (352 - len(header.binaryblock))
    chunk = 16 * 1024 * 1024
    member = gzip.compress(b"\0" * chunk, compresslevel=9)
    n = max(inflated_bytes // chunk, 1)
    return gzip.compress(head) + member * n


# -- the check every reader must pass -------------------------------------------------------


@dataclass
class Outcome:
    """What the readers did with one input: ``crash`` holds the first non-NVCError, if any."""

    seconds: float
    crash: str | None = None
    loaded: int = 0
    refused: int = 0


class _Hang(BaseException):
    """Raised by the alarm: an input took longer than the time limit."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Hang


def readers_for(kind: str) -> list[tuple[str, Callable[[Path], object]]]:
    """The public readers an input of this kind goes through (file and folder)."""
    import nvc_viewer
    from nvc_viewer.io import load_case
    from nvc_viewer.io.dicom import describe_scan, scan_dicom

    def scan_and_describe(p: Path) -> object:
        return describe_scan(scan_dicom(p))

    readers = [
        ("load(file)", lambda p: nvc_viewer.load(p)),
        ("load(folder)", lambda p: nvc_viewer.load(p.parent)),
        ("load_case(folder)", lambda p: load_case(p.parent)),
    ]
    if kind == "dicom":
        readers.append(("describe_scan(scan_dicom(file))", scan_and_describe))
        readers.append(("describe_scan(scan_dicom(folder))", lambda p: scan_and_describe(p.parent)))
    return readers


def check_input(path: Path, kind: str, *, alarm: bool = True) -> Outcome:
    """Run every reader on ``path``; record the first exception that is not an `NVCError`.

    A reader must return a valid `Volume` (or `CaseVolumes`, or text) or raise `NVCError`. With
    ``alarm`` a SIGALRM interrupts a reader that runs over `TIME_LIMIT_S` (main thread only).
    """
    from nvc_viewer.errors import NVCError
    from nvc_viewer.io import CaseVolumes
    from nvc_viewer.volume import Volume

    outcome = Outcome(0.0)
    start = time.perf_counter()
    old = signal.signal(signal.SIGALRM, _on_alarm) if alarm else None
    try:
        for name, reader in readers_for(kind):
            if alarm:
                signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = reader(path)
            except NVCError:
                outcome.refused += 1
                continue
            except _Hang:
                outcome.crash = f"{name}: hang (over {TIME_LIMIT_S} s)"
                break
            except Exception as exc:  # noqa: BLE001 -- this is what the fuzzing looks for
                outcome.crash = f"{name}: {type(exc).__name__}: {exc}"[:500]
                break
            finally:
                if alarm:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            volumes = [result.t2, result.tof] if isinstance(result, CaseVolumes) else [result]
            for v in volumes:
                if isinstance(v, Volume):
                    # Valid by construction; check the contract again in case a reader bypassed it.
                    if v.data.ndim != 3 or not np.all(np.isfinite(v.affine)):
                        outcome.crash = f"{name}: returned an invalid Volume"
            outcome.loaded += 1
    finally:
        if alarm:
            signal.signal(signal.SIGALRM, old)
    outcome.seconds = time.perf_counter() - start
    return outcome
