"""Run the sandbox with uvicorn in a background thread, on a port the OS picks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from sandbox.server.app import build_app
from sandbox.server.faults import Faults
from sandbox.server.http import install_drop_filter
from sandbox.server.state import SandboxState


class FaultControl:
    """``sandbox.faults.set(rate_limit=3)`` — the in-process twin of ``POST /_sandbox/faults``."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    def set(self, **plan: Any) -> None:
        self._faults.set(**plan)

    def clear(self) -> None:
        self._faults.clear()

    def snapshot(self) -> dict[str, Any]:
        return self._faults.snapshot()


class RunningSandbox:
    """A live server; use as a context manager so the thread and temp files go away."""

    def __init__(
        self, state: SandboxState, server: uvicorn.Server, thread: threading.Thread, url: str
    ) -> None:
        self.state, self._server, self._thread, self.url = state, server, thread, url
        self.faults = FaultControl(state.faults)

    @property
    def stripe_base(self) -> str:
        return f"{self.url}/stripe"

    @property
    def gocardless_base(self) -> str:
        return f"{self.url}/gocardless"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.state.close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(root: Path, host: str = "127.0.0.1", port: int = 0, *, now: float | None = None) -> RunningSandbox:
    """Start serving ``root`` (a world directory) and return once the socket accepts connections."""
    install_drop_filter()
    state = SandboxState(Path(root), now=now)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(state), log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="lettrage-sandbox", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"sandbox server did not start on {host}:{actual_port}")
        time.sleep(0.01)
    url = f"http://{host}:{actual_port}"
    state.base_url = url
    return RunningSandbox(state, server, thread, url)
