"""The figure cache: slow figures computed once, in the background, without holding the page."""

from __future__ import annotations

import threading

from desk.cache import FigureCache


def test_soon_returns_a_quick_figure_at_once_and_keeps_it() -> None:
    cache = FigureCache()
    calls: list[int] = []
    assert cache.soon("k", lambda: calls.append(1) or 42, wait_s=5) == 42
    assert cache.soon("k", lambda: calls.append(1) or 0, wait_s=5) == 42
    assert calls == [1]


def test_soon_does_not_wait_for_a_slow_figure_and_computes_it_once() -> None:
    cache = FigureCache()
    release = threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        release.wait(10)
        return "done"

    assert cache.soon("slow", slow, wait_s=0.05) is None
    assert cache.soon("slow", slow, wait_s=0) is None  # still running: no second computation
    release.set()
    assert cache.soon("slow", slow, wait_s=5) == "done"
    assert calls == [1]


def test_a_failed_background_figure_is_retried_on_the_next_request() -> None:
    cache = FigureCache()
    attempts: list[int] = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("warehouse gone")
        return 7

    assert cache.soon("f", flaky, wait_s=5) is None
    assert cache.soon("f", flaky, wait_s=5) == 7
    assert len(attempts) == 2
