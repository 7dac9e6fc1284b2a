"""C lvalue expressions for `print` and `display`: names, `.member`, `->member`, `[index]`,
`*ptr`, `&lvalue`, integer literals and parentheses, evaluated in a frame."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .frames import Frame, Frames, Location, Target, Unavailable
from .types import CType

_TOKEN = re.compile(r"\s*(->|0[xX][0-9a-fA-F]+|\d+|[A-Za-z_]\w*|[.\[\]()*&-])")


class ExpressionError(ValueError):
    """The expression is not one this evaluator understands, or names nothing."""


@dataclass(frozen=True)
class Value:
    type: CType
    location: Location | None  # None for a computed value
    data: bytes

    @property
    def address(self) -> int | None:
        return self.location.address if self.location is not None else None


_LONG = CType("int", "long", 8)


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ExpressionError(f"cannot parse {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


class Evaluator:
    """Evaluates one expression in one frame of one target."""

    def __init__(self, frames: Frames, frame: Frame | None, target: Target) -> None:
        self.frames, self.frame, self.target = frames, frame, target
        self.toks: list[str] = []

    def evaluate(self, text: str) -> Value:
        self.toks = _tokens(text)
        if not self.toks:
            raise ExpressionError("an expression is needed")
        value = self._unary()
        if self.toks:
            raise ExpressionError(f"unexpected {self.toks[0]!r}")
        return value

    def _take(self, tok: str) -> bool:
        if self.toks and self.toks[0] == tok:
            self.toks.pop(0)
            return True
        return False

    def _unary(self) -> Value:
        if self._take("*"):
            return self._deref(self._unary())
        if self._take("&"):
            inner = self._unary()
            if inner.address is None:
                raise ExpressionError("Attempt to take address of value not located in memory.")
            t = CType("pointer", "", 8, target=inner.type)
            return Value(t, None, inner.address.to_bytes(8, "little"))
        if self._take("-"):
            inner = self._unary()
            n = -int.from_bytes(inner.data, "little", signed=True)
            return Value(_LONG, None, (n & (2**64 - 1)).to_bytes(8, "little"))
        return self._postfix(self._primary())

    def _primary(self) -> Value:
        if not self.toks:
            raise ExpressionError("incomplete expression")
        tok = self.toks.pop(0)
        if tok == "(":
            value = self._unary()
            if not self._take(")"):
                raise ExpressionError("missing )")
            return value
        if tok[0].isdigit():
            return Value(_LONG, None, (int(tok, 0) & (2**64 - 1)).to_bytes(8, "little"))
        if tok[0].isalpha() or tok[0] == "_":
            return self._name(tok)
        raise ExpressionError(f"unexpected {tok!r}")

    def _name(self, name: str) -> Value:
        frame = self.frame
        if frame is not None:
            for var in self.frames.variables(frame):
                if var.name == name:
                    try:
                        loc, data = self.frames.read_variable(var, frame, self.target)
                    except Unavailable as err:
                        raise ExpressionError(f"{name}: {err}") from err
                    return Value(var.type, loc, data)
        known = self.frames.info.globals.get(name)
        if known is None:
            raise ExpressionError(f'No symbol "{name}" in current context.')
        t, addr = known
        return self._at(t, addr)

    def _at(self, t: CType, addr: int) -> Value:
        try:
            data = self.target.read_memory(addr, t.size) if t.size else b""
        except Exception as err:
            raise ExpressionError(f"Cannot access memory at address {addr:#x}") from err
        return Value(t, Location("memory", addr), data)

    def _deref(self, value: Value) -> Value:
        t = value.type
        if t.kind == "array" and t.target is not None:
            return self._index(value, 0)
        if t.kind != "pointer" or t.target is None or t.target.kind == "void":
            raise ExpressionError("Attempt to take contents of a non-pointer value.")
        return self._at(t.target, int.from_bytes(value.data[:8], "little"))

    def _index(self, value: Value, index: int) -> Value:
        t = value.type
        elem = t.target
        if elem is None:
            raise ExpressionError("cannot subscript something of this type")
        if t.kind == "array":
            base = value.address
            if base is None:
                raise ExpressionError("array not in memory")
        elif t.kind == "pointer":
            base = int.from_bytes(value.data[:8], "little")
        else:
            raise ExpressionError("cannot subscript something of this type")
        return self._at(elem, (base + index * elem.size) & (2**64 - 1))

    def _postfix(self, value: Value) -> Value:
        while self.toks:
            if self._take("["):
                index = self._unary()
                if not self._take("]"):
                    raise ExpressionError("missing ]")
                value = self._index(value, int.from_bytes(index.data, "little", signed=True))
            elif self.toks[0] in (".", "->"):
                arrow = self.toks.pop(0) == "->"
                if arrow:
                    value = self._deref(value)
                if not self.toks:
                    raise ExpressionError("a member name is needed")
                value = self._member(value, self.toks.pop(0))
            else:
                break
        return value

    def _member(self, value: Value, name: str) -> Value:
        t = value.type
        if t.kind not in ("struct", "union"):
            raise ExpressionError(
                "Attempt to extract a component of a value that is not a structure."
            )
        for member, offset, mt in t.members:
            if member == name:
                loc = value.location
                if loc is not None and loc.address is not None:
                    return Value(
                        mt,
                        Location("memory", loc.address + offset),
                        value.data[offset : offset + mt.size],
                    )
                return Value(mt, None, value.data[offset : offset + mt.size])
        raise ExpressionError(f"There is no member named {name}.")


def print_value(
    value: Value, frames: Frames, target: Target, describe: Callable[[int], str]
) -> str:
    """The value as gdb's `print` shows it: pointers with their type in front."""
    text = frames.format(value.type, value.data, target, describe)
    t = value.type
    if t.kind == "pointer" and not (t.target is not None and t.target.is_char):
        return f"({t.spelled()}) {text}"
    return text
