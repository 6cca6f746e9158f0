"""The Prefect API a command reports to: the one Prefect's settings name, or a local server."""

import os
import subprocess
import sys

API_AND_LOCAL_SERVERS = """
import psutil
from newslake.flows.prefect_server import prefect_api
with prefect_api() as url:
    servers = [p for p in psutil.Process().children() if "server start" in " ".join(p.cmdline())]
    print(url, len(servers))
"""


def test_an_api_named_by_a_prefect_profile_is_used_and_no_local_server_kept(root, tmp_path):
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(
        'active = "shared"\n\n[profiles.shared]\nPREFECT_API_URL = "http://prefect.internal:4200/api"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_PROFILES_PATH": str(profiles), "PREFECT_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", API_AND_LOCAL_SERVERS], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["http://prefect.internal:4200/api", "0"]
