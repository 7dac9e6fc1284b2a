"""Lua 5.4, built static from Debian's source package, behaves the same under ttdbg.

Each scenario is a script the interpreter reads from stdin; it runs natively, under `ttdbg
record` and under `ttdbg replay`, each in a fresh directory. Output, error output, exit status
and the files left behind (with their bytes) must be equal, and replay must not touch the host.
`build-lua.sh` builds the interpreter once per Debian version into ~/.cache/ttdbg-tests/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import file_tree, run_native, run_ttdbg
from tests.realsw import built_program

# Tables, sorting, closures, coroutines, string patterns and packing, integer/float
# arithmetic printed to the last digit, and a seeded random stream.
COMPUTE = r"""
local t = {}
for i = 1, 3000 do t[i] = (i * 7919) % 10007 end
table.sort(t, function(a, b) return a > b end)
local s = 0
for i, v in ipairs(t) do s = s + v * i end
print("sum", s, arg[1])
print(string.format("%.17g %.17g %.17g %.17g", math.sin(1), math.exp(0.5), math.sqrt(2), 0.1 + 0.2))
print(string.format("%a %g", 1 / 3, 1e300 * 1e10), 7 // 2, 7.0 // 2, -7 % 3, 2 ^ 53 + 1)
print(math.maxinteger + 1 == math.mininteger, math.tointeger(3.0), 3 | 5, ~0 >> 60)
math.randomseed(42)
print(math.random(1, 1000000), math.random(1, 1000000), string.format("%.10f", math.random()))
local co = coroutine.wrap(function(a)
  for _ = 1, 3 do a = coroutine.yield(a * 2) end
  return "done"
end)
print(co(1), co(5), co(7), co(9))
local words = {}
for w in ("the quick brown fox jumps"):gmatch("%a+") do words[#words + 1] = w:upper() end
print(table.concat(words, ","), ("ab"):rep(3, "-"), #"héllo", utf8.len("héllo"))
print(string.pack("<i4d", 258, 1.5):byte(1, -1))
print(pcall(function() return nil + 1 end))
print(select("#", table.unpack({1, 2, nil, 4}, 1, 4)), next({}), rawlen({1, 2, 3}))
local fib
fib = function(n) return n < 2 and n or fib(n - 1) + fib(n - 2) end
print(fib(16), collectgarbage("isrunning"), collectgarbage("step") ~= nil)
"""

# Files: write, read line by line, seek, rename, remove, binary data, error messages with
# errno text; time formatting; the environment; stderr and an exit status.
FILES = r"""
local f = assert(io.open("data.txt", "w"))
for i = 1, 500 do f:write(i, " ", i * i, "\n") end
f:close()
local n, total = 0, 0
for line in io.lines("data.txt") do
  local _, b = line:match("(%d+) (%d+)")
  n, total = n + 1, total + tonumber(b)
end
print(n, total)
local g = assert(io.open("data.txt", "r+"))
print(g:seek("end"), g:seek("set", 4), g:read(5))
g:seek("set", 0)
g:write("X")
g:close()
print(io.open("data.txt"):read("l"))
print(os.rename("data.txt", "moved.txt"), io.open("data.txt"))
print(os.remove("nope.txt"))
print(pcall(io.lines, "nope.txt"))
local b = assert(io.open("bin.dat", "wb"))
b:write(string.pack(">I4I4z", 0xdeadbeef, 42, "end"))
b:close()
print(string.unpack(">I4I4z", io.open("bin.dat", "rb"):read("a")))
print(os.date("!%Y-%m-%d %H:%M:%S %A", 1234567890))
print(os.time({year = 2020, month = 1, day = 1, hour = 12}))
print(math.type(os.time()), type(os.clock()), os.getenv("HOME") ~= nil, os.getenv("TTDBG_UNSET"))
local d = assert(io.open("gone.txt", "w"))
d:close()
print(os.remove("gone.txt"), os.remove("gone.txt"))
io.stderr:write("to stderr\n")
os.exit(3)
"""
SCENARIOS = {"compute": (COMPUTE, 0), "files": (FILES, 3)}


@pytest.fixture(scope="module")
def lua() -> str:
    return built_program("build-lua.sh", "Lua")


@pytest.mark.slow
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_lua_scenario_matches_native(lua: str, scenario: str, tmp_path: Path) -> None:
    script, status = SCENARIOS[scenario]
    dirs = {name: tmp_path / name for name in ("native", "record", "replay")}
    for d in dirs.values():
        d.mkdir()
    argv = [lua, "-", "an arg"]
    native = run_native(argv, script.encode(), cwd=dirs["native"], timeout=60)
    assert native.returncode == status, native.stderr.decode()
    rec_path = tmp_path / "lua.ttrec"
    rec = run_ttdbg(
        ["record", "-o", str(rec_path), "--", *argv], script.encode(), cwd=dirs["record"]
    )
    assert rec.stdout.decode() == native.stdout.decode()
    assert rec.stderr.startswith(native.stderr), rec.stderr.decode()[-500:]
    assert rec.returncode == native.returncode
    assert file_tree(dirs["record"]) == file_tree(dirs["native"])
    for path in dirs["native"].iterdir():
        assert (dirs["record"] / path.name).read_bytes() == path.read_bytes()
    rep = run_ttdbg(["replay", str(rec_path)], cwd=dirs["replay"])
    assert rep.stdout == rec.stdout, rep.stderr.decode()[-500:]
    assert rep.returncode == rec.returncode
    assert file_tree(dirs["replay"]) == {}, "replay must not touch the host"
