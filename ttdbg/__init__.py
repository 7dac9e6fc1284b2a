"""ttdbg: a snapshot-centric time-travel debugger built on the Unicorn CPU emulator."""

__version__ = "0.1.0"
