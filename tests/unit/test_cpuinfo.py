"""The CPUID values /proc/cpuinfo is built from are what the guest's CPU model answers: run
the instruction on each leaf in Unicorn with x86-64's fixed model."""

from __future__ import annotations

import unicorn
from unicorn import x86_const as x

from ttdbg.backend.arch import ARCHES
from ttdbg.backend.linux.cpuinfo import CPUINFO, X86_CPUID

CPUID_REGS = (x.UC_X86_REG_RAX, x.UC_X86_REG_RBX, x.UC_X86_REG_RCX, x.UC_X86_REG_RDX)


def test_x86_cpuid_table_is_the_models() -> None:
    arch = ARCHES["x86_64"]
    uc = unicorn.Uc(arch.uc_arch, arch.uc_mode)
    uc.ctl_set_cpu_model(arch.cpu_model)
    uc.mem_map(0x1000, 0x1000)
    uc.mem_write(0x1000, b"\x0f\xa2")  # cpuid
    for key, expected in X86_CPUID.items():
        leaf, sub = (0xD, key & 0xFF) if key >> 8 == 0xD else (key, 0)
        uc.reg_write(x.UC_X86_REG_RAX, leaf)
        uc.reg_write(x.UC_X86_REG_RCX, sub)
        uc.emu_start(0x1000, 0x1002)
        assert tuple(uc.reg_read(r) for r in CPUID_REGS) == expected, hex(key)


def test_one_processor_per_architecture_and_hwcaps() -> None:
    assert set(CPUINFO) == set(ARCHES)
    for text in CPUINFO.values():
        assert text.count("processor\t: 0\n") == 1
        assert text.endswith("\n\n")
    assert "Features\t: fp asimd\n" in CPUINFO["aarch64"]
    assert ARCHES["aarch64"].hwcap == 0x3
    letters = CPUINFO["riscv64"].split("isa\t\t: rv64")[1].split("\n")[0]
    assert sum(1 << (ord(c) - ord("a")) for c in letters) == ARCHES["riscv64"].hwcap
    assert " avx" not in CPUINFO["x86_64"]
    assert " sse4_2 " in CPUINFO["x86_64"]
