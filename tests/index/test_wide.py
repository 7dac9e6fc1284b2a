"""A 16-byte register store (SSE movdqu/movaps, AArch64 str/stp of q registers) is one row of
the index holding all its bytes, as a brute-force replay that joins the emulator's 8-byte
pieces by capstone's operands finds; `last` over such a store agrees with the replay scan."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_ttdbg
from tests.index.oracle import brute_force
from tests.index.test_build import index_rows
from ttdbg.backend.recording import open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.index.build import build_index, run_here
from ttdbg.index.query import run_query
from ttdbg.symbols import Symbols

SOURCE = Path(__file__).with_name("wide.c")
COMPILERS = {"x86_64": "gcc", "aarch64": "aarch64-linux-gnu-gcc"}
STORES = {"x86_64": 2, "aarch64": 3}  # movdqu + movaps; str q0 + stp q1, q2


@pytest.mark.parametrize("arch", sorted(COMPILERS))
def test_a_16_byte_store_is_one_row(arch: str, tmp_path: Path) -> None:
    cc = require_tool(COMPILERS[arch])
    program, path = tmp_path / "wide", tmp_path / "wide.ttrec"
    subprocess.run([cc, "-O1", "-static", "-o", str(program), str(SOURCE)], check=True, timeout=120)
    out = run_ttdbg(["record", "-o", str(path), "--", str(program)])
    assert out.returncode == 0, out.stderr
    build_index(str(path), runner=run_here)
    rec = open_recording(str(path))
    dst = Symbols(rec.program_image, rec.program.load_bias).by_name["dst"].addr
    rows = run_query(
        rec,
        f"SELECT addr, size, value, value_hi FROM writes WHERE addr >= {dst} "
        f"AND addr < {dst + 64} ORDER BY icount, addr",
    ).rows
    src = bytes((i * 7 + 1) & 0xFF for i in range(64))
    assert rows == [
        (
            dst + 16 * k, 16,
            int.from_bytes(src[16 * k : 16 * k + 8], "little"),
            int.from_bytes(src[16 * k + 8 : 16 * k + 16], "little"),
        )
        for k in range(STORES[arch])
    ]  # fmt: skip
    writes, _calls = index_rows(path)
    assert writes == sorted(brute_force(rec).writes)
    assert any(size == 16 for _i, _pc, _a, size, _v, _s in writes)
    fast, slow = Timeline(rec), Timeline(open_recording(str(path)))
    slow.index = None
    for addr, length in ((dst + 3, 1), (dst + 6, 4), (dst + 16, 16)):
        fast.seek(fast.end)
        slow.seek(slow.end)
        assert fast.last_write(addr, length) == slow.last_write(addr, length)
        assert fast.answered_by_index
