"""Konsort node: the service a partner business runs."""
