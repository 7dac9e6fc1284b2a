"""The DWARF engine (ttdbg.dwarf) against gdb on the same recording at the same icount:
`bt`, `info args`, `info locals` in every frame, and `print` of C lvalues."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BIN, require_tool
from tests.integration.test_gdb import run_gdb, sections
from ttdbg.backend.gdb.server import GdbServer
from ttdbg.backend.gdb.stub import GdbStub
from ttdbg.backend.recorder import Recorder
from ttdbg.backend.recording import Recording, open_recording
from ttdbg.backend.timeline import Timeline
from ttdbg.dwarf.inspector import Inspector
from ttdbg.symbols import Symbols

TYPES_C = r"""
#include <stdio.h>
#include <string.h>
enum colour { RED, GREEN = 5, BLUE };
struct point { int x; short y; };
struct shape {
    char name[8];
    enum colour colour;
    struct point corner;
    struct point *next;
    const char *label;
    unsigned char flags;
    double area;
    long values[3];
};
struct shape shapes[2];
int zeros[32];
const char *greeting = "hello, world";

static int paint(struct shape *s, int times, char mark) {
    int total = 0;
    for (int i = 0; i < times; i++) {
        struct point moved = s->corner;
        moved.x += i;
        total += moved.x * mark;
    }
    s->values[1] = total;
    return total;
}

int main(void) {
    struct point here = {3, -4};
    strcpy(shapes[0].name, "square");
    shapes[0].colour = GREEN;
    shapes[0].corner = here;
    shapes[0].next = &shapes[1].corner;
    shapes[0].label = greeting;
    shapes[0].flags = 0xA5;
    shapes[0].area = 2.5;
    shapes[1].colour = BLUE;
    int result = paint(&shapes[0], 3, 'x');
    printf("%d\n", result);
    return 0;
}
"""


# Optimized code with parameters gdb's backtrace marks with their entry values: the same as
# at entry (`n=n@entry=2`), changed since (`x=88, x@entry=5`), gone but known at entry.
ENTRY_C = r"""
#include <stdio.h>
volatile int sink;
__attribute__((noinline)) static int use(int v) { sink = v; return v * 3; }
__attribute__((noinline)) static int deref(int *p, int n) {
    int first = *p;
    int total = use(first) + n;
    total += use(total);
    return total + first;
}
__attribute__((noinline)) static int changed(int x, int y) {
    x = use(x) + y;
    x += use(x);
    return x + y;
}
__attribute__((noinline)) static long lost(long a, long b) {
    long c = use((int)a) + b;
    return use((int)c) + c;
}
/* g and h are passed on the stack (x86-64); gcc records no call value for a stack slot, so
   gdb prints them without an entry value, the register ones with theirs. */
__attribute__((noinline, noclone)) static long many(long a, long b, long c, long d, long e,
                                                    long f, long g, long h) {
    long t = use((int)(a + g)) + h;
    return t + use((int)(b + c + d + e + f + g));
}
int main(int argc, char **argv) {
    (void)argv;
    int v = 5 + argc;
    int r = deref(&v, argc + 1);
    r += changed(argc + 4, 7);
    r += (int)lost(argc * 10L, 3);
    r += (int)many(argc, argc + 1, argc + 2, argc + 3, argc + 4, argc + 5, argc + 6, argc * 9);
    printf("%d\n", r);
    return 0;
}
"""


# C++ references: gdb shows a reference as its address and the value there, and its entry
# value as the value there at the call (DW_AT_call_data_value): `r=@0x...: 31,
# r@entry=@0x...: 6` once the function has changed what r refers to.
REFS_CC = r"""
#include <cstdio>
volatile int sink;
__attribute__((noinline)) static int use(int v) { sink = v; return v * 3; }
__attribute__((noinline, noclone)) static int bump(int &r, const int &k, int n) {
    int before = r;
    r = use(r + n) + k;
    return r + before + use(k);
}
int main(int argc, char **) {
    int v = 5 + argc;
    int k = argc * 4;
    int out = bump(v, k, argc + 2);
    std::printf("%d %d\n", out, v);
    return 0;
}
"""


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Recording]]:
    gcc = require_tool("gcc")
    d = tmp_path_factory.mktemp("dwarf")
    (d / "types.c").write_text(TYPES_C)
    (d / "entry.c").write_text(ENTRY_C)
    subprocess.run([gcc, "-g", "-O0", "-static", "-o", "types", "types.c"], cwd=d,
                   check=True, timeout=120)  # fmt: skip
    subprocess.run([gcc, "-g", "-O2", "-static", "-o", "entry", "entry.c"], cwd=d,
                   check=True, timeout=120)  # fmt: skip
    (d / "refs.cc").write_text(REFS_CC)
    subprocess.run([require_tool("g++"), "-g", "-O2", "-static", "-o", "refs", "refs.cc"],
                   cwd=d, check=True, timeout=120)  # fmt: skip
    out = {}
    for name, binary in (("types", d / "types"), ("walk", BIN / "walk"), ("entry", d / "entry"),
                         ("refs", d / "refs")):  # fmt: skip
        rec = d / f"{name}.ttrec"
        Recorder(str(binary), [name.encode()], [b"PATH=/bin"], str(rec), snapshot_every=2000).run()
        out[name] = (binary, open_recording(str(rec)))
    return out


class Both:
    """gdb served from one timeline, the engine reading another, on one recording."""

    def __init__(self, binary: Path, rec: Recording) -> None:
        self.binary = binary
        served = Timeline(rec)
        self.server = GdbServer(lambda: GdbStub(served, "/ttdbg/p", rec.program_image))
        self.server.start()
        self.tl = Timeline(rec)
        arch = self.tl.machine.arch
        self.symbols = Symbols(rec.program_image)
        self.inspector = Inspector(rec.program_image, self.symbols, arch.name, arch.pc, arch.sp)

    def gdb(self, commands: list[str]) -> list[str]:
        port = self.server.address[1]
        return sections(run_gdb(require_tool("gdb"), port, commands, elf=self.binary))


@pytest.fixture(params=["walk", "types", "entry", "refs"])
def both(request: pytest.FixtureRequest, programs: dict) -> Iterator[Both]:  # type: ignore[type-arg]
    b = Both(*programs[request.param])
    yield b
    b.server.shutdown()


def _icounts(both: Both) -> list[int]:
    """Positions worth comparing: breakpoint hits in the callees, steps into them, the deepest
    recursion."""
    tl, sym = both.tl, both.symbols
    found = []
    for func, hits, steps in (("step_value", 2, 3), ("depth", 2, 3), ("paint", 1, 30),
                              ("deref", 1, 4), ("changed", 1, 9), ("lost", 1, 7),
                              ("many", 1, 6), ("bump", 1, 12)):  # fmt: skip
        # gcc's clones (changed.constprop.0) keep the function's name in DWARF; C++ names
        # are mangled (_ZL4bumpRiRKii).
        named = [s for n, s in sym.by_name.items()
                 if n == func or n.startswith((f"{func}.", f"_ZL{len(func)}{func}"))]  # fmt: skip
        if not named:
            continue
        tl.seek(0)
        tl.add_breakpoint(named[0].addr)
        for _ in range(hits):
            tl.continue_()
        tl.remove_breakpoint(named[0].addr)
        found.append(tl.position)
        tl.step(steps)
        found.append(tl.position)
    return found


def _gdb_frames(text: str) -> list[tuple[str, str, str]]:
    """(function, args, file:line) of each `bt` row."""
    rows = []
    for m in re.finditer(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(\w+) \((.*)\) at (\S+)$", text, re.M):
        rows.append((m.group(1), m.group(2), Path(m.group(3)).name))
    return rows


def _pairs(text: str) -> list[str]:
    """`name = value` lines (gdb's info args/locals), value with @entry forms folded."""
    lines = [ln.strip() for ln in text.strip().splitlines()]
    return [ln for ln in lines if " = " in ln]


@pytest.mark.slow
def test_backtrace_and_variables_match_gdb(both: Both) -> None:
    for icount in _icounts(both):
        both.tl.seek(icount)
        frames = both.inspector.unwind(both.tl)
        commands = [
            f"monitor seek {icount}",
            "maint flush register-cache",
            "maint flush dcache",
            "bt",
        ]
        for level in range(len(frames)):
            commands += [f"frame {level}", "info args", "info locals"]
        out = both.gdb(commands)
        ours = [
            (f.function, ", ".join(f.args), f"{Path(f.file).name}:{f.line}")
            for f in both.inspector.backtrace(both.tl, frames)
        ]
        theirs = _gdb_frames(out[3])
        # The rows with their arguments as gdb prints them, entry values (x@entry) included.
        assert ours == theirs, f"icount {icount}:\n{out[3]}"
        for level, frame in enumerate(frames):
            variables = both.inspector.variables(frame, both.tl)
            args = [f"{n} = {v}" for n, v, is_arg in variables if is_arg]
            local = [f"{n} = {v}" for n, v, is_arg in variables if not is_arg]
            gdb_args, gdb_locals = out[5 + 3 * level], out[6 + 3 * level]
            if "No arguments." in gdb_args:
                assert args == []
            else:
                assert args == _pairs(gdb_args), f"icount {icount} frame {level} args"
            if "No locals." in gdb_locals:
                assert local == []
            else:
                assert local == _pairs(gdb_locals), f"icount {icount} frame {level} locals"


PRINTS = {
    "walk": ["counter", "history", "history[3]", "&history[2]", "*&history[2]", "/x history",
             "/f counter", "/c history[3]", "/t counter"],
    "types": [
        "shapes", "shapes[0]", "shapes[0].name", "shapes[0].colour", "shapes[0].corner",
        "shapes[0].corner.y", "shapes[0].next", "*shapes[0].next", "shapes[0].next->x",
        "shapes[0].label", "shapes[0].flags", "shapes[0].area", "greeting", "zeros",
        "&shapes[1]", "s", "*s", "s->name", "s->values", "times", "mark", "moved", "total",
        "i",
        # print/F: every scalar of a struct or array by the letter, floats' bits for the
        # integer letters, integers' bits for f
        "/x shapes[0]", "/d shapes[0]", "/f shapes[0]", "/c shapes[0].name", "/f shapes[0].area",
        "/x shapes[0].area", "/d shapes[0].area", "/c shapes[0].area", "/a shapes[0].area",
        "/f total", "/x *s", "/a shapes[0].next", "/o moved", "/t mark", "/z shapes[0].flags",
        "/u shapes[0].corner", "/x zeros", "/u s->values",
    ],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("both", ["walk", "types"], indirect=True)
def test_print_matches_gdb(both: Both) -> None:
    name = "types" if "types" in str(both.binary) else "walk"
    for icount in _icounts(both)[1::2]:  # after some steps into the function
        both.tl.seek(icount)
        frame = both.inspector.unwind(both.tl)[0]
        out = both.gdb(
            [f"monitor seek {icount}", "maint flush register-cache", "maint flush dcache"]
            + [f"print{e}" if e.startswith("/") else f"print {e}" for e in PRINTS[name]]
        )
        for expr, text in zip(PRINTS[name], out[3:], strict=True):
            want = re.sub(r"^\$\d+ = ", "", text.strip().splitlines()[0])
            try:
                if expr.startswith("/"):
                    letter, _, operand = expr[1:].partition(" ")
                    got = both.inspector.print_formatted(operand, letter, frame, both.tl)
                else:
                    got = both.inspector.print(expr, frame, both.tl)
            except ValueError as err:
                got = str(err)
            assert got == want, f"print {expr} at icount {icount}"
