"""The project's C extension (`_blockcount.c`, `_threadswitch.c`) loaded once for ctypes."""

from __future__ import annotations

import ctypes

from . import _blockcount

lib = ctypes.CDLL(_blockcount.__file__)
