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
    **dict.fromkeys(("ni", "nexti", "n", "next"), "step_over"),
    **dict.fromkeys(("rni", "reverse-nexti", "rn", "reverse-next"), "reverse_step_over"),
    **dict.fromkeys(("c", "continue"), "continue"),
    **dict.fromkeys(("rc", "reverse-continue"), "reverse_continue"),
    **dict.fromkeys(("finish", "fin"), "finish"),
    **dict.fromkeys(("rfinish", "reverse-finish"), "reverse_finish"),
    **dict.fromkeys(("b", "break", "tbreak"), "break"),
    **dict.fromkeys(("d", "delete", "clear"), "delete"),
    "watch": "watch",
    "rwatch": "rwatch",
    "awatch": "awatch",
    **dict.fromkeys(("goto", "g", "seek"), "goto"),
    "mark": "mark",
    "last": "last",
    "origin": "origin",
    **dict.fromkeys(("query", "sql"), "query"),
    "show": "show",
    **dict.fromkeys(("q", "quit"), "quit"),
    **dict.fromkeys(("help", "h", "?"), "help"),
}

_EXAMINE = re.compile(r"^x(?:/\S*)?\s+(.+)$")
_PERCENT = re.compile(r"^\d+(?:\.\d+)?%$")


def parse_command(line: str) -> Command:
    """The command a line asks for; CommandError names what is wrong."""
    line = line.strip()
    if not line:
        raise CommandError("empty command")
    examine = _EXAMINE.match(line)
    if examine:
        return Command("examine", examine.group(1).strip())
    if _PERCENT.match(line) or line.replace(",", "").replace("_", "").isdigit():
        return Command("goto", line)
    word, _, rest = line.partition(" ")
    action = WORDS.get(word)
    if action is None:
        raise CommandError(f"unknown command {word!r} (try :help)")
    return Command(action, rest.strip())


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
   i / I      stepi / reverse-stepi        o / O   step over / reverse step over
   c / C      continue / reverse-continue  f / F   finish / reverse-finish
   g          go to an icount or N%         u / ctrl+r  back / forward in history
   m<letter>  set a bookmark               '<letter>   jump to a bookmark
   space      toggle a breakpoint on the selected disassembly line
   * / #      next / previous write to the selected register or memory row
   n / N      repeat the last * / # search  + / -   zoom the timeline
   v          highlight what the last instruction changed / what changed since the last view
   tab        next pane                    escape  cancel a long operation
   :          command line (si rsi ni rni c rc finish rfinish b *ADDR b SYM delete
              watch *ADDR [LEN] rwatch awatch x ADDR|$REG goto ICOUNT|N% mark L help q
              last ADDR [LEN]: the write that gave it its value; origin ADDR: where it came from;
              query [SQL]: ask the index, enter on a row goes to its icount)
   ctrl+p     command palette              ?       this help       q   quit
"""
