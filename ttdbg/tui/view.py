"""Everything the screen shows at one position, computed off the UI thread (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from ttdbg.backend.codebreaks import CodeBreakpoint
from ttdbg.backend.eventlog import Event
from ttdbg.backend.machines.board import Board
from ttdbg.backend.modules import loaded_modules
from ttdbg.backend.timeline import ThreadInfo, Timeline, TimelineError
from ttdbg.dwarf.inspector import ExpressionError, FrameLine, Inspector
from ttdbg.symbols import LoadedImage, SourceLine, Symbols
from ttdbg.tui.gdbdisasm import GdbDisassembler

MEMORY_BYTES = 512  # shown in the memory pane (it scrolls)
REMEMBERED_MARGIN = 256  # bytes kept below the stack pointer (pushes move the pane's window)
REMEMBERED = MEMORY_BYTES + 2 * REMEMBERED_MARGIN
STACK_WORDS = 64
DECODED_KEPT = 256  # decoded stretches of code kept (keyed by their bytes)
SPELLED_KEPT = 8192  # instructions' gdb spellings kept
OUTPUT_TAIL = 4000  # bytes of program output the output pane keeps


@dataclass(frozen=True)
class DisasmLine:
    addr: int
    size: int
    text: str
    label: str  # symbol+offset
    is_pc: bool


@dataclass(frozen=True)
class DeviceRegisters:
    """One modelled device of a firmware board and its registers' values (peripherals pane)."""

    name: str
    base: int | None  # where it is mapped; None for a device reached by system registers
    registers: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class _Remembered:
    """Registers and memory at one icount, read before a move."""

    icount: int
    registers: dict[str, int]
    memory_addr: int
    memory: bytes | None


@dataclass(frozen=True)
class StateView:
    """The machine at `icount` and what its last instruction changed."""

    icount: int
    end: int
    pc: int
    registers: dict[str, int]
    changed: frozenset[str]
    disasm: tuple[DisasmLine, ...]
    memory_addr: int
    memory: bytes | None
    memory_changed: frozenset[int]
    stack: tuple[tuple[int, int | None, str], ...]
    source: SourceLine | None
    interval: tuple[int, int]
    events_before: tuple[Event, ...] = ()
    events_after: tuple[Event, ...] = ()
    output: str = ""
    exit_text: str = ""
    backtrace: tuple[FrameLine, ...] = ()
    frame_level: int = 0  # the selected frame (up/down/frame N)
    variables: tuple[tuple[str, str, bool], ...] = ()  # the selected frame's (name, value, arg)
    displays: tuple[tuple[str, str], ...] = ()  # `display EXPR` values in the selected frame
    threads: tuple[ThreadInfo, ...] = ()  # every thread of the recording, as at the position
    # Firmware: the serial text before the position is `output`; False until the recording's
    # history (one replay) has been read.
    output_known: bool = True
    peripherals: tuple[DeviceRegisters, ...] = ()  # firmware: the board's devices
    # Each breakpoint on a library's code, with the addresses it applies at here (none
    # where the library is not mapped at this position).
    code_breaks: tuple[tuple[CodeBreakpoint, tuple[int, ...]], ...] = ()


class ViewBuilder:
    """Builds StateViews for one timeline; knows the program's symbols and disassembler."""

    def __init__(self, timeline: Timeline, symbols: Symbols) -> None:
        self.tl = timeline
        self.symbols = symbols
        arch = timeline.machine.arch
        image = timeline.recording.program_image
        self.inspector = Inspector(image, symbols, arch.name, arch.pc, arch.sp)
        self.frame_level = 0  # set by the UI (up/down/frame N); 0 after every move
        self.disasm_rows = 24  # set by the UI from the disassembly pane's height
        self.displays: list[str] = []
        # gdb's spelling, the x/i command's too: one decoder for both.
        self.disassembler = GdbDisassembler(arch.cs_arch, arch.cs_mode)
        self.sp_name = arch.sp
        self.pc_name = arch.pc
        self._before: _Remembered | None = None  # the state before the last move
        self._window = -1  # the first address of the disassembly shown last
        self._decoded: dict[tuple[object, ...], tuple[DisasmLine, ...]] = {}
        self._spelled: dict[tuple[int, bytes], str] = {}
        self._spelled_for: object = None
        self._built_at: tuple[int, dict[str, int]] | None = None  # icount, registers there

    def set_flavor(self, flavor: str) -> None:
        """x86's disassembly syntax (gdb's `set disassembly-flavor`), for the pane and x/i:
        the pane's rows spelled in the other one are forgotten."""
        self.disassembler.flavor = flavor
        self._decoded.clear()
        self._spelled, self._spelled_for = {}, None

    def remember(self, memory_addr: int | str | None) -> None:
        """Keep the registers and the memory around the memory pane's window, as they are
        before a move: if the move turns out to be one instruction forward, what it changed
        is known without going back for it (a replay from a snapshot)."""
        tl = self.tl
        built = self._built_at
        # A replay is deterministic: at the icount of the last view, the registers are those
        # it read (the next step remembers them from there, a read of every register less).
        regs = built[1] if built is not None and built[0] == tl.position else tl.registers()
        around = max(0, self._memory_address(regs, memory_addr) - REMEMBERED_MARGIN)
        self._before = _Remembered(tl.position, regs, around, self._memory(around, REMEMBERED))

    def _memory_address(self, regs: dict[str, int], memory_addr: int | str | None) -> int:
        """The memory pane shows a fixed address, or follows a register (the stack pointer
        unless told otherwise)."""
        if memory_addr is None or isinstance(memory_addr, str):
            return regs.get(memory_addr or self.sp_name, regs[self.sp_name])
        return memory_addr

    def _previous(self, mem_addr: int) -> tuple[dict[str, int], bytes | None]:
        """The registers and memory pane bytes one instruction before the position."""
        tl = self.tl
        position = tl.position
        before = self._before
        if before is not None and before.icount == position - 1 and before.memory is not None:
            offset = mem_addr - before.memory_addr
            if offset >= 0 and offset + MEMORY_BYTES <= len(before.memory):
                return before.registers, before.memory[offset : offset + MEMORY_BYTES]
        previous: tuple[dict[str, int], bytes | None] = tl.peek(
            position - 1, lambda: (tl.registers(), self._memory(mem_addr))
        )
        return previous

    def _follow_libraries(self) -> None:
        """Symbolize the libraries loaded at this position, from the recording's files."""
        if self.tl.proc.firmware:
            return  # firmware is one ELF: no libraries are mapped
        modules = loaded_modules(self.tl.proc.platform, self.tl.recording.files)
        self.symbols.set_libraries([LoadedImage(*m) for m in modules])

    def disassemble(self, pc: int, before: int, after: int) -> tuple[DisasmLine, ...]:
        """`before` instructions leading to pc (decoded from the function start) and `after`.

        While the pc stays inside the rows shown last (a loop, straight-line code), those
        rows stay where they are and only the pc mark moves, as in gdb's TUI.
        """
        rows = before + after + 1
        if 0 <= self._window <= pc:
            lines = self._decode(self._window, pc, rows)
            index = next((i for i, ln in enumerate(lines) if ln.addr == pc), None)
            if index is not None and min(before, 2) <= index < rows - min(after, 2):
                return self._mark(lines[:rows], pc)
        sym = self.symbols.lookup(pc)
        start = sym.addr if sym is not None and 0 <= pc - sym.addr < 4096 else pc
        # Decode enough after the pc to fill the rows `before` leaves empty near a start.
        lines = self._decode(start, pc, rows)
        index = next((i for i, ln in enumerate(lines) if ln.addr == pc), None)
        if index is None and start != pc:  # pc is not on the path decoded from the symbol
            lines, index = self._decode(pc, pc, rows), 0
        if index is None or not lines:
            self._window = -1
            return ()
        low = max(0, index - before)
        shown = lines[low : low + rows]
        self._window = shown[0].addr
        return self._mark(shown, pc)

    @staticmethod
    def _mark(lines: tuple[DisasmLine, ...], pc: int) -> tuple[DisasmLine, ...]:
        return tuple(replace(ln, is_pc=True) if ln.addr == pc else ln for ln in lines)

    def _decode(self, start: int, pc: int, after: int) -> tuple[DisasmLine, ...]:
        """Instructions from `start` to `after` past pc (fewer where memory ends), decoded
        and symbolized once for the same bytes."""
        try:
            code = self.tl.read_memory(start, pc - start + 16 * (after + 1))
        except TimelineError:
            try:
                code = self.tl.read_memory(start, pc - start + 16)
            except TimelineError:
                return ()
        key = (start, pc, after, code, self.symbols.libraries_key)
        cached = self._decoded.get(key)
        if cached is None:
            if len(self._decoded) >= DECODED_KEPT:
                self._decoded.clear()
            cached = self._decoded[key] = self._decode_bytes(start, code, pc, after)
        return cached

    def _decode_bytes(self, start: int, code: bytes, pc: int, after: int) -> tuple[DisasmLine, ...]:
        """The instructions from `start` to `after` past the pc; only those that can be shown
        (up to `after` rows before the pc, as many as there are rows) are spelled."""
        disassembler, describe = self.disassembler, self.symbols.describe_within
        found: list[tuple[int, int]] = []
        past = 0  # instructions decoded after the pc
        for addr, size, _text in disassembler.instructions(code, start, len(code), describe, False):
            found.append((addr, size))
            past += addr > pc
            if past >= after:
                break
        at_pc = next((i for i, (addr, _size) in enumerate(found) if addr >= pc), len(found))
        first = max(0, at_pc - after)
        if first == len(found):
            return ()
        lines = [DisasmLine(addr, size, "", "", False) for addr, size in found[:first]]
        spelled = self._spellings()
        shown = [
            (addr, size, code[addr - start : addr - start + size]) for addr, size in found[first:]
        ]
        if any((addr, raw) not in spelled for addr, _size, raw in shown):
            begin = shown[0][0]
            again = disassembler.instructions(code[begin - start :], begin, len(shown), describe)
            for addr, size, text in again:
                spelled[(addr, code[addr - start : addr - start + size])] = text
        for addr, size, raw in shown:
            text = spelled.get((addr, raw), "")
            # Labels by gdb's rules too: the pane and x/i name a place alike.
            lines.append(DisasmLine(addr, size, text, describe(addr), False))
        return tuple(lines)

    def _spellings(self) -> dict[tuple[int, bytes], str]:
        """gdb's text of the instructions decoded so far, by (address, bytes), for the
        libraries loaded now (their symbols name the targets): a step re-spells nothing."""
        key = self.symbols.libraries_key
        if key != self._spelled_for or len(self._spelled) >= SPELLED_KEPT:
            self._spelled, self._spelled_for = {}, key
        return self._spelled

    def _memory(self, addr: int, size: int = MEMORY_BYTES) -> bytes | None:
        """`size` bytes from `addr`, or as many as are mapped (at least 16)."""
        while size >= 16:
            try:
                return self.tl.read_memory(addr, size)
            except TimelineError:
                size //= 2
        return None

    def build(
        self, memory_addr: int | str | None, before: int | None = None, after: int | None = None
    ) -> StateView:
        """The view at the current position, read in one piece (on the engine thread); the
        disassembly fills `disasm_rows` (the pane's height), a third of it before the pc."""
        rows = max(8, self.disasm_rows)
        before = rows // 3 if before is None else before
        after = rows - before - 1 if after is None else after
        return self._build(memory_addr, before, after)

    def _build(self, memory_addr: int | str | None, before: int, after: int) -> StateView:
        self._follow_libraries()
        tl = self.tl
        regs = tl.registers()
        self._built_at = (tl.position, regs)
        pc = regs[self.pc_name]
        mem_addr = self._memory_address(regs, memory_addr)
        memory = self._memory(mem_addr)
        position = tl.position
        if position > 0:
            prev_regs, prev_mem = self._previous(mem_addr)
        else:
            prev_regs, prev_mem = regs, memory
        changed = frozenset(n for n, v in regs.items() if prev_regs.get(n) != v)
        mem_changed = _differing(memory or b"", prev_mem or b"")
        sp = regs[self.sp_name]
        stack = []
        try:  # one read for the whole stack window; word by word near the end of a map
            block: bytes | None = tl.read_memory(sp, 8 * STACK_WORDS)
        except TimelineError:
            block = None
        describe = self.symbols.describe_within  # gdb's `x/a` labels, kept by Symbols
        for i in range(STACK_WORDS):
            addr = sp + 8 * i
            word: int | None
            if block is not None:
                word = int.from_bytes(block[8 * i : 8 * i + 8], "little")
            else:
                try:
                    word = int.from_bytes(tl.read_memory(addr, 8), "little")
                except TimelineError:
                    word = None
            stack.append((addr, word, describe(word) if word else ""))
        before_events, after_events = tl.events_around(6, 6)
        firmware = tl.firmware
        history = tl.history_read
        if firmware is None:
            out = b"".join(data for _fd, data in tl.output_so_far(tail=OUTPUT_TAIL))
        else:  # the serial console is the output of firmware
            out = history.serial_before(position, OUTPUT_TAIL) if history is not None else b""
        exit_text = ""
        if tl.at_end:
            exit_text = tl.end_stop().describe()
        frames = self.inspector.unwind(tl) if self.inspector.has_debug_info else []
        level = max(0, min(self.frame_level, len(frames) - 1))
        frame = frames[level] if frames else None
        displays = []
        for expr in list(self.displays):  # the UI thread may add one meanwhile
            try:
                displays.append((expr, self.inspector.print(expr, frame, tl)))
            except ExpressionError as err:
                displays.append((expr, f"<{err}>"))
        return StateView(
            icount=position,
            end=tl.end,
            pc=pc,
            registers=regs,
            changed=changed,
            disasm=self.disassemble(pc, before, after),
            memory_addr=mem_addr,
            memory=memory,
            memory_changed=mem_changed,
            stack=tuple(stack),
            source=self.symbols.line_for(pc),
            interval=tl.snapshot_interval(),
            events_before=tuple(before_events),
            events_after=tuple(after_events),
            output=out[-OUTPUT_TAIL:].decode("utf-8", "replace"),
            exit_text=exit_text,
            backtrace=tuple(self.inspector.backtrace(tl, frames)),
            frame_level=level,
            variables=tuple(self.inspector.variables(frame, tl)) if frame else (),
            displays=tuple(displays),
            threads=tuple(tl.recorded_threads()),
            output_known=firmware is None or history is not None,
            peripherals=() if firmware is None else peripherals(firmware.board),
            code_breaks=tuple(
                (bp, tuple(tl.code_addresses(bp))) for bp in sorted(tl.code_breakpoints)
            ),
        )


def _differing(now: bytes, before: bytes) -> frozenset[int]:
    """The offsets where two byte strings differ (over the shorter one's length). Most
    instructions write no byte of the window: a comparison of the two strings, not a loop
    over 512 byte pairs, then says so."""
    length = min(len(now), len(before))
    if now[:length] == before[:length]:
        return frozenset()
    return frozenset(i for i in range(length) if now[i] != before[i])


def peripherals(board: Board) -> tuple[DeviceRegisters, ...]:
    """The board's devices that show registers, with their values now."""
    bases = {dev.name: dev.base for dev in board.devices}
    return tuple(
        DeviceRegisters(name, bases.get(name), tuple(regs.items()))
        for name, regs in board.peripherals().items()
        if regs
    )
