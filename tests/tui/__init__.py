"""Tests of the terminal UI: Pilot scenarios, SVG snapshots, a real terminal in tmux."""
