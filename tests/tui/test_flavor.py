"""`set disassembly-flavor intel|att`: the disassembly pane and x/i switch syntax together;
capstone's Intel text (the Intel spelling the TUI uses) is the oracle, the AT&T rows shown
before are the way back."""

from __future__ import annotations

import asyncio
import io
import shutil
from pathlib import Path

import capstone
from elftools.elf.elffile import ELFFile

from tests.conftest import BIN, SAMPLES
from tests.tui.conftest import settle
from tests.tui.test_app import WALK, make_app
from ttdbg.tui.app import TtdbgApp


def _notes(app: TtdbgApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _capstone_intel(addr: int, count: int) -> list[str]:
    """Capstone's Intel text of `count` instructions of the walk program at `addr`."""
    image = (BIN / "walk").read_bytes()
    text = ELFFile(io.BytesIO(image)).get_section_by_name(".text")
    code = text.data()[addr - text["sh_addr"] :][: 16 * count]
    cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    return [f"{m} {o}".strip() for _a, _s, m, o in cs.disasm_lite(code, addr, count)]


def test_disassembly_flavor_switches_the_pane_and_x_i(tmp_path: Path) -> None:
    dest = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "walk.ttrec", dest)
    step_value = WALK.by_name["step_value"].addr

    async def scenario() -> None:
        app = make_app(dest)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("colon", *"b *step_value", "enter", "c")
            await settle(pilot, app)
            assert app.view is not None
            assert app.view.pc == step_value
            att = [(line.addr, line.text) for line in app.view.disasm]
            assert any("%" in text for _addr, text in att)  # gdb's default: AT&T

            await pilot.press("colon", *"set disassembly-flavor intel", "enter")
            await settle(pilot, app)
            rows = [line for line in app.view.disasm if line.addr >= step_value][:12]
            want = _capstone_intel(step_value, len(rows))
            assert [line.text[: len(w)] for line, w in zip(rows, want, strict=True)] == want
            # %rip-relative operands keep gdb's `# address <symbol>` comment.
            assert any(line.text.endswith("<counter>") for line in rows)
            assert not any("%" in line.text for line in app.view.disasm)

            await pilot.press("colon", *"x/12i step_value", "enter")
            await settle(pilot, app)
            await pilot.press("colon", *"show disassembly-flavor", "enter")
            await settle(pilot, app)
            x_i = _notes(app)[-2].splitlines()
            assert [
                row.split(":\t", 1)[1][: len(w)] for row, w in zip(x_i, want, strict=True)
            ] == want
            assert x_i[0].startswith("=> 0x401615 <step_value>:\t")
            assert _notes(app)[-1] == 'The disassembly flavor is "intel".'
            main = WALK.by_name["main"].addr
            await pilot.press("colon", *f"x/40i {main:#x}", "enter")
            await settle(pilot, app)
            assert f"call {step_value:#x} <step_value>" in _notes(app)[-1]

            await pilot.press("colon", *"set disassembly-flavor att", "enter")
            await settle(pilot, app)
            assert [(line.addr, line.text) for line in app.view.disasm] == att
            await pilot.press("colon", *"set disassembly-flavor nasm", "enter")
            await settle(pilot, app)
            assert "not one of att, intel" in _notes(app)[-1]

    asyncio.run(scenario())


def test_disassembly_flavor_is_x86_only(tmp_path: Path) -> None:
    dest = tmp_path / "walk.ttrec"
    shutil.copy(SAMPLES / "aarch64" / "walk.ttrec", dest)

    async def scenario() -> None:
        app = make_app(dest)
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot, app)
            await pilot.press("colon", *"set disassembly-flavor intel", "enter")
            await settle(pilot, app)
            assert "only x86-64 has flavors (this recording: aarch64)" in _notes(app)[-1]

    asyncio.run(scenario())
