"""Matching returns to calls across intervals: each interval matched what it could alone; the
calls it left open and the returns it could not explain are matched here, in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class IntervalEnds:
    """What one interval left for its neighbours: unmatched returns (icount, sp after the
    return, retval, tid) and the calls still open at its end (icount, sp they return to, tid),
    both in execution order. Every unmatched return of a thread ran before every open call of
    that thread (it emptied the thread's own stack)."""

    interval: int
    returns: list[tuple[int, int, int, int]]
    open_calls: list[tuple[int, int, int]]


def link_calls(ends: Iterable[IntervalEnds]) -> dict[int, tuple[int, int]]:
    """call icount -> (return icount, retval) for calls that return in a later interval.

    The same shadow-stack rule as the native recorder, one stack per guest thread: a return
    drops frames whose return sp is below its own (abandoned by longjmp), then matches a frame
    with exactly its sp. A gap (an interval not indexed) empties the stacks: nothing is known
    across it.
    """
    links: dict[int, tuple[int, int]] = {}
    stacks: dict[int, list[tuple[int, int]]] = {}
    expected = None
    for end in ends:
        if expected is not None and end.interval != expected:
            stacks = {}
        expected = end.interval + 1
        for icount, sp, retval, tid in end.returns:
            stack = stacks.setdefault(tid, [])
            while stack and stack[-1][1] < sp:
                stack.pop()
            if stack and stack[-1][1] == sp:
                links[stack.pop()[0]] = (icount, retval)
        for icount, sp, tid in end.open_calls:
            stacks.setdefault(tid, []).append((icount, sp))
    return links
