"""Fixtures for the program tests: a till, and the café of docs/program.md."""

from __future__ import annotations

import pytest

from node.clock import ManualClock
from tests.node.conftest import Operator
from tests.node.program.cafe import APPLIED_AT, Till, cafe_program


@pytest.fixture
def till(operator: Operator, clock: ManualClock) -> Till:
    """A till at a café with no program stored yet (version 0: the settings)."""
    return Till(operator, clock)


@pytest.fixture
def cafe(till: Till) -> Till:
    """The café of docs/program.md, its program applied on 1 February 2026 (version 1)."""
    answer = till.at(APPLIED_AT).apply(cafe_program(), comment="first program")
    assert answer["version"] == 1
    return till
