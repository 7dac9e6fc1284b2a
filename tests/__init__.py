"""Tests: unit/ (one layer), integration/ (real binaries, gdb, busybox), tui/ (Pilot, tmux)."""
