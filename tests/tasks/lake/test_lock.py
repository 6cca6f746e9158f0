import datetime
import json
import multiprocessing
import os
import subprocess
import sys
import time

import pytest

from newslake.tasks.lake import Lake, LakeBusy, lake_lock

D1 = datetime.date(2025, 3, 1)


def test_lock_lock_refuses_a_live_holder_and_recovers_a_stale_one(tmp_path):
    with (
        lake_lock(Lake.at(tmp_path), "first"),
        pytest.raises(LakeBusy, match="in use by run first"),
        lake_lock(Lake.at(tmp_path), "x"),
    ):
        pass
    assert not (tmp_path / "_lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "_lock").write_text(
        json.dumps({"run_id": "killed", "pid": int(dead.stdout), "host": os.uname().nodename})
    )
    with lake_lock(Lake.at(tmp_path), "second"):
        assert json.loads((tmp_path / "_lock").read_text())["run_id"] == "second"


def _contend(lake: str, barrier, holding, most) -> None:
    """One contender: wait for the others, try the lock, and while holding it count the holders."""
    barrier.wait()
    try:
        with lake_lock(Lake.at(lake), f"contender-{os.getpid()}"):
            with holding.get_lock():
                holding.value += 1
                most.value = max(most.value, holding.value)
            time.sleep(0.05)
            with holding.get_lock():
                holding.value -= 1
    except LakeBusy:
        pass


def test_lock_one_contender_takes_over_a_stale_lock_however_many_try_at_once(tmp_path):
    fork = multiprocessing.get_context("fork")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = json.dumps({"run_id": "killed", "pid": int(dead.stdout), "host": os.uname().nodename})
    for trial in range(30):
        (tmp_path / "_lock").write_text(stale)
        barrier, holding, most = fork.Barrier(6), fork.Value("i", 0), fork.Value("i", 0)
        contenders = [fork.Process(target=_contend, args=(str(tmp_path), barrier, holding, most)) for _ in range(6)]
        for contender in contenders:
            contender.start()
        for contender in contenders:
            contender.join(timeout=60)
        assert [c.exitcode for c in contenders] == [0] * 6
        assert most.value == 1, f"trial {trial}: {most.value} contenders held the lock at once"
        assert not (tmp_path / "_lock").exists()
