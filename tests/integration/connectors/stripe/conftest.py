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
def stripe_world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, int]]]:
    root = tmp_path_factory.mktemp("stripe_world")
    return root, write_tiny_world(root, n_charges=60, n_payments=20)


@pytest.fixture(scope="session")
def stripe_sandbox_session(stripe_world: tuple[Path, dict[str, dict[str, int]]]) -> Iterator[RunningSandbox]:
    with serve(stripe_world[0]) as sandbox:
        yield sandbox


@pytest.fixture
def stripe_sandbox(stripe_sandbox_session: RunningSandbox) -> Iterator[RunningSandbox]:
    stripe_sandbox_session.faults.clear()
    yield stripe_sandbox_session
    stripe_sandbox_session.faults.clear()
