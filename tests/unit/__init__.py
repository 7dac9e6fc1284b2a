"""Tests of one layer at a time against oracles (forward runs, per-instruction traces)."""
