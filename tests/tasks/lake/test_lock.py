import datetime
import json
import os
import subprocess
import sys

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
