"""`newslake serve`: scheduled incremental runs through a Prefect deployment."""

import os
import shutil
import signal
import subprocess
import sys
import time

import polars as pl

from schemas import TABLES
from tasks.publish import read_table
from tests.conftest import ROOT, SAMPLE
from tests.flows.test_pipeline import NEW_ARTICLE


def _runs(lake) -> pl.DataFrame:
    try:
        return pl.from_arrow(read_table(lake, TABLES["runs"])).sort("started_at")
    except OSError:  # a partition being replaced right now
        return pl.DataFrame()


def _wait_for(condition, process, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError("timed out")


def test_serve_runs_on_schedule_and_processes_only_new_files(tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(SAMPLE, inbox)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    command = ["serve", "--inbox", str(inbox), "--lake", str(lake), "--interval", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: len(_runs(lake)) >= 1, process)
        assert _runs(lake)["new"].to_list()[0] == 12
        (inbox / "ferries.txt").write_text(NEW_ARTICLE)
        _wait_for(lambda: 1 in _runs(lake)["new"].to_list()[1:], process)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode in (0, 128 + signal.SIGTERM), err
    assert "Traceback" not in err, err
    runs = _runs(lake)
    assert set(runs["new"].to_list()[1:]) <= {0, 1} and runs["new"].sum() == 13
