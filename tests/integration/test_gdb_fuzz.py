"""RSP fuzzing over a real socket against `ttdbg serve` (seeded, bounded): malformed, huge,
truncated and poisoning packets. The server never dies, never prints a traceback, and a
fresh client works afterwards."""

from __future__ import annotations

import collections
import random
import subprocess
import sys

from tests.conftest import SAMPLES, stop_packet
from tests.rsp_client import attach
from ttdbg.backend.gdb.packets import MAX_PACKET, checksum, frame

SEED = 1313
CONNECTIONS = 100
PACKETS_PER_CONNECTION = 20
INTERESTING = [0, 1, 0x401000, 0x7FFFFFFFE000, (1 << 63) - 1, 1 << 63, (1 << 64) - 2,
               (1 << 64) - 1, 1 << 64, 1 << 100]  # fmt: skip


def number(rng: random.Random) -> bytes:
    choice = rng.random()
    if choice < 0.5:
        return b"%x" % rng.choice(INTERESTING)
    if choice < 0.7:
        return b"%x" % rng.getrandbits(rng.choice((8, 32, 64, 72)))
    return rng.choice([b"-1", b"", b"zz", b" 10", b"1_0", b"0x10", b"+5", b"9" * 400])


def monitor_line(rng: random.Random) -> bytes:
    word = rng.choice(["seek", "break", "delete-break", "savevm", "loadvm", "events",
                       "snapshots", "info replay", "help", "frobnicate"])  # fmt: skip
    arg = rng.choice(["", "-1", "0", "99999999999999999999999", "1e9", "x" * 300, "'", "12"])
    text = f"{word} {arg}".encode()
    return b"qRcmd," + text.hex().encode()


def packet(rng: random.Random) -> bytes:
    """One fuzz payload."""
    kind = rng.randrange(10)
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 60)))
    if kind == 1:
        head = rng.choice([b"Z", b"z"]) + b"%d" % rng.randrange(0, 6)
        return head + b"," + number(rng) + b"," + number(rng)
    if kind == 2:
        return rng.choice([b"m", b"M", b"X"]) + number(rng) + b"," + number(rng) + b":00"
    if kind == 3:
        return rng.choice([b"p", b"P", b"H", b"T", b"Hg", b"Hc"]) + number(rng)
    if kind == 4:
        obj = rng.choice([b"features", b"exec-file", b"auxv", b"../etc"])
        return b"qXfer:" + obj + b":read:target.xml:" + number(rng) + b"," + number(rng)
    if kind == 5:
        op = rng.choice([b"open", b"pread", b"fstat", b"close", b"setfs", b"unlink"])
        return b"vFile:" + op + b":" + b",".join(number(rng) for _ in range(rng.randrange(4)))
    if kind == 6:
        return monitor_line(rng)
    if kind == 7:
        return rng.choice([b"c", b"s", b"bc", b"bs", b"vCont;c", b"vCont;s:1", b"vCont;t",
                           b"vCont;", b"?", b"g", b"qSupported:error-message+",
                           b"QStartNoAckMode", b"vCont?", b"qC"])  # fmt: skip
    if kind == 8:
        return b"q" + bytes(rng.choice(b"XferSupportd:;,") for _ in range(rng.randrange(40)))
    return b"m0," + b"f" * rng.randrange(1, 40)


def wire(rng: random.Random, payload: bytes) -> tuple[bytes, bool]:
    """The bytes to send for one case, and whether a reply is due."""
    shape = rng.randrange(12)
    if shape == 0:
        return b"$" + payload + b"#%02x" % ((checksum(payload) + 1) & 0xFF), False
    if shape == 1:
        return b"$" + b"B" * rng.choice((MAX_PACKET, 2 * MAX_PACKET, 200_000)) + b"#00", False
    if shape == 2:
        return b"\x03" + frame(payload), True
    return frame(payload), True


def test_rsp_fuzzing_never_kills_or_poisons_the_server() -> None:
    rng = random.Random(SEED)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ttdbg", "serve", str(SAMPLES / "walk.ttrec"), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    outcomes: collections.Counter[str] = collections.Counter()
    cases = 0
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline().rsplit(":", 1)[1].rstrip(")\n"))
        for _ in range(CONNECTIONS):
            client = attach(port, timeout=60)
            try:
                for _ in range(PACKETS_PER_CONNECTION):
                    payload = packet(rng)
                    data, reply_due = wire(rng, payload)
                    cases += 1
                    if rng.random() < 0.03:  # a truncated packet, then the client vanishes
                        client.send(data[: rng.randrange(1, max(2, len(data)))])
                        outcomes["truncated"] += 1
                        break
                    client.send(data)
                    if b"$" in payload or b"#" in payload:
                        outcomes["framing noise, then a new client"] += 1
                        break  # which bytes answer what is anyone's guess now
                    if not reply_due:
                        outcomes["nacked"] += 1
                        continue
                    try:
                        answer = client.reply()
                    except ConnectionError:
                        outcomes["connection closed"] += 1  # detach, kill or too many queued
                        break
                    outcomes[classify(answer)] += 1
            finally:
                client.close()
        # A fresh, well-behaved client gets full service.
        with attach(port, timeout=60) as client:
            assert client.ask(b"qSupported:swbreak+").startswith(b"PacketSize")
            assert client.ask(b"?") == stop_packet(SAMPLES / "walk.ttrec")
            assert len(client.ask(b"g")) == 560 * 2
            assert client.ask(b"vCont;s").startswith(b"T05")
            assert client.ask(b"D") == b"OK"
        assert proc.poll() is None, "the server died"
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
    print(f"RSP fuzz: {cases} cases over {CONNECTIONS} connections; outcomes {dict(outcomes)}")
    assert cases >= CONNECTIONS
    assert outcomes["error reply"] > 0


def classify(answer: bytes) -> str:
    if answer.startswith(b"E"):
        return "error reply"
    if answer.startswith(b"T"):
        return "stop reply"
    if answer.startswith(b"F"):
        return "vFile reply"
    if answer in (b"OK", b""):
        return "OK or unsupported"
    return "data reply"
