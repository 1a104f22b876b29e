"""A minimal Chrome DevTools Protocol driver for the distribution's headless Chromium.

Playwright and Selenium are not installed (and Playwright downloads its own
browser); the DevTools protocol over one WebSocket is all a click-through needs:
navigate, evaluate JavaScript, wait for a page, take a screenshot.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect


class Browser:
    def __init__(self, chromium: str, profile: Path, width: int = 1360, height: int = 1500) -> None:
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-background-networking", "--disable-sync", "--disable-extensions", "--mute-audio",
             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        port = None
        assert self.proc.stderr
        while port is None:
            line = self.proc.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
            elif time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"Chromium did not start: {line}")
        pages = [t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page"]
        self.ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=20)
        self._ids = itertools.count(1)
        self.send("Page.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        call = next(self._ids)
        self.ws.send(json.dumps({"id": call, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == call:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})  # type: ignore[no-any-return]

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, path: str, timeout: float = 30) -> str:
        """Wait until the page at ``path`` (prefix, query ignored) has loaded; returns its visible text."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:  # one evaluation: the page cannot change between the check and the read
                state = self.js("[location.pathname, document.readyState, document.body && document.body.innerText]")
            except RuntimeError:  # navigation in progress: the context went away
                state = None
            if state and state[0].startswith(path) and state[1] == "complete" and state[2] is not None:
                return str(state[2])
            time.sleep(0.1)
        raise TimeoutError(f"page {path} did not load; at {self.js('location.href')}")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", format="png")["data"]))

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(timeout=10)
