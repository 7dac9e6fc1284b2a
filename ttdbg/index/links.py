"""Matching returns to calls across intervals: each interval matched what it could alone; the
calls it left open and the returns it could not explain are matched here, in order."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class IntervalEnds:
    """What one interval left for its neighbours: unmatched returns (icount, sp after the
    return, retval) and the calls still open at its end (icount, sp they return to), both in
    execution order. Every unmatched return ran before every open call (it emptied the
    interval's own stack)."""

    interval: int
    returns: list[tuple[int, int, int]]
    open_calls: list[tuple[int, int]]


def link_calls(ends: Iterable[IntervalEnds]) -> dict[int, tuple[int, int]]:
    """call icount -> (return icount, retval) for calls that return in a later interval.

    The same shadow-stack rule as the native recorder: a return drops frames whose return sp
    is below its own (abandoned by longjmp), then matches a frame with exactly its sp. A gap
    (an interval not indexed) empties the stack: nothing is known across it.
    """
    links: dict[int, tuple[int, int]] = {}
    stack: list[tuple[int, int]] = []
    expected = None
    for end in ends:
        if expected is not None and end.interval != expected:
            stack = []
        expected = end.interval + 1
        for icount, sp, retval in end.returns:
            while stack and stack[-1][1] < sp:
                stack.pop()
            if stack and stack[-1][1] == sp:
                links[stack.pop()[0]] = (icount, retval)
        stack.extend(end.open_calls)
    return links
