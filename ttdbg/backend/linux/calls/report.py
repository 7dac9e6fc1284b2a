"""The syscall table per architecture with each call's status: `python -m
ttdbg.backend.linux.calls.report` prints it (host / emulated / no-op / refused / ENOSYS)."""

from __future__ import annotations

from ttdbg.backend.arch import ARCHES

from .table import ROWS


def statuses(arch: str) -> list[tuple[str, int, str]]:
    """(name, number, status) of every call the architecture's table knows, by number."""
    numbers = ARCHES[arch].syscall_numbers
    out = []
    for name, nr in sorted(numbers.items(), key=lambda item: item[1]):
        row = ROWS.get(name)
        out.append((name, nr, row.kind.value if row else "ENOSYS"))
    return out


def main() -> None:
    for arch in ARCHES:
        rows = statuses(arch)
        print(f"{arch} ({len(rows)} calls; any other number: ENOSYS, counted by ttdbg info)")
        for status in ("host", "emulated", "no-op", "refused", "ENOSYS"):
            names = [name for name, _nr, s in rows if s == status]
            if names:
                print(f"  {status} ({len(names)}): {' '.join(names)}")


if __name__ == "__main__":
    main()
