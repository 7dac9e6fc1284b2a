"""Benchmarks that print ratios measured in one run: ttdbg against raw Unicorn, and peers."""
