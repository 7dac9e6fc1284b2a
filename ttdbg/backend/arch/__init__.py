"""Guest architectures by name and by ELF machine; one module per architecture."""

from __future__ import annotations

from ttdbg.errors import UnsupportedProgram

from .aarch64 import ARCH as AARCH64
from .armv7m import ARCH as ARMV7M
from .base import Arch, GdbRegister, Register, SyscallAbi
from .riscv64 import ARCH as RISCV64
from .x86_64 import ARCH as X86_64

# Linux user-mode architectures; firmware-only CPUs (no Linux ABI) are found by name and ELF
# machine too, but are not in this table the Linux side iterates.
ARCHES: dict[str, Arch] = {a.name: a for a in (X86_64, AARCH64, RISCV64)}
FIRMWARE_ARCHES: dict[str, Arch] = {a.name: a for a in (ARMV7M,)}

__all__ = [
    "ARCHES",
    "FIRMWARE_ARCHES",
    "Arch",
    "GdbRegister",
    "Register",
    "SyscallAbi",
    "by_elf_machine",
    "by_name",
]


def by_name(name: str) -> Arch:
    """The architecture called `name` (as stored in a recording header)."""
    try:
        return ARCHES[name] if name in ARCHES else FIRMWARE_ARCHES[name]
    except KeyError:
        raise UnsupportedProgram(f"unsupported architecture {name!r}") from None


def by_elf_machine(machine: str, elf_class: int) -> Arch:
    """The architecture for an ELF header's e_machine and class."""
    for arch in (*ARCHES.values(), *FIRMWARE_ARCHES.values()):
        if arch.elf_machine == machine and arch.elf_class == elf_class:
            return arch
    supported = ", ".join(sorted(ARCHES) + [f"{a} (firmware)" for a in sorted(FIRMWARE_ARCHES)])
    raise UnsupportedProgram(
        f"unsupported architecture {machine} ({elf_class}-bit); ttdbg runs {supported}"
    )
