"""Scheduled runs: serve the incremental flow on a cron or interval schedule through Prefect."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prefect.deployments.runner import EntrypointType
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.pipeline import newslake_run


@contextmanager
def scheduling_api(state: Path) -> Iterator[str]:
    """A Prefect API whose scheduler creates the scheduled runs.

    PREFECT_API_URL when it is set; otherwise a local Prefect server started for as long as
    the schedule is served (the temporary server of one-off runs has no scheduler), keeping
    its database in `state`, so that each lake has its own deployments and run history.
    """
    if url := PREFECT_API_URL.value():
        yield url
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--no-ui", "--analytics-off", "--log-level", "WARNING"]
    database = f"sqlite+aiosqlite:///{state / 'prefect.db'}"
    server = subprocess.Popen(
        command,
        env=os.environ | {"PREFECT_SERVER_DATABASE_CONNECTION_URL": database},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C reaches newslake, which then stops the server in order
        preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
    )
    url = f"http://127.0.0.1:{port}/api"
    try:
        _wait_healthy(url, server)
        os.environ["PREFECT_API_URL"] = url  # for the flow runs this process starts
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _stop_with_parent() -> None:
    """In the server's process: ask Linux for SIGTERM when newslake dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_healthy(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"the local Prefect server exited with code {server.returncode}; run `prefect server start` to see why"
            )
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the local Prefect server did not answer at {url} within {timeout:.0f}s")


def serve(*, name: str, cron: str | None, interval: int | None, parameters: dict) -> None:
    """Serve `newslake_run` with `parameters` on the schedule until interrupted."""
    with scheduling_api(Path(parameters["lake"]) / "_prefect"):
        newslake_run.serve(
            name=name,
            cron=cron,
            interval=interval,
            parameters=parameters,
            limit=1,
            entrypoint_type=EntrypointType.MODULE_PATH,
            print_starting_message=False,
        )
