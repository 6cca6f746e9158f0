import io
import logging
import re

from prefect import flow, get_run_logger
from rich.console import Console

from newslake.flows import progress
from newslake.flows.progress import StageProgress, live_progress


def test_progress_stage_logs_its_count_every_few_seconds_and_when_done(caplog, monkeypatch):
    logger = logging.getLogger("newslake.test.progress")
    clock = iter([0.0, 1.0, 2.0, 7.0, 8.0, 9.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    with caplog.at_level(logging.INFO, logger=logger.name):
        stage = StageProgress(logger, "annotated", 40)  # starts at 0.0
        for _ in range(4):
            stage.advance(10)  # at 1.0 and 2.0 (too soon), 7.0 (5 s after the start), 8.0 (done)
    assert [r.getMessage() for r in caplog.records] == [
        "annotated 30/40 documents (4.3/s, about 2s left)",
        "annotated 40/40 documents",
    ]
    assert [r.progress for r in caplog.records] == [("annotated", 30, 40), ("annotated", 40, 40)]


def test_progress_live_bars_on_a_terminal_replace_the_progress_lines(prefect_server, capsys):
    @flow
    def counting() -> None:
        logger = get_run_logger()
        StageProgress(logger, "annotated", 20).advance(20)
        logger.info("an ordinary line")

    screen = io.StringIO()
    with live_progress(Console(file=screen, force_terminal=True, width=100)):
        counting()
    shown = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert re.search(r"annotated [━╸╺ ]+ 20/20", shown) and "an ordinary line" in shown, shown
    assert "annotated 20/20" not in capsys.readouterr().err  # the line itself became a bar


def test_progress_without_a_terminal_leaves_the_lines_as_they_are():
    screen = io.StringIO()
    with live_progress(Console(file=screen, force_terminal=False)):
        logging.getLogger("newslake.test.progress").warning("a line")
    assert screen.getvalue() == ""
