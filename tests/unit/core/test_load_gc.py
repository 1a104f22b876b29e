"""A load runs with the garbage collector's young generation raised, and leaves it as it found it."""

from __future__ import annotations

import gc
import threading

from warehouse.load import LOAD_GC_THRESHOLDS, batch_gc

LOAD_GC_THRESHOLD = LOAD_GC_THRESHOLDS[0]


def test_the_threshold_is_raised_during_a_load_and_restored_after_it_even_on_error() -> None:
    before = gc.get_threshold()
    try:
        with batch_gc():
            assert gc.get_threshold() == tuple(max(a, b) for a, b in zip(LOAD_GC_THRESHOLDS, before, strict=True))
            raise RuntimeError("the load failed")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before


def test_concurrent_loads_restore_the_setting_only_when_the_last_one_ends() -> None:
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other_load() -> None:
        with batch_gc():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=other_load)
    with batch_gc():
        worker.start()
        inside.wait(5)
    assert gc.get_threshold()[0] == LOAD_GC_THRESHOLD  # the other load still runs
    release.set()
    worker.join(5)
    assert gc.get_threshold() == before


def test_a_process_already_tuned_higher_keeps_its_own_threshold() -> None:
    before = gc.get_threshold()
    gc.set_threshold(LOAD_GC_THRESHOLD * 2, *before[1:])
    try:
        with batch_gc():
            assert gc.get_threshold()[0] == LOAD_GC_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)
