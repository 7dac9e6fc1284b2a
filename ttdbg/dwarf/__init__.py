"""Source-level debug info from DWARF (pyelftools): types, variables, frames by CFI, C lvalues.

No Textual or rich here: the TUI, tests and any gdb-free tool use it alike. All of it treats
the program's debug info as untrusted input (see `DebugInfo`).
"""
