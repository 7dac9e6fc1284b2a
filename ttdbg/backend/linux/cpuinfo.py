"""What /proc/cpuinfo says on each architecture: the guest's fixed CPU model, one CPU (CPU 0),
laid out as Linux's show_cpuinfo prints it, never the host's CPUs or their features.

x86-64's lines come from what Unicorn's Sandy Bridge model answers to CPUID (the guest reads
the same with the instruction), flags named and ordered as Linux's x86_cap_flags; Linux's
synthetic flags (constant_tsc, nopl, ...), its bug list and the cache size, which a kernel
works out from more than CPUID, are left out. The clock rate is a fixed 2 GHz (Linux prints
the TSC's). AArch64 says Unicorn's Cortex-A72 (its MIDR) with the features AT_HWCAP gives,
RISC-V the ISA AT_HWCAP gives on an Sv39 MMU.
"""

from __future__ import annotations

import struct

from ..arch import ARCHES

# CPUID as the guest's CPU model answers it: leaf -> (eax, ebx, ecx, edx).
X86_CPUID = {
    0x0: (0xD, 0x756E6547, 0x6C65746E, 0x49656E69),
    0x1: (0x206A1, 0x800, 0x8E982203, 0x078BFBFD),
    0x6: (0x4, 0, 0, 0),
    0x7: (0, 0, 0, 0),
    0xD01: (0x1, 0, 0, 0),  # leaf 0xd, subleaf 1
    0x80000001: (0x206A1, 0, 0x1, 0x28100800),
    0x80000002: (0x65746E49, 0x6558206C, 0x45206E6F, 0x78323133),
    0x80000003: (0x53282078, 0x79646E61, 0x69724220, 0x29656764),
    0x80000004: (0, 0, 0, 0),
    0x80000008: (0x3028, 0, 0, 0),
}
# Linux's names for the CPUID bits it shows, by (leaf, register index), in its word order.
_N = None
X86_FLAG_WORDS: tuple[tuple[int, int, tuple[str | None, ...]], ...] = (
    (0x1, 3, (
        "fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", _N, "sep",
        "mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", _N, "dts", "acpi",
        "mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe",
    )),
    (0x80000001, 3, (
        _N, _N, _N, _N, _N, _N, _N, _N, _N, _N, _N, "syscall", _N, _N, _N, _N, _N, _N, _N,
        "mp", "nx", _N, "mmxext", _N, _N, "fxsr_opt", "pdpe1gb", "rdtscp", _N, "lm",
        "3dnowext", "3dnow",
    )),
    (0x1, 2, (
        "pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2",
        "ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm", _N, "pcid", "dca", "sse4_1",
        "sse4_2", "x2apic", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", _N,
        "avx", "f16c", "rdrand", "hypervisor",
    )),
    (0x80000001, 2, (
        "lahf_lm", "cmp_legacy", "svm", "extapic", "cr8_legacy", "abm", "sse4a",
        "misalignsse", "3dnowprefetch", "osvw", "ibs", "xop", "skinit", "wdt", _N, "lwp",
        "fma4", "tce", _N, "nodeid_msr", _N, "tbm", "topoext", "perfctr_core", "perfctr_nb",
        _N, "bpext", "ptsc", "perfctr_llc", "mwaitx", _N, _N,
    )),
    (0x7, 1, (
        "fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", "fdp_excptn_only", "smep",
        "bmi2", "erms", "invpcid", "rtm", "cqm", _N, "mpx", "rdt_a", "avx512f", "avx512dq",
        "rdseed", "adx", "smap", "avx512ifma", _N, "clflushopt", "clwb", "intel_pt",
        "avx512pf", "avx512er", "avx512cd", "sha_ni", "avx512bw", "avx512vl",
    )),
    (0xD01, 0, ("xsaveopt", "xsavec", "xgetbv1", "xsaves") + (_N,) * 28),
    (0x6, 0, ("dtherm", "ida", "arat", _N, "pln", _N, "pts", "hwp") + (_N,) * 24),
)  # fmt: skip
X86_MHZ = 2000  # a fixed clock rate: Linux prints the TSC's, which no guest can compare


def _x86_flags() -> str:
    names = []
    for leaf, reg, bits in X86_FLAG_WORDS:
        value = X86_CPUID[leaf][reg]
        names += [name for bit, name in enumerate(bits) if name and value >> bit & 1]
    return " ".join(names)


def _x86() -> str:
    eax, ebx = X86_CPUID[0x1][:2]
    family, model, stepping = eax >> 8 & 0xF, eax >> 4 & 0xF, eax & 0xF
    if family == 0xF:  # as Linux's x86_family and x86_model read them
        family += eax >> 20 & 0xFF
    if family >= 6:
        model |= eax >> 12 & 0xF0
    _, vb, vc, vd = X86_CPUID[0x0]
    vendor = struct.pack("<3I", vb, vd, vc).decode()
    raw = b"".join(struct.pack("<4I", *X86_CPUID[leaf]) for leaf in range(0x80000002, 0x80000005))
    brand = raw.rstrip(b"\0").decode()
    sizes = X86_CPUID[0x80000008][0]
    clflush = (ebx >> 8 & 0xFF) * 8
    return (
        f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
        f"model name\t: {brand}\nstepping\t: {stepping}\n"
        f"cpu MHz\t\t: {X86_MHZ}.000\nphysical id\t: 0\nsiblings\t: 1\ncore id\t\t: 0\n"
        f"cpu cores\t: 1\napicid\t\t: 0\ninitial apicid\t: 0\nfpu\t\t: yes\n"
        f"fpu_exception\t: yes\ncpuid level\t: {X86_CPUID[0x0][0]}\nwp\t\t: yes\n"
        f"flags\t\t: {_x86_flags()}\nbugs\t\t:\nbogomips\t: {2 * X86_MHZ}.00\n"
        f"clflush size\t: {clflush}\ncache_alignment\t: {clflush}\n"
        f"address sizes\t: {sizes & 0xFF} bits physical, {sizes >> 8 & 0xFF} bits virtual\n"
        "power management:\n\n"
    )


# AArch64: Linux's hwcap names in bit order (the first ones: the guest's AT_HWCAP has fp, asimd).
A64_HWCAPS = ("fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics")
A64_MIDR = 0x410FD083  # Cortex-A72 r0p3, as Unicorn's model reads MIDR_EL1
A64_TIMER_HZ = 62_500_000  # CNTFRQ_EL0: Linux's BogoMIPS on arm64 is twice it in MHz


def _aarch64() -> str:
    hwcap = ARCHES["aarch64"].hwcap
    features = " ".join(n for bit, n in enumerate(A64_HWCAPS) if hwcap >> bit & 1)
    bogo = 2 * A64_TIMER_HZ // 10_000
    return (
        f"processor\t: 0\nBogoMIPS\t: {bogo // 100}.{bogo % 100:02d}\nFeatures\t: {features}\n"
        f"CPU implementer\t: 0x{A64_MIDR >> 24:02x}\nCPU architecture: 8\n"
        f"CPU variant\t: 0x{A64_MIDR >> 20 & 0xF:x}\nCPU part\t: 0x{A64_MIDR >> 4 & 0xFFF:03x}\n"
        f"CPU revision\t: {A64_MIDR & 0xF}\n\n"
    )


RISCV_ORDER = "imafdqlcbkjtpvh"  # the canonical order of the single-letter extensions


def _riscv64() -> str:
    hwcap = ARCHES["riscv64"].hwcap
    isa = "rv64" + "".join(c for c in RISCV_ORDER if hwcap >> (ord(c) - ord("a")) & 1)
    return f"processor\t: 0\nhart\t\t: 0\nisa\t\t: {isa}\nmmu\t\t: sv39\n\n"


CPUINFO = {"x86_64": _x86(), "aarch64": _aarch64(), "riscv64": _riscv64()}
