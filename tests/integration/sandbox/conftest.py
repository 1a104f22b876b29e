"""One small sample world per test session, written once and read by many tests."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.world import WorldSummary, write_world

AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="session")
def small_world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return write_world(tmp_path_factory.mktemp("world"), seed=42, size="small", as_of=AS_OF)
