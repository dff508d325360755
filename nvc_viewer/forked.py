"""Work done in a child process forked for it: one pattern for the batch and the exports.

The batch runs each case in a child forked from it (one local worker), the case's analysis in a
child beside the export preparation, and the printable report in a child beside the other
formats. A child started by `Forked` sends back its result, or the exception it raised with its
traceback; if it dies instead, the wait ends at once (the parent holds no copy of the pipe's
sending end) with `ChildDied` and its exit code. A child not waited for is killed (`kill`), so
that an interrupted parent leaves no process behind.
"""

from __future__ import annotations

import multiprocessing
import pickle
import traceback
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Forked", "ChildDied", "can_fork", "picklable"]

T = TypeVar("T")


def can_fork() -> bool:
    """Whether this platform starts processes by ``fork`` (not on Windows; macOS has it)."""
    return "fork" in multiprocessing.get_all_start_methods()


class ChildDied(Exception):
    """The child process ended without sending a result (killed, out of memory, crashed)."""

    def __init__(self, exitcode: int | None) -> None:
        super().__init__(f"exit code {exitcode}")
        self.exitcode = exitcode


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
