"""ELF loading as Linux's exec does: the program, its dynamic loader, brk, the initial stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from ttdbg.errors import UnsupportedProgram
from ttdbg.limits import ADDRESS_SPACE, DEFAULT_MEMORY_LIMIT

from . import arch as arches
from .arch import Arch
from .elfheaders import (
    ET_DYN,
    ET_EXEC,
    PT_INTERP,
    PT_LOAD,
    PT_PHDR,
    ElfHeader,
    ProgramHeader,
    machine_name,
    read_headers,
    type_name,
)
from .machine import PAGE, PERM_R, PERM_W, PERM_X, Machine

PATH_MAX = 4096
STACK_LIMIT = 8 << 20  # RLIMIT_STACK: how far the stack may grow
STACK_INITIAL = 132 << 10  # what Linux maps at exec; the rest is mapped as the guest reaches it

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = (
    0,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
)
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = 11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN, AT_MINSIGSTKSZ = 23, 25, 26, 31, 51
AT_IGNORE = 1


def _page_down(value: int) -> int:
    return value & ~(PAGE - 1)


def _page_up(value: int) -> int:
    return (value + PAGE - 1) & ~(PAGE - 1)


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    data: bytes
    perms: int
    paddr: int = 0  # the load address (p_paddr): where firmware loaders put it


@dataclass(frozen=True)
class Interpreter:
    """The dynamic loader, placed where Linux puts it: just below the mmap base."""

    path: str  # as the program names it (PT_INTERP), also its name in the recording
    base: int  # AT_BASE
    bias: int  # what its addresses gain (base minus its lowest segment's page)
    entry: int
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Program:
    """A parsed ELF executable, ready to load: nothing about it depends on the host."""

    arch: Arch
    entry: int
    segments: tuple[Segment, ...]
    phdr: int  # address of the program headers once loaded
    phent: int
    phnum: int
    load_bias: int
    interp_path: str | None = None  # PT_INTERP: the program needs this dynamic loader
    interp: Interpreter | None = None  # the loader itself, once attached

    @property
    def brk_start(self) -> int:
        return _page_up(max(s.vaddr + s.memsz for s in self.segments))

    @property
    def start_pc(self) -> int:
        """Where the first instruction runs: the loader's entry for a dynamic program."""
        return self.interp.entry if self.interp is not None else self.entry

    @property
    def all_segments(self) -> tuple[Segment, ...]:
        return self.segments + (self.interp.segments if self.interp is not None else ())


@dataclass(frozen=True)
class Identity:
    """The values of the process's identity the loader writes into the auxiliary vector."""

    uid: int
    euid: int
    gid: int
    egid: int
    random: bytes  # AT_RANDOM's 16 bytes


@dataclass(frozen=True)
class _Elf:
    arch: Arch
    header: ElfHeader
    segments: list[ProgramHeader]
    loads: list[ProgramHeader]
    interp: str | None


def _read_elf(image: bytes, name: str, what: str) -> _Elf:
    try:
        header, segments = read_headers(image)
    except ValueError as err:
        raise UnsupportedProgram(f"{name}: not a valid ELF {what} ({err})") from None
    try:
        arch = arches.by_elf_machine(machine_name(header.machine), header.elf_class)
    except UnsupportedProgram as err:
        raise UnsupportedProgram(f"{name}: {err}") from None
    interp = None
    for seg in segments:
        if seg.type == PT_INTERP:
            # As Linux's exec: the first PT_INTERP, a NUL-terminated path of at most PATH_MAX
            # bytes inside the file, up to its first NUL.
            raw = seg.data(image)
            if not 2 <= seg.filesz <= PATH_MAX or len(raw) != seg.filesz or raw[-1] != 0:
                raise UnsupportedProgram(f"{name}: not a valid ELF {what} (bad PT_INTERP)")
            interp = raw[: raw.index(0)].decode(errors="surrogateescape")
            break
    if header.type not in (ET_EXEC, ET_DYN):
        raise UnsupportedProgram(f"{name}: not an executable (ELF type {type_name(header.type)})")
    loads = [s for s in segments if s.type == PT_LOAD]
    if not loads:
        raise UnsupportedProgram(f"{name}: no loadable segments")
    return _Elf(arch, header, segments, loads, interp)


def _check_loads(loads: list[ProgramHeader], image_size: int, bias: int, name: str) -> None:
    """Refuse loadable segments that lie outside the file or user space, or that ask for
    more memory than a recording may hold, before anything is read or mapped."""
    total = 0
    for seg in loads:
        offset, filesz, vaddr, memsz = seg.offset, seg.filesz, seg.vaddr, seg.memsz
        if filesz > memsz or (filesz and offset + filesz > image_size):
            raise UnsupportedProgram(
                f"{name}: segment at {vaddr:#x} has {filesz:#x} file bytes at offset "
                f"{offset:#x} (memory {memsz:#x}, file {image_size:#x} bytes)"
            )
        if not 0 <= vaddr + bias <= vaddr + bias + memsz <= ADDRESS_SPACE:
            raise UnsupportedProgram(
                f"{name}: segment [{vaddr:#x}, +{memsz:#x}) lies outside user space"
            )
        total += memsz
    if total > DEFAULT_MEMORY_LIMIT:
        raise UnsupportedProgram(f"{name}: segments need {total:#x} bytes of memory")


def _segments(loads: list[ProgramHeader], bias: int, image: bytes) -> tuple[Segment, ...]:
    return tuple(
        Segment(
            vaddr=s.vaddr + bias,
            memsz=s.memsz,
            data=s.data(image),
            perms=(PERM_R if s.flags & 4 else 0)
            | (PERM_W if s.flags & 2 else 0)
            | (PERM_X if s.flags & 1 else 0),
            paddr=s.paddr + bias,
        )
        for s in loads
    )


def parse_program(image: bytes, name: str = "program") -> Program:
    """Parse an ELF image; raise UnsupportedProgram for anything ttdbg cannot run.

    A dynamic program comes back with `interp_path` set and no interpreter: the caller finds
    the loader's image and attaches it with `with_interpreter`.
    """
    elf = _read_elf(image, name, "executable")
    bias = elf.arch.pie_base if elf.header.type == ET_DYN else 0
    _check_loads(elf.loads, len(image), bias, name)
    phdr = _phdr_address(elf.segments, elf.loads, elf.header.phoff) + bias
    return Program(
        arch=elf.arch,
        entry=elf.header.entry + bias,
        segments=_segments(elf.loads, bias, image),
        phdr=phdr,
        phent=elf.header.phentsize,
        phnum=elf.header.phnum,
        load_bias=bias,
        interp_path=elf.interp,
    )


def with_interpreter(program: Program, image: bytes) -> Program:
    """The program with its dynamic loader placed as Linux places it: a position-independent
    loader goes just below the mmap base (where the first mmap would land), a fixed one at its
    own addresses."""
    path = program.interp_path or "interpreter"
    elf = _read_elf(image, path, "dynamic loader")
    if elf.arch is not program.arch:
        raise UnsupportedProgram(
            f"{path}: the dynamic loader is {elf.arch.name}, the program {program.arch.name}"
        )
    if elf.interp is not None:
        raise UnsupportedProgram(f"{path}: the dynamic loader itself names an interpreter")
    _check_loads(elf.loads, len(image), 0, path)
    low = _page_down(min(s.vaddr for s in elf.loads))
    high = _page_up(max(s.vaddr + s.memsz for s in elf.loads))
    dyn = elf.header.type == ET_DYN
    bias = _page_down(program.arch.mmap_base - (high - low)) - low if dyn else 0
    _check_loads(elf.loads, len(image), bias, path)
    interp = Interpreter(
        path=path,
        base=bias + low,
        bias=bias,
        entry=elf.header.entry + bias,
        segments=_segments(elf.loads, bias, image),
    )
    return replace(program, interp=interp)


def _phdr_address(segments: list[ProgramHeader], loads: list[ProgramHeader], phoff: int) -> int:
    for seg in segments:
        if seg.type == PT_PHDR:
            return seg.vaddr
    for seg in loads:
        if seg.offset <= phoff < seg.offset + seg.filesz:
            return seg.vaddr + phoff - seg.offset
    return 0


def initial_pages(program: Program) -> dict[int, bytes]:
    """The non-zero pages the loaded segments occupy, before the program runs.

    Snapshots store keyframes as differences from these, so the program's code and data are
    kept once per recording (in its program frame), not once per keyframe.
    """
    pages: dict[int, bytearray] = {}
    for seg in program.all_segments:
        addr = seg.vaddr
        data = seg.data
        pos = 0
        while pos < len(data):
            page = _page_down(addr + pos)
            off = addr + pos - page
            n = min(PAGE - off, len(data) - pos)
            pages.setdefault(page, bytearray(PAGE))[off : off + n] = data[pos : pos + n]
            pos += n
    return {a: bytes(p) for a, p in pages.items() if any(p)}


MapRegion = Callable[[int, int, int], None]  # start, length, perms


def map_program(machine: Machine, program: Program, map_region: MapRegion | None = None) -> None:
    """Map the program's segments, and its loader's (with `map_region`, else Unicorn's own
    mem_map); pages shared by two segments get both permissions."""
    map_region = map_region or machine.uc.mem_map
    _map_segments(machine, program.segments, map_region)
    if program.interp is not None:
        _map_segments(machine, program.interp.segments, map_region)


def _map_segments(machine: Machine, segments: tuple[Segment, ...], map_region: MapRegion) -> None:
    page_perms: dict[int, int] = {}
    for seg in segments:
        for page in range(_page_down(seg.vaddr), _page_up(seg.vaddr + seg.memsz), PAGE):
            page_perms[page] = page_perms.get(page, 0) | seg.perms
    pages = sorted(page_perms)
    run_start = pages[0]
    for i, page in enumerate(pages):
        nxt = pages[i + 1] if i + 1 < len(pages) else None
        if nxt != page + PAGE or page_perms[nxt] != page_perms[page]:
            map_region(run_start, page + PAGE - run_start, page_perms[page])
            if nxt is not None:
                run_start = nxt
    for seg in segments:
        machine.write(seg.vaddr, seg.data)


def build_stack(
    machine: Machine,
    program: Program,
    argv: list[bytes],
    envp: list[bytes],
    execfn: bytes,
    identity: Identity,
) -> int:
    """Map the stack and lay out argc, argv, envp and auxv as Linux does; return the new sp."""
    arch = program.arch
    top = arch.stack_top
    machine.uc.mem_map(top - STACK_INITIAL, STACK_INITIAL, PERM_R | PERM_W)
    # Linux leaves 8 zero bytes at the very top; glibc's start-up reads past the last string.
    p = top - 8

    def push_bytes(data: bytes) -> int:
        nonlocal p
        p -= len(data)
        machine.write(p, data)
        return p

    execfn_addr = push_bytes(execfn + b"\0")
    env_addrs = [push_bytes(s + b"\0") for s in reversed(envp)][::-1]
    arg_addrs = [push_bytes(s + b"\0") for s in reversed(argv)][::-1]
    p &= ~0xF  # arch_align_stack, without the randomization (as under setarch -R)
    platform_addr = push_bytes(arch.platform.encode() + b"\0") if arch.platform else 0
    random_addr = push_bytes(identity.random[:16].ljust(16, b"\0"))
    # create_elf_tables' order. AT_IGNORE stands where Linux puts the vDSO (ttdbg has none)
    # and, after AT_PLATFORM, the rseq entries of Linux 6.3+ (rseq is ENOSYS here): the vector
    # keeps Linux's length, so everything below it sits where a native run has it.
    auxv = [
        (AT_IGNORE, 0),  # AT_SYSINFO_EHDR
        (AT_MINSIGSTKSZ, 2048),
        (AT_HWCAP, arch.hwcap),
        (AT_PAGESZ, PAGE),
        (AT_CLKTCK, 100),
        (AT_PHDR, program.phdr),
        (AT_PHENT, program.phent),
        (AT_PHNUM, program.phnum),
        (AT_BASE, program.interp.base if program.interp is not None else 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, program.entry),
        (AT_UID, identity.uid),
        (AT_EUID, identity.euid),
        (AT_GID, identity.gid),
        (AT_EGID, identity.egid),
        (AT_SECURE, 0),
        (AT_RANDOM, random_addr),
        (AT_HWCAP2, arch.hwcap2),
        (AT_EXECFN, execfn_addr),
        *([(AT_PLATFORM, platform_addr)] if platform_addr else []),
        (AT_IGNORE, 0),  # AT_RSEQ_FEATURE_SIZE
        (AT_IGNORE, 0),  # AT_RSEQ_ALIGN
        (AT_NULL, 0),
    ]
    words = [len(argv), *arg_addrs, 0, *env_addrs, 0]
    for key, value in auxv:
        words += [key, value]
    p -= 8 * len(words)
    p &= ~0xF
    machine.write(p, b"".join(w.to_bytes(8, "little") for w in words))
    return p


def read_auxv(machine: Machine, sp: int) -> bytes:
    """The auxiliary vector as laid out on the initial stack at `sp` (what Linux keeps for
    /proc/PID/auxv and gdb reads to find the loader): argc, argv, envp, then the pairs."""
    argc = int.from_bytes(machine.read(sp, 8), "little")
    p = sp + 8 * (argc + 2)  # past argc, argv and argv's NULL
    while int.from_bytes(machine.read(p, 8), "little"):
        p += 8
    start = p = p + 8  # past envp's NULL
    while True:
        word = int.from_bytes(machine.read(p, 8), "little")
        p += 16
        if word == AT_NULL:
            return machine.read(start, p - start)
