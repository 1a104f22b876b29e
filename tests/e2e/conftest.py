"""One Prefect test server per session, one generated sample world per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

E2E_AS_OF = date(2026, 11, 20)


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sandbox.world import write_world

    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=7, size="small", as_of=E2E_AS_OF)
    return root
