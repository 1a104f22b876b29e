"""End-to-end fixtures: one real Prefect server per session, one sample world per session.

``prefect_server`` runs ``prefect server start`` on a free loopback port with its
own PREFECT_HOME, and points this process (and the subprocesses the tests
start: ``prefect deploy``, the worker) at it. ``prefect_harness`` is the same
server for tests that only need *a* Prefect API for in-process flows.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
import pytest

E2E_AS_OF = date(2026, 11, 20)
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SERVER_STARTUP_SECONDS = 90


@dataclass(frozen=True)
class PrefectServer:
    url: str           # http://127.0.0.1:<port>/api
    home: Path
    env: dict[str, str]  # a clean environment for Prefect subprocesses (no LETTRAGE__/SOURCES__ leaks)


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if pytest dies without tearing down (no orphaned servers)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # not Linux: teardown still stops it
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without Lettrage settings or source secrets, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LETTRAGE__", "SOURCES__", "PREFECT_API_URL", "PREFECT_HOME", "PYTEST_"))}
    env.update(extra)
    return env


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """Stop a subprocess we started in its own session, and everything it started."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)


def _drain_prefect_clients() -> None:
    """Flush this process's pending logs and events while the server is up (else exit retries for a minute)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        try:
            worker.drain_all(timeout=10)
        except Exception:  # nothing to drain, or already stopped
            pass


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME, temporary_settings

    home = tmp_path_factory.mktemp("prefect_home")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = clean_env(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_API_URL=url,
                    PREFECT_SERVER_UI_ENABLED="false", PREFECT_WORKER_QUERY_SECONDS="1",
                    PREFECT_WORKER_PREFETCH_SECONDS="5", PREFECT_LOGGING_TO_API_BATCH_INTERVAL="0.5")
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
         "--analytics-off", "--no-scheduler"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent,
    )
    deadline = time.monotonic() + SERVER_STARTUP_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process_group(proc)
            pytest.fail(f"prefect server did not start: {(home / 'server.log').read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    try:
        with temporary_settings(updates={PREFECT_API_URL: url, PREFECT_HOME: home}):
            yield PrefectServer(url=url, home=home, env=env)
            _drain_prefect_clients()
    finally:
        stop_process_group(proc)
        log.close()


@pytest.fixture(scope="session")
def prefect_harness(prefect_server: PrefectServer) -> Iterator[None]:
    """A Prefect API for in-process flow runs: the session's real server."""
    yield


@pytest.fixture(scope="session")
def sample_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sandbox.world import write_world

    root = tmp_path_factory.mktemp("world")
    write_world(root, seed=7, size="small", as_of=E2E_AS_OF)
    return root


def world_secrets(root: Path) -> set[str]:
    """Every credential of the world (API keys, tokens, passwords) and every customer's full IBAN."""
    world = json.loads((root / "world.json").read_text(encoding="utf-8"))
    found: set[str] = set()

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, str) and len(value) >= 8 and any(
                w in key.lower() for w in ("key", "token", "secret", "password")):
            found.add(value)

    for ent in world["entities"]:
        for block in ("stripe", "gocardless", "sage_accounting", "netsuite", "sap_b1"):
            walk(ent.get(block) or {})
    import csv

    with (root / "ground_truth" / "customers.csv").open(encoding="utf-8") as f:
        found |= {r["payer_iban"].replace(" ", "") for r in csv.DictReader(f) if r.get("payer_iban")}
    return found
