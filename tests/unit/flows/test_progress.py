"""The progress board, the dlt collector feeding it and the plain renderer."""

from __future__ import annotations

import copy
import io

from lettrage.progress import DONE, FAILED, DltProgress, PlainRenderer, ProgressBoard


def test_collector_counts_pages_and_rows_of_extract_and_ignores_dlt_tables() -> None:
    board = ProgressBoard()
    board.start("stripe/FR01")
    collector = DltProgress("stripe/FR01", board)
    with collector("Extract stripe"):
        collector.update("Resources", 0, 3)
        collector.update("raw_stripe_charges", inc=100)
        collector.update("raw_stripe_charges", inc=40)
        collector.update("_dlt_pipeline_state", inc=1)
    (item,) = board.snapshot()
    assert (item.pages, item.rows, item.phase) == (2, 140, "extract")


def test_collector_reports_a_total_when_dlt_knows_it() -> None:
    board = ProgressBoard()
    collector = DltProgress("camt053/FR01", board)
    with collector("Load"):
        collector.update("Jobs", inc=0, inc_total=4)
        collector.update("Jobs")
        collector.update("Jobs")
    (item,) = board.snapshot()
    assert (item.phase, item.done, item.total) == ("load", 2, 4)


def test_collector_survives_dlt_deep_copying_it() -> None:
    board = ProgressBoard()
    collector = DltProgress("x/FR01", board)
    assert copy.deepcopy(collector) is collector


def test_board_tells_listeners_and_masks_failure_messages() -> None:
    board = ProgressBoard()
    events: list[tuple[str, str]] = []
    board.attach(lambda event, item: events.append((event, item.status)))
    board.plan(["a/FR01", "b/FR01"])
    board.start("a/FR01")
    board.finish("a/FR01", rows=10)
    board.start("b/FR01")
    board.fail("b/FR01", "refused for FR7630004000031234567890143")
    states = {s.key: s for s in board.snapshot()}
    assert states["a/FR01"].status == DONE and states["a/FR01"].rows == 10
    assert states["b/FR01"].status == FAILED and "FR7630004000031234567890143" not in states["b/FR01"].message
    assert [e for e, _ in events] == ["plan", "plan", "start", "done", "start", "failed"]


def test_a_broken_listener_never_breaks_a_load() -> None:
    board = ProgressBoard()
    board.attach(lambda event, item: 1 / 0)
    board.start("a/FR01")
    board.update("a/FR01", rows=5, pages=1)
    assert board.snapshot()[0].rows == 5


def test_plain_renderer_writes_one_line_per_start_and_end() -> None:
    out = io.StringIO()
    board = ProgressBoard()
    board.attach(PlainRenderer(out, quiet=True))
    board.start("camt053/FR01")
    board.update("camt053/FR01", rows=500, pages=5)
    board.finish("camt053/FR01", rows=500)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("camt053/FR01: started")
    assert "camt053/FR01: done, 500 rows in 5 pages" in lines[1]
