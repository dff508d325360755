"""Run `nvc_viewer.analysis.analyse` in a child process, for the viewer.

Why a process and not only a thread: much of the analysis is numpy / scipy / scikit-image calls
that hold the GIL for tens of milliseconds each, so a worker *thread* makes the GUI thread wait
for the GIL again and again; on a busy machine (two cores, other work running) the viewer then
stops responding for up to half a second at a time. A child process shares no GIL with the
viewer, runs at a lower priority (`CHILD_NICENESS`), and is stopped at once on Cancel.

The child is ``python -m nvc_viewer_napari._analysis_process``: a fresh interpreter that imports
the core only (no Qt, no napari) and never the program that started the viewer (which
multiprocessing's ``spawn`` would re-import: a user's script without a ``__main__`` guard would
then run again in the child). The parent writes the pickled inputs to the child's stdin; the
child answers on stdout with length-prefixed pickled messages: progress, then the result or the
error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue as queue_module
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from nvc_viewer.errors import AnalysisCancelled, AnalysisError
from nvc_viewer.volume import Volume

__all__ = ["analyse_in_process", "CHILD_NICENESS"]

#: Niceness of the analysis process (Unix): the viewer is served first.
CHILD_NICENESS = 10
# How often the parent looks at the cancel flag while waiting for the child, seconds.
_POLL_S = 0.05
_HEADER = struct.Struct("<Q")


def _send(stream: IO[bytes], message: tuple) -> None:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def _receive(stream: IO[bytes]) -> tuple | None:
    """One message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    payload = stream.read(size)
    if len(payload) < size:
        return None
    return pickle.loads(payload)


def _child_main() -> int:
    """The child: read the inputs from stdin, analyse, answer on stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the message stream
    if hasattr(os, "nice"):
        with contextlib.suppress(OSError):
            os.nice(CHILD_NICENESS)
    try:
        t2, tof, labels = pickle.load(sys.stdin.buffer)
        from nvc_viewer.analysis import analyse

        kwargs: dict[str, Any] = {} if labels is None else {"labels": labels}
        result = analyse(
            t2, tof, progress=lambda f, m: _send(out, ("progress", float(f), str(m))), **kwargs
        )
    except BaseException as exc:  # everything goes back to the viewer
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # an exception that cannot be rebuilt goes as text
            exc = AnalysisError(f"{type(exc).__name__}: {exc}")
        _send(out, ("error", exc))
        return 1
    _send(out, ("result", result))
    return 0


def analyse_in_process(
    t2: Volume,
    tof: Volume | None = None,
    *,
    labels: Volume | None = None,
    progress: Callable[[float, str], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> Any:
    """`nvc_viewer.analysis.analyse` in a child process; blocks the calling (worker) thread.

    Parameters
    ----------
    t2, tof : Volume
        As for `analyse`.
    labels : Volume, optional
        The surgeon's corrected label map; passed on only when given (the caller checks that
        `analyse` takes it).
    progress : callable, optional
        ``progress(fraction, message)``, called in the calling thread as the child reports.
    cancel : callable, optional
        Polled every few tens of milliseconds; when true the child is stopped at once and
        `AnalysisCancelled` is raised.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    AnalysisCancelled
        If ``cancel()`` returned true.
    NVCError
        The analysis' own error (e.g. `AnalysisError`: no brainstem found), rebuilt here.
    AnalysisError
        If the child process died (e.g. killed for lack of memory).
    """
    child = subprocess.Popen(
        [sys.executable, "-m", __name__],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert child.stdin is not None and child.stdout is not None
    messages: queue_module.Queue[tuple | None] = queue_module.Queue()
    stdout = child.stdout

    def read() -> None:
        try:
            while (message := _receive(stdout)) is not None:
                messages.put(message)
        except Exception as exc:  # a broken stream: said below as a died child
            messages.put(("broken", str(exc)))
        messages.put(None)

    reader = threading.Thread(target=read, name="nvc-analysis-reader", daemon=True)
    reader.start()
    try:
        try:
            pickle.dump((t2, tof, labels), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            child.stdin.close()
        except BrokenPipeError:
            pass  # the child died at once: said below
        while True:
            if cancel is not None and cancel():
                raise AnalysisCancelled("analysis cancelled by the user")
            try:
                message = messages.get(timeout=_POLL_S)
            except queue_module.Empty:
                continue
            if message is None or message[0] == "broken":
                code = child.wait()
                raise AnalysisError(
                    f"the analysis process ended unexpectedly (exit code {code}; out of memory?)"
                )
            if message[0] == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif message[0] == "result":
                return message[1]
            else:
                raise message[1]
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
        # The dead child's pipe ends the reader's read; only then may the stream be closed
        # (closing a buffered stream waits for a read under way in another thread).
        reader.join(timeout=5.0)
        stdout.close()


if __name__ == "__main__":
    sys.exit(_child_main())
