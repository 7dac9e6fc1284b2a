"""backend/ and snapshots/ must never pull in the terminal UI libraries."""

import subprocess
import sys


def test_backend_and_snapshots_import_without_textual_or_rich() -> None:
    code = (
        "import sys, pkgutil, importlib, ttdbg.backend, ttdbg.snapshots\n"
        "for pkg in (ttdbg.backend, ttdbg.snapshots):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "import ttdbg.backend.recorder, ttdbg.backend.replayer, ttdbg.cli\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "", f"UI libraries imported: {out.stdout}"
