"""gdb's view of one position: the backtrace, each frame's arguments and locals, `print`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ttdbg.symbols import Symbols

from .expressions import Evaluator, ExpressionError, Value, print_value
from .frames import Frame, Frames, Target
from .info import DebugInfo
from .types import CType, format_letter


@dataclass(frozen=True)
class FrameLine:
    """One backtrace row, in gdb's words."""

    level: int
    pc: int
    function: str
    args: tuple[str, ...]  # `x=5`, `x=x@entry=5`, ... as gdb's bt prints them
    file: str  # "" without line info
    line: int

    def describe(self, with_pc: bool = False) -> str:
        """`#1  0x4016c3 in main () at src/walk.c:24` as gdb's bt prints it."""
        args = ", ".join(self.args)
        where = f" at {self.file}:{self.line}" if self.file else ""
        pc = f"{self.pc:#018x} in " if with_pc else ""
        return f"#{self.level:<2} {pc}{self.function} ({args}){where}"


class Inspector:
    """Source-level questions about a target, answered from the program's DWARF."""

    def __init__(self, image: bytes, symbols: Symbols, arch: str, pc: str, sp: str) -> None:
        self.symbols = symbols
        self.frames = Frames(DebugInfo(image), arch, pc, sp)

    @property
    def has_debug_info(self) -> bool:
        return bool(self.frames.info.functions)

    def unwind(self, target: Target) -> list[Frame]:
        return self.frames.unwind(target)

    def variables(self, frame: Frame, target: Target) -> list[tuple[str, str, bool]]:
        """(name, value as gdb shows it, is an argument) for the frame's variables."""
        return [
            (v.name, self.frames.describe_variable(v, frame, target, self.symbols.describe),
             v.is_param)
            for v in self.frames.variables(frame)
        ]  # fmt: skip

    def backtrace(self, target: Target, frames: list[Frame] | None = None) -> list[FrameLine]:
        rows = []
        for frame in frames if frames is not None else self.unwind(target):
            fn = frame.function
            name = fn.name if fn is not None else (self.symbols.describe(frame.pc) or "??")
            line = self.symbols.line_for(frame.lookup_pc)
            describe = self.symbols.describe
            args = tuple(
                item
                for var in self.frames.variables(frame)
                if var.is_param
                for item in self.frames.backtrace_argument(var, frame, target, describe)
            )
            path = os.path.normpath(line.path) if line is not None else ""
            rows.append(
                FrameLine(frame.level, frame.pc, name, args, path, line.line if line else 0)
            )
        return rows

    def print(self, expression: str, frame: Frame | None, target: Target) -> str:
        """gdb's `print EXPR` value text; ExpressionError says what is wrong."""
        value = Evaluator(self.frames, frame, target).evaluate(expression)
        return print_value(value, self.frames, target, self.symbols.describe)

    def print_formatted(
        self, expression: str, letter: str, frame: Frame | None, target: Target
    ) -> str:
        """What `print/LETTER EXPR` shows: every scalar of the value (members, elements)
        formatted by the letter, as gdb does."""
        value = Evaluator(self.frames, frame, target).evaluate(expression)
        try:
            return format_letter(value.type, value.data, letter, self.symbols.describe)
        except ValueError as err:
            raise ExpressionError(str(err)) from None

    def lvalue(self, expression: str, frame: Frame | None, target: Target) -> Value:
        """An lvalue in memory (a watchpoint's range and type)."""
        value = Evaluator(self.frames, frame, target).evaluate(expression)
        if value.address is None or not value.type.size:
            raise ExpressionError(f"{expression}: not an lvalue in memory")
        return value

    def format(self, t: CType, data: bytes, target: Target) -> str:
        return self.frames.format(t, data, target, self.symbols.describe)


__all__ = ["ExpressionError", "FrameLine", "Inspector"]
