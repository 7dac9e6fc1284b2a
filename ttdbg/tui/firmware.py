"""The TUI's firmware parts: its tabs, the interrupt lanes, jumps between interrupt entries
and `:catch interrupt` (the functions taking a timeline run on the engine thread)."""

from __future__ import annotations

from collections.abc import Callable

from ttdbg.backend.cancel import CancelToken
from ttdbg.backend.gdb.monitor import MonitorCommands
from ttdbg.backend.stops import InterruptEntered, Reached, Stop
from ttdbg.backend.timeline import Timeline, TimelineError

from .commands import CommandError
from .widgets.tabbar import Tab

MAX_LANES = 6  # interrupt sources drawn on the timeline, each on a row of its own

SERIAL_TAB = Tab("tab-output", "serial", "ser")
PERIPHERALS_TAB = Tab("tab-peripherals", "periph", "dev")


def firmware_tabs(tabs: list[Tab]) -> list[Tab]:
    """A firmware recording's tabs: the output tab is the serial console, and the board's
    peripherals take the threads' place (one CPU)."""
    swapped = {"tab-output": SERIAL_TAB, "tab-threads": PERIPHERALS_TAB}
    return [swapped.get(tab.id, tab) for tab in tabs]


def lane_label(number: int, name: str) -> str:
    """How a lane names its source: the board's name, with the number `:catch interrupt`
    takes in front unless the name already starts with it."""
    return (
        name
        if name.startswith(f"IRQ {number} ") or name == f"IRQ {number}"
        else f"{number}: {name}"
    )


def interrupt_lanes(tl: Timeline, cancel: CancelToken) -> list[tuple[str, list[int]]] | None:
    """(label, icounts) per interrupt source entered in the recording, in number order (the
    sources past MAX_LANES share the last lane); None if the history read was cancelled."""
    firmware = tl.firmware
    history = tl.firmware_history(cancel)
    if firmware is None or history is None or not history.complete:
        return None
    name = firmware.board.interrupt_name
    lanes = [(lane_label(n, name(n)), icounts) for n, icounts in history.lanes().items()]
    if len(lanes) > MAX_LANES:
        rest = sorted(i for _label, icounts in lanes[MAX_LANES - 1 :] for i in icounts)
        lanes = [*lanes[: MAX_LANES - 1], ("others", rest)]
    return lanes


def jump_to_entry(
    tl: Timeline, forward: bool, cancel: CancelToken, seek: Callable[[int], Stop]
) -> Stop:
    """Go to the next (or previous) interrupt entry of any source with `seek`."""
    firmware = tl.firmware
    if firmware is None:
        raise TimelineError("interrupts are entered only in firmware recordings")
    history = tl.firmware_history(cancel)
    assert history is not None
    here = tl.position
    if not history.complete:
        raise TimelineError("cancelled while reading the recording's interrupt entries")
    entry = history.entry_after(here) if forward else history.entry_before(here)
    if entry is None:
        where = "after" if forward else "before"
        raise TimelineError(f"no interrupt entry {where} icount {here:,}")
    stop = seek(entry.icount)
    if not isinstance(stop, Reached):
        return stop
    return InterruptEntered(entry.icount, entry.number, firmware.board.interrupt_name(entry.number))


def catch_interrupt(tl: Timeline, arg: str, cancel: CancelToken) -> str:
    """`catch interrupt [N...|all|off]`, as gdb's `monitor catch interrupt` does it."""
    what, _, numbers = arg.strip().partition(" ")
    if what != "interrupt":
        raise CommandError("catch interrupt [N...|all|off]: the only catch there is (firmware)")
    done, text = MonitorCommands(tl).run(f"catch interrupt {numbers}", cancel)
    if not done:
        raise CommandError(text.strip().removeprefix("monitor "))
    return text.strip()
