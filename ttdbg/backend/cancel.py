"""Cancellation and progress for long timeline operations."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int], None]
"""Called with (icount done, icount to go) while an operation runs."""


class CancelToken:
    """Set from any thread; long operations check it between short slices of work.

    A plain flag: nobody waits on it, and assigning an attribute is atomic in CPython (an
    Event would cost a lock and a condition for every gdb request)."""

    def __init__(self) -> None:
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def reset(self) -> None:
        self._cancelled = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled
