"""`nvc_viewer.forked.side_by_side`: calls at the same time, the others in forked children; the
results in order, a child's failure raised here, one after the other where fork is not wanted."""

from __future__ import annotations

import os
import pickle

import pytest

from nvc_viewer.forked import ChildDied, can_fork, side_by_side

needs_fork = pytest.mark.skipif(not can_fork(), reason="no fork start method here")

_STATE: list[str] = []


def _note(word: str) -> tuple[str, int]:
    _STATE.append(word)
    return word, os.getpid()


@needs_fork
def test_the_first_call_runs_here_the_others_in_children_and_results_keep_their_order():
    _STATE.clear()
    out = side_by_side([lambda: _note("left"), lambda: _note("right"), lambda: _note("x")], "t")

    assert [word for word, _ in out] == ["left", "right", "x"]
    pids = [pid for _, pid in out]
    assert pids[0] == os.getpid() and len(set(pids)) == 3
    assert _STATE == ["left"]  # what a child changed stayed in the child


def test_without_fork_they_run_here_one_after_the_other():
    _STATE.clear()
    out = side_by_side([lambda: _note("left"), lambda: _note("right")], "t", fork=False)

    assert out == [("left", os.getpid()), ("right", os.getpid())]
    assert _STATE == ["left", "right"]


@needs_fork
def test_a_child_s_exception_is_raised_here_with_its_traceback_as_the_cause():
    def fails() -> None:
        raise ValueError("no meatus on the right (test)")

    with pytest.raises(ValueError, match="no meatus on the right") as info:
        side_by_side([lambda: 1, fails], "t")
    assert "fails" in str(info.value.__cause__)


@needs_fork
def test_a_child_that_dies_raises_child_died_with_its_exit_code():
    with pytest.raises(ChildDied, match="exit code 7") as info:
        side_by_side([lambda: 1, lambda: os._exit(7)], "t")
    assert info.value.exitcode == 7


def test_child_died_keeps_its_exit_code_across_a_pipe():
    back = pickle.loads(pickle.dumps(ChildDied(9)))

    assert isinstance(back, ChildDied) and back.exitcode == 9 and str(back) == "exit code 9"
