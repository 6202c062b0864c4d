"""Konsort admin UI and member portal (server-rendered pages mounted in the node)."""
