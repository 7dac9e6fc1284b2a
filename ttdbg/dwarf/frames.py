"""Frames by CFI unwinding (.eh_frame / .debug_frame), variables located by DWARF location
expressions, and the values they hold."""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from elftools.dwarf.callframe import FDE

from .info import DebugInfo, Function, Ops, Variable, register_number, untrusted
from .registers import DWARF_REGISTERS
from .types import CType, format_value

MAX_FRAMES = 64
MAX_STRING = 200  # bytes of a char * shown, as gdb's `print elements`


MAX_ENTRY_DEPTH = 8  # callers followed for one entry value (recursion passes them on)


class Target(Protocol):
    """What a frame reads: the machine at one position."""

    def registers(self) -> dict[str, int]: ...

    def read_memory(self, addr: int, size: int) -> bytes: ...


class Unavailable(Exception):
    """A value that cannot be had here (optimized out, unsupported expression, bad memory)."""


@dataclass(frozen=True)
class Location:
    """Where a value lives: memory, a register, or nowhere (a computed value)."""

    kind: str  # "memory", "register", "value"
    where: int | str  # address, register name, or the value itself

    @property
    def address(self) -> int | None:
        return self.where if self.kind == "memory" and isinstance(self.where, int) else None


@dataclass(frozen=True)
class Frame:
    """One activation: its level, pc, registers as they were in it, CFA and function."""

    level: int
    pc: int
    registers: dict[str, int]
    cfa: int | None
    function: Function | None

    @property
    def lookup_pc(self) -> int:
        """The pc to look lines and scopes up by: inside the call for caller frames."""
        return self.pc if self.level == 0 else self.pc - 1


class Frames:
    """Unwinds the stack of a Target with the program's CFI and reads variables in a frame."""

    def __init__(self, info: DebugInfo, arch: str, pc_name: str, sp_name: str) -> None:
        self.info = info
        self.regnames, self.ra_column = DWARF_REGISTERS.get(arch, ({}, -1))
        self.pc_name, self.sp_name = pc_name, sp_name
        self._fdes: list[tuple[int, int, Any]] = []
        self._tables: dict[int, Any] = {}
        untrusted(self._read_cfi, None)
        self._fdes.sort(key=lambda f: f[0])
        self._starts = [f[0] for f in self._fdes]

    def _read_cfi(self) -> None:
        elf = self.info.elf
        if elf is None or not elf.has_dwarf_info():
            return
        dwarf = elf.get_dwarf_info()
        for has, entries in ((dwarf.has_EH_CFI, dwarf.EH_CFI_entries),
                             (dwarf.has_CFI, dwarf.CFI_entries)):  # fmt: skip
            if untrusted(has, False):
                found: list[Any] = untrusted(entries, [])
                for entry in found:
                    if isinstance(entry, FDE):
                        start = entry["initial_location"] + self.info.bias
                        self._fdes.append((start, start + entry["address_range"], entry))

    def _row(self, pc: int) -> dict[str, Any] | None:
        i = bisect.bisect_right(self._starts, pc) - 1
        if i < 0 or not self._fdes[i][0] <= pc < self._fdes[i][1]:
            return None
        start, _end, fde = self._fdes[i]
        table = self._tables.get(start)
        if table is None:
            table = self._tables[start] = untrusted(lambda: fde.get_decoded().table, [])
        row = None
        for candidate in table:
            if candidate["pc"] + self.info.bias <= pc:
                row = candidate
            else:
                break
        return row

    def _cfa(self, row: dict[str, Any], regs: dict[str, int]) -> int | None:
        rule = row.get("cfa")
        if rule is None or rule.expr is not None:
            return None
        name = self.regnames.get(rule.reg)
        if name is None or name not in regs:
            return None
        return (regs[name] + rule.offset) & (2**64 - 1)

    def unwind(self, target: Target) -> list[Frame]:
        """The frames from the innermost out, ending at `main` as gdb's backtrace does (or
        where the CFI ends)."""
        regs = target.registers()
        frames: list[Frame] = []
        pc = regs[self.pc_name]
        while len(frames) < MAX_FRAMES:
            level = len(frames)
            lookup = pc if level == 0 else pc - 1
            row = self._row(lookup)
            cfa = self._cfa(row, regs) if row is not None else None
            fn = self.info.function_at(lookup)
            frames.append(Frame(level, pc, dict(regs), cfa, fn))
            if row is None or cfa is None or (fn is not None and fn.name == "main"):
                break
            caller = self._caller_registers(row, regs, cfa, target)
            if caller is None:
                break
            pc = caller[self.pc_name]
            if pc == 0:
                break
            regs = caller
        return frames

    def _caller_registers(
        self, row: dict[str, Any], regs: dict[str, int], cfa: int, target: Target
    ) -> dict[str, int] | None:
        caller = dict(regs)  # registers without a rule keep their value (callee-saved)
        caller[self.sp_name] = cfa
        for number, rule in row.items():
            if not isinstance(number, int):
                continue
            name = self.regnames.get(number)
            if rule.type == "OFFSET":
                try:
                    value = int.from_bytes(target.read_memory(cfa + rule.arg, 8), "little")
                except Exception:
                    return None
            elif rule.type == "VAL_OFFSET":
                value = cfa + rule.arg
            elif rule.type == "REGISTER" and self.regnames.get(rule.arg) in regs:
                value = regs[self.regnames[rule.arg]]
            elif rule.type in ("SAME_VALUE", "UNDEFINED"):
                continue
            else:
                return None
            if number == self.ra_column:
                caller[self.pc_name] = value
            if name is not None:
                caller[name] = value
        if self.ra_column not in row:
            return None
        return caller

    # -- variables ----------------------------------------------------------------------------

    def variables(self, frame: Frame) -> list[Variable]:
        """The frame's arguments, then its locals in scope innermost block first, as gdb's
        `info args` and `info locals` list them."""
        if frame.function is None:
            return []
        pc = frame.lookup_pc
        seen = [v for v in frame.function.variables if v.visible_at(pc)]
        args = [v for v in seen if v.is_param]
        local = sorted((v for v in seen if not v.is_param), key=lambda v: -v.depth)
        return args + local

    def locate(self, ops: Ops, frame: Frame, target: Target, depth: int = 0) -> Location:
        """Evaluate a DWARF location expression in `frame` (`depth`: entry values followed
        into callers so far)."""
        stack: list[int] = []
        regs = frame.registers
        mask = 2**64 - 1

        def reg(number: int) -> int:
            name = self.regnames.get(number)
            if name is None or name not in regs:
                raise Unavailable(f"register {number} not available")
            return regs[name]

        for op in ops:
            name, args = op.op_name, op.args
            if name == "DW_OP_addr":
                stack.append(args[0] + self.info.bias)
            elif name.startswith("DW_OP_lit"):
                stack.append(int(name[9:]))
            elif name.startswith("DW_OP_const"):
                stack.append(args[0] & mask)
            elif name.startswith("DW_OP_reg") and name != "DW_OP_regx":
                return Location("register", self._name(int(name[9:])))
            elif name == "DW_OP_regx":
                return Location("register", self._name(args[0]))
            elif name.startswith("DW_OP_breg") and name != "DW_OP_bregx":
                stack.append((reg(int(name[10:])) + args[0]) & mask)
            elif name == "DW_OP_bregx":
                stack.append((reg(args[0]) + args[1]) & mask)
            elif name == "DW_OP_fbreg":
                stack.append((self._frame_base(frame, target) + args[0]) & mask)
            elif name == "DW_OP_call_frame_cfa":
                if frame.cfa is None:
                    raise Unavailable("no CFA here")
                stack.append(frame.cfa)
            elif name == "DW_OP_plus_uconst":
                stack.append((stack.pop() + args[0]) & mask)
            elif name in _BINARY:
                b, a = stack.pop(), stack.pop()
                stack.append(_BINARY[name](a, b) & mask)
            elif name == "DW_OP_neg":
                stack.append(-stack.pop() & mask)
            elif name == "DW_OP_dup":
                stack.append(stack[-1])
            elif name == "DW_OP_drop":
                stack.pop()
            elif name == "DW_OP_deref":
                stack.append(int.from_bytes(self._read(target, stack.pop(), 8), "little"))
            elif name == "DW_OP_stack_value":
                return Location("value", stack.pop())
            elif name in ("DW_OP_entry_value", "DW_OP_GNU_entry_value"):
                stack.append(self._entry_value(args[0], frame, target, depth) & mask)
            else:  # pieces, TLS...: not evaluated, as gdb's <optimized out>
                raise Unavailable(f"{name} not supported")
        if not stack:
            raise Unavailable("empty location")
        return Location("memory", stack.pop())

    def _entry_value(self, ops: Ops, frame: Frame, target: Target, depth: int) -> int:
        """DW_OP_entry_value, in the two forms gdb evaluates: of DW_OP_regN, the register's
        value when the frame's function was entered (the caller's DW_AT_call_value); of
        DW_OP_bregN 0 and a dereference, the value that register pointed to then (its
        DW_AT_call_data_value), as wide as the dereference."""
        number = register_number(ops)
        if number is not None:
            return self._call_value(number, frame, target, depth, data=False)
        names = [op.op_name for op in ops]
        if (
            len(ops) == 2
            and names[0].startswith("DW_OP_breg")
            and names[0] != "DW_OP_bregx"
            and ops[0].args[0] == 0
            and names[1] in ("DW_OP_deref", "DW_OP_deref_size")
        ):
            size = ops[1].args[0] if names[1] == "DW_OP_deref_size" else 8
            value = self._call_value(int(names[0][10:]), frame, target, depth, data=True)
            return value & ((1 << (8 * min(max(size, 1), 8))) - 1)
        raise Unavailable("<optimized out>")

    def _call_value(self, number: int, frame: Frame, target: Target, depth: int, data: bool) -> int:
        """What the caller's call site says DWARF register `number` held (or, `data`, what
        it pointed to) when it called `frame`'s function."""
        if depth >= MAX_ENTRY_DEPTH:
            raise Unavailable("<optimized out>")
        caller = self._caller(frame, target)
        site = self.info.call_sites.get(caller.pc)
        fn = frame.function
        if site is None or (site.origin is not None and (fn is None or site.origin != fn.low)):
            raise Unavailable("<optimized out>")  # no record, or a call to another function
        value = (site.data_values if data else site.values).get(number)
        if value is None:
            raise Unavailable("<optimized out>")
        loc = self.locate(value, caller, target, depth + 1)
        if loc.kind == "register":
            found = caller.registers.get(str(loc.where))
            if found is None:
                raise Unavailable("<optimized out>")
            return found
        return int(loc.where)  # a call value is the value the expression computes

    def entry_value(self, var: Variable, frame: Frame, target: Target) -> bytes:
        """The bytes parameter `var` held when the frame's function was entered, found as
        gdb finds its `x@entry` value: its location at the function's first instruction is
        a register, and the caller's call site says what that register held."""
        fn = frame.function
        ops = var.ops_at(fn.low) if fn is not None else None
        number = register_number(ops) if ops else None
        if number is None or not 0 < var.type.size <= 8:
            raise Unavailable("no entry value")
        value = self._call_value(number, frame, target, 0, data=False)
        return self.value_bytes(var.type, Location("value", value), frame, target)

    def _caller(self, frame: Frame, target: Target) -> Frame:
        """The frame that called `frame`, by its CFI."""
        row = self._row(frame.lookup_pc)
        if row is None or frame.cfa is None:
            raise Unavailable("<optimized out>")
        regs = self._caller_registers(row, frame.registers, frame.cfa, target)
        if regs is None:
            raise Unavailable("<optimized out>")
        pc = regs[self.pc_name]
        caller_row = self._row(pc - 1)
        cfa = self._cfa(caller_row, regs) if caller_row is not None else None
        return Frame(frame.level + 1, pc, regs, cfa, self.info.function_at(pc - 1))

    def _name(self, number: int) -> str:
        name = self.regnames.get(number)
        if name is None:
            raise Unavailable(f"register {number} not available")
        return name

    def _frame_base(self, frame: Frame, target: Target) -> int:
        fn = frame.function
        if fn is None or fn.frame_base is None:
            raise Unavailable("no frame base")
        loc = self.locate(fn.frame_base, frame, target)
        if loc.kind == "register":
            return frame.registers[str(loc.where)]
        if not isinstance(loc.where, int):
            raise Unavailable("no frame base")
        return loc.where

    @staticmethod
    def _read(target: Target, addr: int, size: int) -> bytes:
        try:
            return target.read_memory(addr, size)
        except Exception as err:
            raise Unavailable(f"Cannot access memory at address {addr:#x}") from err

    def value_bytes(self, t: CType, loc: Location, frame: Frame, target: Target) -> bytes:
        """The `t.size` bytes at a location."""
        if loc.kind == "memory":
            return self._read(target, int(loc.where), t.size)
        if loc.kind == "register":
            value = frame.registers.get(str(loc.where))
            if value is None:
                raise Unavailable("<optimized out>")
            return (value & (2 ** (8 * max(t.size, 8)) - 1)).to_bytes(max(t.size, 8), "little")[
                : t.size
            ]
        return (int(loc.where) & (2**64 - 1)).to_bytes(8, "little")[: t.size].ljust(t.size, b"\0")

    def read_variable(self, var: Variable, frame: Frame, target: Target) -> tuple[Location, bytes]:
        ops = var.ops_at(frame.lookup_pc)
        if ops is None:
            raise Unavailable("<optimized out>")
        loc = self.locate(ops, frame, target)
        return loc, self.value_bytes(var.type, loc, frame, target)

    def format(self, t: CType, data: bytes, target: Target, describe: Callable[[int], str]) -> str:
        """`data` as gdb prints a value of type `t`; a C++ reference as gdb shows one, its
        address and the value there (`@0x7ffe...: 6`)."""
        if t.kind == "reference" and t.target is not None:
            addr = int.from_bytes(data[:8], "little")
            try:
                referenced = self._read(target, addr, t.target.size)
            except Unavailable as err:
                return f"@{addr:#x}: <error: {err}>"
            return self.format_referenced(t, addr, referenced, target, describe)
        return self._format(t, data, target, describe)

    def format_referenced(
        self, t: CType, addr: int, referenced: bytes, target: Target, describe: Callable[[int], str]
    ) -> str:
        """A reference at `addr` to these bytes."""
        assert t.target is not None
        return f"@{addr:#x}: {self._format(t.target, referenced, target, describe)}"

    def _format(self, t: CType, data: bytes, target: Target, describe: Callable[[int], str]) -> str:
        def read_string(addr: int) -> bytes | None:
            out = b""
            while len(out) < MAX_STRING:
                try:
                    chunk = target.read_memory(addr + len(out), 16)
                except Exception:
                    try:
                        chunk = target.read_memory(addr + len(out), 1)
                    except Exception:
                        return out or None
                if b"\0" in chunk:
                    return out + chunk[: chunk.index(b"\0")]
                out += chunk
            return out[:MAX_STRING]

        return format_value(t, data, describe, read_string)

    def describe_variable(
        self, var: Variable, frame: Frame, target: Target, describe: Callable[[int], str]
    ) -> str:
        """`value` as gdb's info locals shows it, or <optimized out>."""
        return self.variable_value(var, frame, target, describe)[1]

    def variable_value(
        self, var: Variable, frame: Frame, target: Target, describe: Callable[[int], str]
    ) -> tuple[bytes | None, str]:
        """The variable's bytes (None where they cannot be had) and its value as gdb shows
        it."""
        try:
            _loc, data = self.read_variable(var, frame, target)
        except Unavailable as err:
            text = str(err)
            return None, text if text.startswith("<") else "<optimized out>"
        return data, self.format(var.type, data, target, describe)

    def backtrace_argument(
        self, var: Variable, frame: Frame, target: Target, describe: Callable[[int], str]
    ) -> list[str]:
        """A parameter as gdb's backtrace prints it (`print entry-values default`): `x=5`,
        `x=x@entry=5` where its entry value is known and the same, `x=6, x@entry=5` where
        it differs (or the value itself is gone)."""
        data, text = self.variable_value(var, frame, target, describe)
        try:
            if var.type.kind == "reference":
                return self._reference_argument(var, data, text, frame, target, describe)
            entry = self.entry_value(var, frame, target)
        except Unavailable:
            return [f"{var.name}={text}"]
        if data == entry:
            return [f"{var.name}={var.name}@entry={text}"]
        at_entry = self.format(var.type, entry, target, describe)
        return [f"{var.name}={text}", f"{var.name}@entry={at_entry}"]

    def _reference_argument(
        self,
        var: Variable,
        data: bytes | None,
        text: str,
        frame: Frame,
        target: Target,
        describe: Callable[[int], str],
    ) -> list[str]:
        """A C++ reference parameter: its entry value is the referenced value at the call
        (the call site's DW_AT_call_data_value); the same as now when the referenced bytes
        are (gdb compares those, not the addresses)."""
        t, fn = var.type, frame.function
        ops = var.ops_at(fn.low) if fn is not None else None
        number = register_number(ops) if ops else None
        if number is None or t.target is None or data is None or not 0 < t.target.size <= 8:
            raise Unavailable("no entry value")
        addr = self._call_value(number, frame, target, 0, data=False)
        size = t.target.size
        entry = self._call_value(number, frame, target, 0, data=True) & ((1 << (8 * size)) - 1)
        referenced = entry.to_bytes(size, "little")
        now = self._read(target, int.from_bytes(data[:8], "little"), size)
        if now == referenced:
            return [f"{var.name}={var.name}@entry={text}"]
        at_entry = self.format_referenced(t, addr, referenced, target, describe)
        return [f"{var.name}={text}", f"{var.name}@entry={at_entry}"]


_BINARY: dict[str, Callable[[int, int], int]] = {
    "DW_OP_plus": lambda a, b: a + b,
    "DW_OP_minus": lambda a, b: a - b,
    "DW_OP_mul": lambda a, b: a * b,
    "DW_OP_and": lambda a, b: a & b,
    "DW_OP_or": lambda a, b: a | b,
    "DW_OP_xor": lambda a, b: a ^ b,
    "DW_OP_shl": lambda a, b: a << (b & 63),
    "DW_OP_shr": lambda a, b: a >> (b & 63),
    # a is a 64-bit stack entry: shra sees it as signed (gcc sign-extends call values so)
    "DW_OP_shra": lambda a, b: (a - (1 << 64) if a >> 63 else a) >> min(b, 63),
}
