"""`newslake serve`: scheduled incremental runs through a Prefect deployment."""

import shutil
import signal
import time

import polars as pl

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, read_table


def _runs(lake) -> pl.DataFrame:
    try:
        return pl.from_arrow(read_table(Lake.at(lake), TABLES["runs"])).sort("started_at")
    except OSError:  # a partition being replaced right now: no run to see yet
        return pl.from_arrow(TABLES["runs"].dataset_schema.empty_table())


def _wait_for(condition, process, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "newslake serve stopped"
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_serve_runs_on_schedule_and_processes_only_new_files(sample, new_article, newslake_cli, tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(sample, inbox)
    log = tmp_path / "serve.log"
    with open(log, "w") as output:  # a long-lived process: a file, not a pipe that could fill up
        process = newslake_cli(
            "serve", "--inbox", str(inbox), "--lake", str(lake), "--interval", "2", stdout=output, stderr=output
        )
    try:
        _wait_for(lambda: len(_runs(lake)) >= 1, process)
        assert _runs(lake)["new"].to_list()[0] == 13
        (inbox / "ferries.txt").write_text(new_article)
        _wait_for(lambda: 1 in _runs(lake)["new"].to_list()[1:], process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    err = log.read_text()
    assert process.returncode in (0, 128 + signal.SIGTERM), err
    assert "Traceback" not in err, err
    runs = _runs(lake)
    assert set(runs["new"].to_list()[1:]) <= {0, 1} and runs["new"].sum() == 14
