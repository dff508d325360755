"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every file the project writes goes through here. The new content is written to a temporary file
in the destination folder (same file system, so the final rename is atomic), flushed and fsynced,
then moved over the destination with `os.replace`; the folder is fsynced so the rename itself
survives a power cut. On any error the temporary file is removed and the old file is untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_path"]


def _fsync_dir(folder: Path) -> None:
    # Not every platform lets a folder be opened (Windows); the rename is still atomic there.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    # Read without changing it (os.umask would set it, racing other threads).
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Give a temporary file name that becomes ``path`` when the block ends without error.

    For writers that need a file name (nibabel, pydicom, highdicom, Pillow). The temporary file
    sits in ``path``'s folder and keeps ``path``'s suffixes (``.nii.gz`` stays gzip for nibabel).

    Parameters
    ----------
    path : path-like
        The final destination. Its folder must exist.

    Yields
    ------
    Path
        Where the writer must write.

    Examples
    --------
    >>> with atomic_path(out / "segmentation.nii.gz") as tmp:  # doctest: +SKIP
    ...     nib.save(img, tmp)
    """
    path = Path(path)
    folder = path.parent
    suffix = "".join(path.suffixes) if path.suffixes else ""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would, or the
        # mode of the file it replaces.
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8, ``\\n`` line ends); returns ``path``."""
    return atomic_write_bytes(path, text.encode(encoding))


@contextlib.contextmanager
def atomic_folder(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Give a temporary folder that replaces ``folder`` when the block ends without error.

    For writers of several files (a DICOM series, a phantom case): the temporary folder sits
    beside ``folder`` (``.NAME.partial-*``); when the block ends it takes ``folder``'s place by
    renames (an old ``folder`` is moved aside first and removed last), so a reader sees the old
    folder or the complete new one. On any error the temporary folder is removed and the old
    one is untouched. ``folder``'s parent is created if needed.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    try:
        yield tmp
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        if folder.exists():
            old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:12]}"
            os.replace(folder, old)
            os.replace(tmp, folder)
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink()
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(folder.parent)
