"""The federation consortium fixture, for the consent guard tests."""

from __future__ import annotations

from tests.node.federation.conftest import consortium

__all__ = ["consortium"]
