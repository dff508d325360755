"""Work done in a child process forked for it: one pattern for the batch and the exports.

The batch runs each case in a child forked from it (one local worker), the case's analysis in a
child beside the export preparation, and the printable report in a child beside the other
formats; the analysis does the work it does once per side for the right side in a child beside
the left (`side_by_side`). A child started by `Forked` sends back its result, or the exception
it raised with its traceback; if it dies instead, the wait ends at once (the parent holds no copy
of the pipe's sending end) with `ChildDied` and its exit code. A child not waited for is killed
(`kill`), so that an interrupted parent leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["Forked", "ChildDied", "can_fork", "picklable", "side_by_side"]

T = TypeVar("T")


def can_fork() -> bool:
    """Whether this platform starts processes by ``fork`` (not on Windows; macOS has it)."""
    return "fork" in multiprocessing.get_all_start_methods()


def _may_have_children() -> bool:
    # multiprocessing refuses children to a daemonic process (a Dask worker's, for one)
    return can_fork() and not multiprocessing.current_process().daemon


class ChildDied(Exception):
    """The child process ended without sending a result (killed, out of memory, crashed)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"exit code {exitcode}")
        self.exitcode = exitcode

    def __reduce__(self) -> tuple[type, tuple[int | None]]:
        # rebuilt with its exit code when it crosses a pipe (a side process of a child died)
        return (ChildDied, (self.exitcode,))


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a child process, as its cause."""

    def __str__(self) -> str:
        return f'\n"""\n{self.args[0]}"""'


def picklable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to cross a process boundary), else a plain
    ``RuntimeError`` with its type and message."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


class Forked(Generic[T]):
    """``call()`` running in a child process forked now (``fork`` only: see `can_fork`).

    Parameters
    ----------
    call : callable
        Run in the child; its result must pickle.
    name : str
        The child process's name (seen in ``ps``).
    """

    def __init__(self, call: Callable[[], T], name: str) -> None:
        ctx = multiprocessing.get_context("fork")
        self._receive, send = ctx.Pipe(duplex=False)

        def child() -> None:
            try:
                try:
                    message: tuple[str, Any] = ("ok", call())
                except BaseException as exc:  # noqa: BLE001 -- every failure goes to the parent
                    message = ("error", (picklable(exc), traceback.format_exc()))
                send.send(message)
            finally:
                send.close()

        self._proc = ctx.Process(target=child, name=name)
        self._proc.start()
        send.close()  # the child holds the other end: its death ends the wait in `result`

    def result(self) -> T:
        """Wait for the child: its result, or the exception it raised (its traceback as the
        cause); `ChildDied` if it ended without a word."""
        try:
            try:
                kind, value = self._receive.recv()
            except EOFError:
                self._proc.join()
                raise ChildDied(self._proc.exitcode) from None
            self._proc.join()
        finally:
            self.kill()
        if kind == "error":
            exc, text = value
            raise exc from RemoteTraceback(text)
        return value

    def kill(self) -> None:
        """Kill the child if it still runs (its caller was interrupted); idempotent."""
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._receive.close()


def side_by_side(calls: Sequence[Callable[[], T]], name: str, *, fork: bool = True) -> list[T]:
    """The results of ``calls``, in their order, computed at the same time.

    The first runs in this process while each of the others runs in a child forked for it
    (`Forked`; what a call changes in the child's copy of the program's state stays there: only
    its result comes back). Without ``fork``, on a platform that cannot fork, or in a daemonic
    process (which may not have children), they run here one after the other. A child's
    exception is raised here (its traceback as the cause), `ChildDied` if it ended without a
    word; the other children are then killed.

    Parameters
    ----------
    calls : sequence of callables
        Each result must pickle.
    name : str
        The children's names (seen in ``ps``): ``name-1``, ``name-2``...
    fork : bool
        Use child processes (where possible).
    """
    if len(calls) < 2 or not (fork and _may_have_children()):
        return [call() for call in calls]
    children: list[Forked[T]] = []
    try:
        for n, call in enumerate(calls[1:], 1):
            children.append(Forked(call, f"{name}-{n}"))
        first = calls[0]()
        return [first, *(child.result() for child in children)]
    finally:
        for child in children:
            child.kill()
