"""/proc/self/status, stat and statm of the guest process, laid out as Linux prints them.

What the guest's own state decides (its name, ids, memory map, threads, signal masks and
handlers) is computed here; what it would inherit from the process that started it (ppid,
credentials, groups, capabilities, the session, CPU times and start time, NUMA nodes,
speculation mitigations) comes from the recorder's own /proc/self/status and stat, read on
the host at open and logged, so replay reads them from the recording. The recorder's
status gives the field names and their order, which differ between kernel versions; a field
neither computed nor known to be inherited is left out rather than shown with the
recorder's value. ttdbg's memory has no paging: every mapped page is resident (as mincore
says), so the RSS counts are the mapped sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...machine import PAGE
from ..platform import LinuxPlatform
from ..signals import SIG_DFL, SIG_IGN
from ..threads import State

# Fields the guest inherits from whoever started it, shown as the recorder's kernel shows
# them for the recorder (same parent, same credentials, same namespaces).
INHERITED = frozenset((
    "PPid", "Uid", "Gid", "Groups", "NStgid", "NSpid", "NSpgid", "NSsid", "Kthread",
    "THP_enabled", "SigQ", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
    "Seccomp", "Seccomp_filters", "Speculation_Store_Bypass", "SpeculationIndirectBranch",
    "Mems_allowed", "Mems_allowed_list",
))  # fmt: skip
# Fields only an x86 kernel prints: left out for the other guest architectures.
X86_ONLY = frozenset(("untag_mask", "x86_Thread_features", "x86_Thread_features_locked"))
INHERITED_X86 = INHERITED | X86_ONLY
KB = 1024
PERM_X = 4  # a loaded segment's perms are Unicorn's: read 1, write 2, execute 4
SIGCHLD = 17
OLD_SIGNALS = 0x7FFFFFFF


@dataclass(frozen=True)
class HostProcess:
    """What the recorder's kernel says about the recorder: status lines in order and the
    stat fields after the name (field 3 on)."""

    status: tuple[tuple[str, str], ...]
    stat: tuple[str, ...]

    def stat_field(self, number: int) -> int:
        """Field `number` of /proc/self/stat as proc(5) numbers them (3: state), 0 if absent."""
        index = number - 3
        if 0 <= index < len(self.stat):
            try:
                return int(self.stat[index])
            except ValueError:
                return 0
        return 0


def parse_host(data: bytes) -> HostProcess:
    """The logged answer of HostIO.own_process (bytes from the recording: checked)."""
    status, _, stat = data.decode("latin-1").partition("\0")
    lines = []
    for line in status.splitlines():
        key, sep, value = line.partition(":")
        if sep and key and key.isprintable():
            lines.append((key, value.lstrip("\t")))
    after_name = stat.rpartition(")")[2].split()
    return HostProcess(tuple(lines), tuple(after_name))


def host_process(p: LinuxPlatform) -> HostProcess:
    result, data = p.host_call(lambda: p.live.own_process())
    return parse_host(data if result >= 0 else b"")


@dataclass(frozen=True)
class MemoryUse:
    """Linux's mm counters for the guest's address space, in bytes."""

    total: int
    peak: int
    file: int
    anon: int
    data: int
    stack: int
    exec_: int
    text: int
    page_tables: int


def _page_up(value: int) -> int:
    return (value + PAGE - 1) & ~(PAGE - 1)


def _overlap(lo: int, hi: int, ranges: list[tuple[int, int]]) -> int:
    return sum(max(0, min(hi, b) - max(lo, a)) for a, b in ranges)


def _union(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted disjoint ranges covering the same bytes (a shared file mapping is a view too)."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _table_pages(regions: list[tuple[int, int, int]]) -> int:
    """The page-table pages mapping the (sorted) regions: one per 2 MiB, 1 GiB and 512 GiB
    spanned, counted without walking a huge reservation page by page."""
    count = 0
    for shift in (21, 30, 39):
        last = -1
        for start, end, _perms in regions:
            first, final = max(start >> shift, last + 1), (end - 1) >> shift
            count += max(0, final - first + 1)
            last = max(last, final)
    return count


def memory_use(p: LinuxPlatform) -> MemoryUse:
    """The address space's sizes as task_mem() counts them from the VMAs."""
    regions = p.m.regions()
    total = sum(e - s for s, e, _ in regions)
    files = [
        (s.vaddr & ~(PAGE - 1), _page_up(s.vaddr + len(s.data))) for s in p.program.all_segments
    ]
    files += [(v[0], v[1]) for v in p.mem.views]
    files = _union(files + [(m.start, m.end) for m in p.mem.shared.maps])
    stack_low = p.arch.stack_top
    for s, e, _perms in reversed(regions):  # the stack: the run of regions ending at its top
        if e == stack_low:
            stack_low = s
    file = data = stack = exec_ = 0
    for s, e, perms in regions:
        in_file = _overlap(s, e, files)
        file += in_file
        in_stack = max(0, min(e, p.arch.stack_top) - max(s, stack_low))
        stack += in_stack
        if perms & 2 and not p.mem.shared.overlapping(s, e):
            data += e - s - in_stack
        elif perms & 4 and not perms & 2:
            exec_ += e - s - in_stack
    code = [(s.vaddr, s.vaddr + len(s.data)) for s in p.program.segments if s.perms & PERM_X]
    text = 0
    if code:
        start, end = min(a for a, _ in code), max(b for _, b in code)
        text = min(_page_up(end) - (start & ~(PAGE - 1)), exec_)
    peak = max(p.mem.peak_vm, total)
    tables = _table_pages(regions) * PAGE
    return MemoryUse(total, peak, file, total - file, data, stack, exec_, text, tables)


def _kb(value: int) -> str:
    return f"{value // KB:8d} kB"


def _sigset(mask: int) -> str:
    return f"{mask & (1 << 64) - 1:016x}"


@dataclass(frozen=True)
class SignalView:
    """The leader thread's signal sets as Linux's status shows them."""

    pending: int
    blocked: int
    ignored: int
    caught: int


def signal_view(p: LinuxPlatform) -> SignalView:
    ignored = caught = 0
    for sig, act in p.signals.actions.items():
        if act.handler == SIG_IGN:
            ignored |= 1 << (sig - 1)
        elif act.handler != SIG_DFL:
            caught |= 1 << (sig - 1)
    leader = p.threads.table.get(p.pid)
    if leader is None or leader.tid == p.threads.current:
        return SignalView(p.signals.pending, p.threads.mask_of(p.threads.running), ignored, caught)
    return SignalView(leader.pending, p.threads.mask_of(leader), ignored, caught)


def _state(p: LinuxPlatform) -> str:
    """The leader thread's state: running (it is reading), asleep in a wait, or a zombie
    once it exited while other threads run on."""
    leader = p.threads.table.get(p.pid)
    if leader is None or leader.tid == p.threads.current or leader.state == State.RUNNABLE:
        return "R (running)"
    return "Z (zombie)" if leader.state == State.EXITED else "S (sleeping)"


def fd_table_size(p: LinuxPlatform) -> int:
    """Linux's max_fds for a table that holds the guest's highest fd: 64, then 128 times a
    power of two (expand_fdtable's sizes)."""
    highest = max(p.fds.files, default=0)
    if highest < 64:
        return 64
    per_kb = 128
    units = highest // per_kb + 1
    return per_kb * (1 << (units - 1).bit_length())


def _name(comm: str) -> str:
    return comm.replace("\\", "\\\\").replace("\n", "\\n")


@dataclass(frozen=True)
class _Guest:
    """What the computed status lines are made of, each worked out once per read."""

    p: LinuxPlatform
    mem: MemoryUse
    sig: SignalView


# The status lines the guest's own state decides, by field name (every mapped page is
# resident here, so the RSS sizes are the mapped ones).
COMPUTED: dict[str, Callable[[_Guest], str]] = {
    "Name": lambda g: _name(g.p.comm),
    "Umask": lambda g: f"{g.p.umask:04o}",
    "State": lambda g: _state(g.p),
    "Tgid": lambda g: str(g.p.pid),
    "Ngid": lambda g: "0",
    "Pid": lambda g: str(g.p.pid),
    "TracerPid": lambda g: "0",  # natively nobody traces the program
    "FDSize": lambda g: str(fd_table_size(g.p)),
    "VmPeak": lambda g: _kb(g.mem.peak),
    "VmSize": lambda g: _kb(g.mem.total),
    "VmLck": lambda g: _kb(g.p.mem.locked_bytes()),
    "VmPin": lambda g: _kb(0),
    "VmHWM": lambda g: _kb(max(g.mem.peak, g.mem.total)),
    "VmRSS": lambda g: _kb(g.mem.total),
    "RssAnon": lambda g: _kb(g.mem.anon),
    "RssFile": lambda g: _kb(g.mem.file),
    "RssShmem": lambda g: _kb(0),
    "VmData": lambda g: _kb(g.mem.data),
    "VmStk": lambda g: _kb(g.mem.stack),
    "VmExe": lambda g: _kb(g.mem.text),
    "VmLib": lambda g: _kb(g.mem.exec_ - g.mem.text),
    "VmPTE": lambda g: _kb(g.mem.page_tables),
    "VmSwap": lambda g: _kb(0),
    "HugetlbPages": lambda g: _kb(0),
    "CoreDumping": lambda g: "0",
    "Threads": lambda g: str(len(g.p.threads.live())),
    "SigPnd": lambda g: _sigset(g.sig.pending),
    "ShdPnd": lambda g: _sigset(0),
    "SigBlk": lambda g: _sigset(g.sig.blocked),
    "SigIgn": lambda g: _sigset(g.sig.ignored),
    "SigCgt": lambda g: _sigset(g.sig.caught),
    "Cpus_allowed": lambda g: "1",  # one CPU, CPU 0, as sched_getaffinity says
    "Cpus_allowed_list": lambda g: "0",
    # The host's counts would be the recorder's; the guest's CPU is ttdbg's.
    "voluntary_ctxt_switches": lambda g: "0",
    "nonvoluntary_ctxt_switches": lambda g: "0",
}


def _computed(p: LinuxPlatform) -> dict[str, str]:
    """The status lines the guest's own state decides, by field name (without the name)."""
    guest = _Guest(p, memory_use(p), signal_view(p))
    return {name: line(guest) for name, line in COMPUTED.items()}


def queued_signals(p: LinuxPlatform) -> int:
    """The guest's pending signals, every thread's (one each: the sets hold no counts)."""
    running = p.threads.running
    others = (t.pending for t in p.threads.live() if t is not running)
    return sum(bin(mask).count("1") for mask in (p.signals.pending, *others))


def _signal_queue(inherited: str, queued: int) -> str:
    """SigQ: the signals queued for the user, the recorder's count (its other processes')
    with the guest's own pending ones, as Linux counts per user; then the user's limit."""
    count, sep, limit = inherited.partition("/")
    return f"{int(count) + queued}/{limit}" if sep and count.isdigit() else inherited


def status_text(p: LinuxPlatform, host: HostProcess) -> str:
    """/proc/self/status: the recorder's fields in its kernel's order, each with the guest's
    value (computed, or inherited)."""
    computed = _computed(p)
    inherited = INHERITED_X86 if p.arch.name == "x86_64" else INHERITED
    lines = []
    for key, value in host.status:
        if key in computed:
            lines.append(f"{key}:\t{computed[key]}")
        elif key == "SigQ":
            lines.append(f"{key}:\t{_signal_queue(value, queued_signals(p))}")
        elif key in inherited:
            lines.append(f"{key}:\t{value}")
    return "".join(line + "\n" for line in lines)


def stat_text(p: LinuxPlatform, host: HostProcess) -> str:
    """/proc/self/stat's 52 fields (proc(5)); the inherited ones are the recorder's."""
    mem = memory_use(p)
    sig = signal_view(p)
    inherit = host.stat_field
    code = [(s.vaddr, s.vaddr + len(s.data)) for s in p.program.segments if s.perms & PERM_X]
    loads = [(s.vaddr, s.vaddr + len(s.data)) for s in p.program.segments]
    fields: list[object] = [
        p.pid, f"({p.comm})", _state(p)[0], inherit(4), inherit(5), inherit(6), inherit(7),
        inherit(8),
        0,  # flags: no PF_RANDOMIZE, the layout is not randomized
        0, 0, 0, 0,  # page faults: the memory has no paging
        inherit(14), inherit(15), inherit(16), inherit(17),  # CPU times, as times() says
        inherit(18), inherit(19),  # priority and nice, as getpriority says
        len(p.threads.live()), 0, inherit(22),  # threads, itrealvalue, start time
        mem.total, mem.total // PAGE, inherit(25),  # RLIMIT_RSS, as getrlimit says
        min((a for a, _ in code), default=0), max((b for _, b in code), default=0),
        p.start_stack, 0, 0,
        # The obsolete signal fields: the first 31 signals only, as Linux prints them.
        *(mask & OLD_SIGNALS for mask in (sig.pending, sig.blocked, sig.ignored, sig.caught)),
        0, 0, 0, SIGCHLD, 0,  # wchan, nswap, cnswap, exit_signal, processor (CPU 0)
        inherit(40), inherit(41), 0, 0, 0,  # rt_priority, policy, blkio, guest times
        max((a for a, _ in loads), default=0), max((b for _, b in loads), default=0),
        p.mem.brk_start, *p.arg_range, *p.env_range, 0,
    ]  # fmt: skip
    return " ".join(str(f) for f in fields) + "\n"


def statm_text(p: LinuxPlatform) -> str:
    """/proc/self/statm in pages: size resident shared text lib data dt."""
    mem = memory_use(p)
    pages = [mem.total, mem.total, mem.file, mem.text, 0, mem.data + mem.stack, 0]
    return " ".join(str(n // PAGE) for n in pages) + "\n"
