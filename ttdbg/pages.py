"""Guest memory words every layer shares: the page size and the permission bits (Unicorn's
UC_PROT values, which are also PROT_READ/WRITE/EXEC and what snapshots store)."""

from __future__ import annotations

PAGE = 0x1000
PERM_R = 1
PERM_W = 2
PERM_X = 4
