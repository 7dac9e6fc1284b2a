"""The `Core` exception entry and return use, over a Machine without the Python binding's
per-register cost (an interrupt reads and writes some 40 registers)."""

from __future__ import annotations

from ..machine import Machine, RegisterReader, RegisterWriter


class MachineCore:
    """Registers by name through direct Unicorn calls; memory through the Machine, with
    "is it RAM" answered from the board's fixed regions instead of Unicorn's region list."""

    def __init__(self, machine: Machine, ram: list[tuple[int, int]]) -> None:
        self.machine = machine
        self._ram = ram  # (start, end exclusive)
        uc = machine.uc
        self._readers = {r.name: RegisterReader(uc, r) for r in machine.arch.registers}
        self._writers = {r.name: RegisterWriter(uc, r) for r in machine.arch.registers}

    def reg(self, name: str) -> int:
        return self._readers[name].read() & 0xFFFFFFFF

    def set_reg(self, name: str, value: int) -> None:
        self._writers[name].write(value & 0xFFFFFFFF)

    def read(self, addr: int, size: int) -> bytes:
        return self.machine.read(addr, size)

    def write(self, addr: int, data: bytes) -> None:
        self.machine.write(addr, data)

    def is_mapped(self, addr: int, size: int) -> bool:
        return any(start <= addr and addr + size <= end for start, end in self._ram)
