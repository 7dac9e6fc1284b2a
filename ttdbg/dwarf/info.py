"""A program's DWARF read once: functions with their variables and scopes, globals, types.

Debug info is untrusted: everything is read inside `untrusted()`, and whatever pyelftools or
a malformed DIE raises means "nothing known here" (no function, no variable), never a crash.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from elftools.dwarf.dwarf_expr import DWARFExprOp, DWARFExprParser
from elftools.dwarf.locationlists import BaseAddressEntry as LocationBase
from elftools.dwarf.locationlists import LocationEntry, LocationExpr, LocationParser
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry
from elftools.elf.elffile import ELFFile

from .types import CType

T = TypeVar("T")
MAX_TYPE_DEPTH = 64  # nested types followed before a type is called unknown
MAX_ARRAY_BYTES = 1 << 20


def untrusted(read: Callable[..., T], nothing: T, *args: Any) -> T:
    """`read(*args)`, or `nothing` when the debug info it reads is malformed in any way."""
    try:
        return read(*args)
    except (Exception, RecursionError):
        return nothing


# A location: list of (low, high, ops) ranges (high exclusive), or one op list for all pcs.
Ops = list[Any]  # pyelftools DWARFExprOp


@dataclass(frozen=True)
class LocationRange:
    """One entry of a location list: the expression for pcs in [low, high)."""

    low: int
    high: int
    ops: Ops


@dataclass
class Variable:
    name: str
    type: CType
    location: Ops | list[LocationRange] | None  # None: optimized out
    is_param: bool
    scope: tuple[tuple[int, int], ...] = ()  # pc ranges where it is visible (empty: all)
    depth: int = 0  # lexical blocks around it: gdb lists the innermost first

    def ops_at(self, pc: int) -> Ops | None:
        loc = self.location
        if not loc:
            return None
        if isinstance(loc[0], LocationRange):
            return next((r.ops for r in loc if r.low <= pc < r.high), None)
        return loc

    def visible_at(self, pc: int) -> bool:
        return not self.scope or any(lo <= pc < hi for lo, hi in self.scope)


CALL_VALUE = ("DW_AT_call_value", "DW_AT_GNU_call_site_value")
CALL_DATA_VALUE = ("DW_AT_call_data_value", "DW_AT_GNU_call_site_data_value")


def register_number(ops: Ops) -> int | None:
    """N for a location that is exactly DW_OP_regN or DW_OP_regx N, else None."""
    if len(ops) != 1:
        return None
    name = ops[0].op_name
    if name == "DW_OP_regx":
        return int(ops[0].args[0])
    if name.startswith("DW_OP_reg") and name[9:].isdigit():
        return int(name[9:])
    return None


@dataclass(frozen=True)
class CallSite:
    """A call's record in the caller: the callee's entry address when the call names it, and
    for each parameter passed in a register (by DWARF number) the expressions of its value
    and of the value it points to, evaluated in the caller (what DW_OP_entry_value and
    gdb's `x@entry` ask for in the callee)."""

    origin: int | None
    values: dict[int, Ops]
    data_values: dict[int, Ops]


@dataclass
class Function:
    name: str
    low: int
    high: int
    frame_base: Ops | None
    variables: list[Variable] = field(default_factory=list)
    parser: DWARFExprParser | None = None


class DebugInfo:
    """Functions by address, globals by name, for one ELF image loaded at `bias`."""

    def __init__(self, image: bytes, bias: int = 0) -> None:
        self.bias = bias
        self.functions: list[Function] = []
        self.globals: dict[str, tuple[CType, int]] = {}  # name -> (type, address)
        self.call_sites: dict[int, CallSite] = {}  # by return address
        self._types: dict[int, CType] = {}
        self._range_lists: Any = None
        self.elf: ELFFile | None = untrusted(lambda: ELFFile(io.BytesIO(image)), None)
        if self.elf is not None and untrusted(self.elf.has_dwarf_info, False):
            untrusted(self._read, None)
        self.functions.sort(key=lambda f: f.low)
        self._lows = [f.low for f in self.functions]

    def function_at(self, pc: int) -> Function | None:
        i = bisect.bisect_right(self._lows, pc) - 1
        if i >= 0 and self.functions[i].low <= pc < self.functions[i].high:
            return self.functions[i]
        return None

    # -- reading ------------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.elf is not None
        dwarf = self.elf.get_dwarf_info()
        locations = LocationParser(dwarf.location_lists())
        self._range_lists = dwarf.range_lists()
        for cu in dwarf.iter_CUs():
            untrusted(self._read_cu, None, cu, locations)

    def _read_cu(self, cu: Any, locations: LocationParser) -> None:
        top = cu.get_top_DIE()
        low = top.attributes.get("DW_AT_low_pc")
        base = low.value if low is not None else 0
        parser = DWARFExprParser(cu.structs)
        for die in top.iter_children():
            if die.tag == "DW_TAG_subprogram":
                fn = untrusted(
                    lambda die=die: self._function(die, cu, base, parser, locations), None
                )
                if fn is not None:
                    self.functions.append(fn)
            elif die.tag == "DW_TAG_variable":
                untrusted(self._global, None, die, cu, parser)

    def _global(self, die: Any, cu: Any, parser: DWARFExprParser) -> None:
        name = _name(die)
        loc = die.attributes.get("DW_AT_location")
        if not name or loc is None or loc.form != "DW_FORM_exprloc":
            return
        ops = parser.parse_expr(loc.value)
        if len(ops) == 1 and ops[0].op_name == "DW_OP_addr":
            self.globals[name] = (self.type_of(die, cu), ops[0].args[0] + self.bias)

    def _pc_range(self, die: Any) -> tuple[int, int] | None:
        low = die.attributes.get("DW_AT_low_pc")
        high = die.attributes.get("DW_AT_high_pc")
        if low is None or high is None:
            return None
        end = high.value if high.form == "DW_FORM_addr" else low.value + high.value
        return low.value + self.bias, end + self.bias

    def _ranges(self, die: Any, cu: Any, base: int) -> tuple[tuple[int, int], ...]:
        """A DIE's DW_AT_ranges as [low, high) pairs (empty when it has none)."""
        attr = die.attributes.get("DW_AT_ranges")
        if attr is None or self._range_lists is None:
            return ()
        if attr.form == "DW_FORM_rnglistx":
            entries = self._range_lists.get_range_list_at_offset_ex(attr.value, cu)
        else:
            entries = self._range_lists.get_range_list_at_offset(attr.value, cu=cu)
        out = []
        for entry in entries:
            if isinstance(entry, BaseAddressEntry):
                base = entry.base_address
            elif isinstance(entry, RangeEntry):
                lo, hi = entry.begin_offset, entry.end_offset
                if not entry.is_absolute:
                    lo, hi = lo + base, hi + base
                out.append((lo + self.bias, hi + self.bias))
        return tuple(out)

    def _function(
        self, die: Any, cu: Any, base: int, parser: DWARFExprParser, locations: LocationParser
    ) -> Function | None:
        span = self._pc_range(die)
        if span is None:
            return None
        fb = die.attributes.get("DW_AT_frame_base")
        frame_base = parser.parse_expr(fb.value) if fb and fb.form == "DW_FORM_exprloc" else None
        fn = Function(_name(_origin(die)) or "??", span[0], span[1], frame_base, parser=parser)
        self._variables(die, cu, base, parser, locations, fn, ())
        return fn

    def _variables(
        self,
        die: Any,
        cu: Any,
        base: int,
        parser: DWARFExprParser,
        locations: LocationParser,
        fn: Function,
        scope: tuple[tuple[int, int], ...],
        depth: int = 0,
    ) -> None:
        for child in die.iter_children():
            if child.tag in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
                var = untrusted(self._variable, None, child, cu, base, parser, locations, scope)
                if var is not None:
                    var.depth = depth
                    fn.variables.append(var)
            elif child.tag in ("DW_TAG_call_site", "DW_TAG_GNU_call_site"):
                untrusted(self._call_site, None, child, parser)
            elif child.tag == "DW_TAG_lexical_block":
                span = self._pc_range(child)
                inner = (span,) if span is not None else self._ranges(child, cu, base) or scope
                self._variables(child, cu, base, parser, locations, fn, inner, depth + 1)

    def _call_site(self, die: Any, parser: DWARFExprParser) -> None:
        ret = die.attributes.get("DW_AT_call_return_pc") or die.attributes.get("DW_AT_low_pc")
        if ret is None or not isinstance(ret.value, int):
            return
        values: dict[int, Ops] = {}
        data_values: dict[int, Ops] = {}
        for child in die.iter_children():
            if child.tag not in ("DW_TAG_call_site_parameter", "DW_TAG_GNU_call_site_parameter"):
                continue
            loc = child.attributes.get("DW_AT_location")
            if loc is None or not isinstance(loc.value, list):
                continue
            number = register_number(parser.parse_expr(loc.value))
            if number is None:
                continue
            for attrs, found in ((CALL_VALUE, values), (CALL_DATA_VALUE, data_values)):
                value = next((child.attributes[a] for a in attrs if a in child.attributes), None)
                if value is not None and isinstance(value.value, list):
                    found[number] = parser.parse_expr(value.value)
        if values or data_values:
            self.call_sites[ret.value + self.bias] = CallSite(
                untrusted(self._call_origin, None, die), values, data_values
            )

    def _call_origin(self, die: Any) -> int | None:
        """The entry address of the function a call site names (None: an indirect call)."""
        for attr in ("DW_AT_call_origin", "DW_AT_abstract_origin"):
            if attr in die.attributes:
                low = die.get_DIE_from_attribute(attr).attributes.get("DW_AT_low_pc")
                if low is not None and isinstance(low.value, int):
                    return int(low.value) + self.bias
        return None

    def _variable(
        self,
        die: Any,
        cu: Any,
        base: int,
        parser: DWARFExprParser,
        locations: LocationParser,
        scope: tuple[tuple[int, int], ...],
    ) -> Variable | None:
        declared = _origin(die)  # a clone's or an inlined copy's names and types are there
        name = _name(declared)
        if not name:
            return None
        is_param = die.tag == "DW_TAG_formal_parameter"
        attr = die.attributes.get("DW_AT_location")
        location: Any = None
        if attr is not None:
            parsed = locations.parse_from_attribute(attr, cu["version"], die)
            if isinstance(parsed, LocationExpr):
                location = parser.parse_expr(parsed.loc_expr)
            else:
                ranges = []
                for entry in parsed:
                    if isinstance(entry, LocationBase):
                        # Later offsets are from here (a unit whose code is in several
                        # sections has base 0: its lists say where each part starts).
                        base = entry.base_address
                    elif isinstance(entry, LocationEntry):
                        lo, hi = entry.begin_offset, entry.end_offset
                        if not entry.is_absolute:
                            lo, hi = lo + base, hi + base
                        ops = parser.parse_expr(entry.loc_expr)
                        ranges.append(LocationRange(lo + self.bias, hi + self.bias, ops))
                location = ranges
        const = die.attributes.get("DW_AT_const_value")
        if location is None and const is not None and isinstance(const.value, int):
            location = _constant(const.value)  # a value known at compile time, no location
        return Variable(name, self.type_of(declared, declared.cu), location, is_param, scope)

    def type_of(self, die: Any, cu: Any) -> CType:
        attr = die.attributes.get("DW_AT_type")
        if attr is None:
            return CType("void", "void", 0)
        return self._type(attr.value + cu.cu_offset, cu, 0)

    def _type(self, offset: int, cu: Any, depth: int) -> CType:
        known = self._types.get(offset)
        if known is not None:
            return known
        if depth > MAX_TYPE_DEPTH:
            return CType("void", "<unknown type>", 0)
        die = cu.get_DIE_from_refaddr(offset)
        tag = die.tag
        name = _name(die)
        size = _int_attr(die, "DW_AT_byte_size", 0)

        def target() -> CType | None:
            attr = die.attributes.get("DW_AT_type")
            return None if attr is None else self._type(attr.value + cu.cu_offset, cu, depth + 1)

        if tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type",
                   "DW_TAG_restrict_type", "DW_TAG_atomic_type"):  # fmt: skip
            inner = target() or CType("void", "void", 0)
            self._types[offset] = inner
            return inner
        t = CType("void", name or "void", size)
        self._types[offset] = t  # before the target: recursive types end here
        if tag == "DW_TAG_base_type":
            encoding = _int_attr(die, "DW_AT_encoding", 0)
            t.kind = _ENCODINGS.get(encoding, "uint")
        elif tag == "DW_TAG_pointer_type":
            t.kind, t.size, t.target = "pointer", size or 8, target()
        elif tag in ("DW_TAG_reference_type", "DW_TAG_rvalue_reference_type"):
            t.kind, t.size, t.target = "reference", size or 8, target()
        elif tag == "DW_TAG_array_type":
            t.kind, t.target = "array", target()
            bounds = [c for c in die.iter_children() if c.tag == "DW_TAG_subrange_type"]
            count: int | None = None
            if bounds:
                if "DW_AT_count" in bounds[0].attributes:
                    count = _int_attr(bounds[0], "DW_AT_count", 0)
                elif "DW_AT_upper_bound" in bounds[0].attributes:
                    count = _int_attr(bounds[0], "DW_AT_upper_bound", -1) + 1
            elem = t.target.size if t.target is not None else 0
            if count is not None and (count < 0 or count * elem > MAX_ARRAY_BYTES):
                count = None
            t.count = count
            t.size = (count or 0) * elem
        elif tag in ("DW_TAG_structure_type", "DW_TAG_union_type"):
            is_struct = tag == "DW_TAG_structure_type"
            t.kind = "struct" if is_struct else "union"
            t.name = f"{t.kind} {name or '{...}'}"
            for member in die.iter_children():
                if member.tag != "DW_TAG_member":
                    continue
                mt = self.type_of(member, cu)
                off = _int_attr(member, "DW_AT_data_member_location", 0)
                if off >= 0 and off + mt.size <= t.size:
                    t.members.append((_name(member) or "?", off, mt))
        elif tag == "DW_TAG_enumeration_type":
            t.kind = "enum"
            t.name = f"enum {name}" if name else "enum {...}"
            for e in die.iter_children():
                if e.tag == "DW_TAG_enumerator":
                    t.enumerators[_int_attr(e, "DW_AT_const_value", 0)] = _name(e) or "?"
        elif tag == "DW_TAG_subroutine_type":
            t.kind, t.name = "void", "function"
        return t


_ENCODINGS = {2: "bool", 4: "float", 5: "int", 6: "char", 7: "uint", 8: "uchar"}


def _constant(value: int) -> Ops:
    """The expression of a constant: DW_OP_constu VALUE; DW_OP_stack_value."""
    return [
        DWARFExprOp(0x10, "DW_OP_constu", [value & (2**64 - 1)], 0),
        DWARFExprOp(0x9F, "DW_OP_stack_value", [], 0),
    ]


def _origin(die: Any) -> Any:
    """The DIE that declares `die` (its DW_AT_abstract_origin: a clone or an inlined copy has
    only its addresses and locations), or `die` itself."""
    if "DW_AT_name" in die.attributes or "DW_AT_abstract_origin" not in die.attributes:
        return die
    return untrusted(lambda: die.get_DIE_from_attribute("DW_AT_abstract_origin"), die)


def _name(die: Any) -> str:
    attr = die.attributes.get("DW_AT_name")
    if attr is None:
        return ""
    value = attr.value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _int_attr(die: Any, name: str, default: int) -> int:
    attr = die.attributes.get(name)
    return attr.value if attr is not None and isinstance(attr.value, int) else default
