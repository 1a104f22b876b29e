"""The issue's browser test: headless Chromium, driven over the DevTools protocol, on the sample world.

A reviewer signs in through the form, confirms a suggested match, sees the
invoice turn paid and the dashboard's encours drop by that amount; a FR01
reader sees no DE01 figure and gets a 404 page on a DE01 URL, and finds no
decision form. Screenshots go to test-artifacts/desk/.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.integration.desk.conftest import ARTIFACTS, PASSWORD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install -y chromium)")


@pytest.fixture(scope="module")
def base_url(desk_world: dict[str, Any]) -> Iterator[str]:
    import uvicorn

    from desk import DeskSettings, create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(DeskSettings(warehouse=desk_world["config"], secret="browser-" + "k" * 24))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from tests.integration.desk.cdp import Browser

    assert CHROMIUM
    b = Browser(CHROMIUM, tmp_path / "profile")
    try:
        yield b
    finally:
        b.close()


def _sign_in(browser: Any, base_url: str, username: str) -> str:
    browser.goto(f"{base_url}/login")
    browser.wait_for("/login")
    browser.js(f"document.querySelector('input[name=username]').value = '{username}';"
               f"document.querySelector('input[name=password]').value = '{PASSWORD}';"
               "document.querySelector('form[action=\"/login\"] button').click()")
    return browser.wait_for("/e/")


def _total(text: str) -> Decimal:
    found = re.search(r"Total open\s+EUR\s+([\d\u202f.,-]+)", text)
    assert found, text[:800]
    return Decimal(found.group(1).replace("\u202f", "").replace(",", ""))


def test_reviewer_confirms_in_the_browser_and_the_encours_drops(browser: Any, base_url: str,
                                                              desk_world: dict[str, Any]) -> None:
    s = desk_world["browser_suggestion"]
    _sign_in(browser, base_url, "rev")
    browser.goto(f"{base_url}/e/FR01")
    before = _total(browser.wait_for("/e/FR01"))
    browser.screenshot(ARTIFACTS / "dashboard.png")
    browser.goto(f"{base_url}/queue?entity=FR01&kind=suggested")
    browser.wait_for("/queue")
    browser.screenshot(ARTIFACTS / "work-queue.png")
    shots = [ARTIFACTS / "dashboard.png", ARTIFACTS / "work-queue.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 20_000 for p in shots)
    browser.js(f"document.querySelector('a[href=\"/e/FR01/match/{s['match_id']}\"]').click()")
    text = browser.wait_for(f"/e/FR01/match/{s['match_id']}")
    assert "Confirm" in text and "FR7630006000011234567890189" not in text
    browser.js("document.querySelector('button[value=confirm]').click()")
    deadline = time.monotonic() + 60
    while "Recorded: confirmed" not in (text := browser.wait_for("/e/FR01/match/")):
        assert time.monotonic() < deadline, text[:500]
        time.sleep(0.2)
    assert browser.js("document.querySelector('#invoice [data-status]').dataset.status") == "paid"
    browser.screenshot(ARTIFACTS / "suggestion-confirmed.png")
    browser.goto(f"{base_url}/e/FR01")
    after = _total(browser.wait_for("/e/FR01"))
    assert before - after == s["invoice_open"]


def test_fr01_reader_in_the_browser_sees_no_de01_and_no_decision_form(browser: Any, base_url: str,
                                                                      desk_world: dict[str, Any]) -> None:
    landing = _sign_in(browser, base_url, "fr_reader")
    assert "DE01" not in landing and "Encours by status" in landing
    for path in ("/queue", "/e/FR01/invoices", "/erp"):
        browser.goto(base_url + path)
        assert "DE01" not in browser.wait_for(path)
    browser.goto(f"{base_url}/e/DE01")
    assert "Not found" in browser.wait_for("/e/DE01") and "DE01 —" not in browser.js("document.body.innerText")
    browser.goto(f"{base_url}/e/FR01/match/{desk_world['suggestion']['match_id']}")
    browser.wait_for("/e/FR01/match/")
    assert browser.js("document.querySelectorAll('button[name=verdict]').length") == 0
