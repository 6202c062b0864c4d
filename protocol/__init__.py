"""Konsort protocol: pure message, signing and manifest code (no I/O)."""
