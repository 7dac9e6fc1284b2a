"""The error a Cortex-M device raises when the guest does something the model does not cover."""

from __future__ import annotations


class NotModelled(Exception):
    """The guest used hardware behaviour ttdbg does not model; the recording stops here."""
