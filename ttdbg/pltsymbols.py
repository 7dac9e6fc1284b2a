"""Names for PLT entries (`puts@plt`), made from an ELF's relocations as objdump and gdb make
them, so a call into another library is labelled by the function it reaches."""

from __future__ import annotations

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection

# (header, entry) sizes of the .plt where entries follow .rela.plt's order (as BFD reads them).
FIXED_PLT_LAYOUT = {"EM_AARCH64": (32, 16), "EM_RISCV": (32, 16)}
# x86-64 entries jump through their GOT slot: `jmp *disp32(%rip)`, with or without `bnd`,
# after an optional `endbr64`.
X86_ENDBR64 = b"\xf3\x0f\x1e\xfa"
X86_JUMPS = (b"\xff\x25", b"\xf2\xff\x25")
X86_PLT_SECTIONS = (".plt", ".plt.sec", ".plt.got")
# Relocation types (psABI numbers) that fill a GOT slot with a function: JUMP_SLOT,
# IRELATIVE and (x86-64's .plt.got) GLOB_DAT.
SLOT_RELOCATIONS = {"EM_X86_64": {7, 37, 6}, "EM_AARCH64": {1026, 1032}, "EM_RISCV": {5, 58}}

PltEntry = tuple[str, int, int]  # (name@plt, address, size), addresses before the load bias


def plt_entries(elf: ELFFile) -> list[PltEntry]:
    """Every PLT entry whose target function is known, named `function@plt`."""
    machine = elf["e_machine"]
    if machine == "EM_X86_64":
        return _x86_entries(elf, _slot_names(elf, (".rela.plt", ".rela.dyn")))
    layout = FIXED_PLT_LAYOUT.get(machine)
    plt = elf.get_section_by_name(".plt")
    relocs = elf.get_section_by_name(".rela.plt")
    if layout is None or plt is None or not isinstance(relocs, RelocationSection):
        return []
    header, size = layout
    names = _reloc_names(elf, relocs)
    count = min(len(names), max(0, (plt["sh_size"] - header) // size))
    return [(f"{names[i][1]}@plt", plt["sh_addr"] + header + i * size, size) for i in range(count)]


def _reloc_names(elf: ELFFile, section: RelocationSection) -> list[tuple[int, str]]:
    """(slot address, function name) of each relocation in `section` that fills a GOT slot
    with a function; an IRELATIVE one is named `*ABS*+0xADDEND` as objdump names it."""
    symtab = elf.get_section(section["sh_link"]) if section["sh_link"] else None
    kinds = SLOT_RELOCATIONS.get(elf["e_machine"], set())
    names = []
    for rel in section.iter_relocations():
        if rel["r_info_type"] not in kinds:
            continue
        index = rel["r_info_sym"]
        if index and symtab is not None:
            name = symtab.get_symbol(index).name
        else:
            name = f"*ABS*+{rel['r_addend'] if rel.is_RELA() else 0:#x}"
        names.append((rel["r_offset"], name))
    return names


def _slot_names(elf: ELFFile, sections: tuple[str, ...]) -> dict[int, str]:
    slots: dict[int, str] = {}
    for name in sections:
        section = elf.get_section_by_name(name)
        if isinstance(section, RelocationSection):
            slots.update(_reloc_names(elf, section))
    return slots


def _x86_entries(elf: ELFFile, slots: dict[int, str]) -> list[PltEntry]:
    """x86-64 PLT entries, each found by the GOT slot its jump reads (the header's and the
    lazy-binding stubs' jumps read slots no function relocation fills, and are skipped)."""
    entries = []
    for name in X86_PLT_SECTIONS:
        section = elf.get_section_by_name(name)
        if section is None or section["sh_type"] != "SHT_PROGBITS":
            continue
        data, base = section.data(), section["sh_addr"]
        step = section["sh_entsize"] if section["sh_entsize"] in (8, 16) else 16
        for off in range(0, len(data) - step + 1, step):
            entry = data[off : off + step]
            at = len(X86_ENDBR64) if entry.startswith(X86_ENDBR64) else 0
            jump = next((j for j in X86_JUMPS if entry.startswith(j, at)), None)
            if jump is None or at + len(jump) + 4 > step:
                continue
            end = at + len(jump) + 4
            disp = int.from_bytes(entry[at + len(jump) : end], "little", signed=True)
            target = slots.get(base + off + end + disp)
            if target is not None:
                entries.append((f"{target}@plt", base + off, step))
    return entries
