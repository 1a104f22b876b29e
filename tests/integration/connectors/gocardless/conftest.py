"""A tiny Stripe/GoCardless world served once per session; faults cleared after every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors._http import RetryPolicy
from sandbox.server import RunningSandbox, serve
from sandbox.server.tiny_world import write_tiny_world

FAST_RETRIES = RetryPolicy(max_attempts=6, base_delay=0.01, max_delay=0.05, max_total_wait=1.0)


@pytest.fixture(scope="session")
def gc_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    root = tmp_path_factory.mktemp("gc_world")
    return root, write_tiny_world(root, n_charges=10, n_payments=60)


@pytest.fixture(scope="session")
def gc_sandbox_session(gc_world: tuple[Path, dict[str, dict[str, int]]]) -> Iterator[RunningSandbox]:
    with serve(gc_world[0]) as sandbox:
        yield sandbox


@pytest.fixture
def gc_sandbox(gc_sandbox_session: RunningSandbox) -> Iterator[RunningSandbox]:
    gc_sandbox_session.faults.clear()
    yield gc_sandbox_session
    gc_sandbox_session.faults.clear()
