"""Where a Thumb direct branch goes, read from capstone's text of the instruction (the
architectures gdb's spelling covers name their targets in `gdbdisasm`)."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"^#?(0x[0-9a-f]+)$")


def thumb_branch_target(mnemonic: str, operands: str) -> int | None:
    """Thumb: b, bl, b<cond>, their .w forms (one operand) and cbz/cbnz (the last)."""
    if mnemonic.startswith("cb"):
        operands = operands.rsplit(",", 1)[-1].strip()
    found = _ADDRESS.match(operands) if mnemonic.startswith(("b", "cb")) else None
    return int(found.group(1), 16) if found else None
