"""Capture and restore of whole-machine state, page deltas, lz4 frames and the snapshot index."""
