"""The `:` command line: gdb's words parsed into (action, argument) pairs, as a table."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    action: str
    arg: str = ""


class CommandError(ValueError):
    """The line is not a command the TUI knows."""


# word -> action; the rest of the line is the argument.
WORDS: dict[str, str] = {
    **dict.fromkeys(("si", "stepi"), "stepi"),
    **dict.fromkeys(("rsi", "reverse-stepi"), "reverse_stepi"),
    **dict.fromkeys(("ni", "nexti"), "step_over"),
    **dict.fromkeys(("rni", "reverse-nexti"), "reverse_step_over"),
    **dict.fromkeys(("s", "step"), "step"),
    **dict.fromkeys(("rs", "reverse-step"), "reverse_step"),
    **dict.fromkeys(("n", "next"), "next"),
    **dict.fromkeys(("rn", "reverse-next"), "reverse_next"),
    **dict.fromkeys(("u", "until"), "until"),
    **dict.fromkeys(("c", "continue"), "continue"),
    **dict.fromkeys(("rc", "reverse-continue"), "reverse_continue"),
    **dict.fromkeys(("finish", "fin"), "finish"),
    **dict.fromkeys(("rfinish", "reverse-finish"), "reverse_finish"),
    **dict.fromkeys(("b", "break"), "break"),
    "tbreak": "tbreak",
    **dict.fromkeys(("d", "delete"), "delete"),
    "watch": "watch",
    "rwatch": "rwatch",
    "awatch": "awatch",
    **dict.fromkeys(("p", "print"), "print"),
    "display": "display",
    "undisplay": "undisplay",
    **dict.fromkeys(("f", "frame"), "frame"),
    "up": "up",
    "down": "down",
    **dict.fromkeys(("bt", "backtrace", "where"), "backtrace"),
    "info": "info",
    **dict.fromkeys(("goto", "g", "seek"), "goto"),
    "mark": "mark",
    "last": "last",
    "origin": "origin",
    "catch": "catch",
    **dict.fromkeys(("query", "sql"), "query"),
    "set": "set",
    "show": "show",
    **dict.fromkeys(("q", "quit"), "quit"),
    **dict.fromkeys(("help", "h", "?"), "help"),
}

_EXAMINE = re.compile(r"^x(/\S*)?\s+(.+)$")
_PERCENT = re.compile(r"^\d+(?:\.\d+)?%$")


def parse_command(line: str) -> Command:
    """The command a line asks for; CommandError names what is wrong."""
    line = line.strip()
    if not line:
        raise CommandError("empty command")
    examine = _EXAMINE.match(line)
    if examine:  # the argument keeps its /FMT in front
        return Command("examine", f"{examine.group(1) or ''} {examine.group(2).strip()}".strip())
    if _PERCENT.match(line) or line.replace(",", "").replace("_", "").isdigit():
        return Command("goto", line)
    word, _, rest = line.partition(" ")
    word, slash, fmt = word.partition("/")
    action = WORDS.get(word)
    if action is None:
        raise CommandError(f"unknown command {word!r} (try :help)")
    if slash and action == "print":
        return Command("print", f"/{fmt} {rest.strip()}")
    if slash:
        raise CommandError(f"{word}/{fmt}: {word} takes no /FMT (x/FMT ADDR, print/FMT EXPR)")
    return Command(action, rest.strip())


# gdb's settings the TUI has -> their values (the first is gdb's default).
SETTINGS: dict[str, tuple[str, ...]] = {
    "disassembly-flavor": ("att", "intel"),
}


def parse_setting(arg: str) -> tuple[str, str]:
    """(name, value) of `set NAME VALUE`, both known."""
    name, _, value = arg.strip().partition(" ")
    values = SETTINGS.get(name)
    if values is None:
        raise CommandError(f"set: no setting {name!r} (one of: {', '.join(SETTINGS)})")
    if value.strip() not in values:
        raise CommandError(f"set {name}: {value.strip()!r} is not one of {', '.join(values)}")
    return name, value.strip()


def parse_position(text: str, end: int) -> int:
    """An icount from `123456`, `1,234,567` or `42%` (of the recording)."""
    text = text.strip().replace(",", "").replace("_", "")
    if text.endswith("%"):
        return int(end * float(text[:-1]) / 100)
    try:
        return int(text, 0)
    except ValueError:
        raise CommandError(f"not an icount or percentage: {text!r}") from None


HELP = """\
 ttdbg keys (lowercase forward, uppercase backward)
  i / I   stepi / reverse-stepi     o / O   nexti / reverse-nexti
  s / S   step / reverse-step       l / L   next / reverse-next (lines)
  c / C   continue / reverse-cont   f / F   finish / reverse-finish
  g       go to an icount or N%     u / ctrl+r  back / forward (jumps)
  m<x>    set bookmark x            '<x>    jump to bookmark x
  space   toggle a breakpoint on the selected disassembly line
  * / #   next / previous write to the selected register or memory row
  n / N   repeat the last * / #     + / -   zoom the timeline
  v       highlight: last instruction / since the last view
  1 disassembly  2 source  3 registers  4 memory  5 stack
  6 events  7 marks  8 output  9 backtrace  0 locals  t threads (:show NAME)
  firmware: 8 serial console  p peripherals  ] / [  next / previous interrupt entry
  escape  cancel a long operation   ctrl+l  clear messages
  ?       this help                 q       quit
 : commands (gdb's words)
  break LINE|FILE:LINE|FUNC|*ADDR   tbreak ...   delete [N]
  info breakpoints   watch|rwatch|awatch EXPR   x ADDR|$REG (memory pane)
  x/NFU ADDR (F: xzduotacfsi, U: bwhg)   print EXPR   print/F EXPR
  step next until finish si ni (reverse-*: rs rn rsi rni rc)
  continue rc   display EXPR   undisplay
  frame N   up   down   bt   goto ICOUNT|N%   mark X   show NAME
  set disassembly-flavor att|intel  x86-64's syntax in the pane and x/i
      (intel: capstone's Intel spelling, not gdb's)   show disassembly-flavor
  last ADDR [LEN]  the write that gave it its value   origin ADDR
  query [SQL]  ask the index (enter on a row goes to its icount)
  catch interrupt [N...|all|off]  continues stop on entering interrupts (firmware)
"""
