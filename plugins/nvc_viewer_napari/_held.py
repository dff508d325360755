"""A redraw that a block of changes holds back and runs once, at the block's end.

A selected finding moves a marker, the slice, the centre and the zoom; each would redraw the
tags over the image and each view's crosshair. Inside `HeldRedraw.held` a redraw only notes
that it is due (`HeldRedraw.due` answers False); the last block to end runs it once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["HeldRedraw"]


class HeldRedraw:
    """Hold back the redraw ``draw`` while a block of changes runs (blocks may nest)."""

    def __init__(self, draw: Callable[[], None]) -> None:
        self._draw = draw
        self._held = 0
        self._stale = False

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run ``draw`` once at the end of the block if a redraw was asked for in it."""
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if not self._held and self._stale:
                self._draw()

    def due(self) -> bool:
        """Whether to draw now: False inside a block, which then draws at its end."""
        self._stale = bool(self._held)
        return not self._held
