"""The Prefect API that newslake's flows report to: PREFECT_API_URL when it is set, otherwise a
local Prefect server started for as long as one command needs it.

The server is the public `prefect server start`, started as early as possible: it boots (about
5 s of CPU) while newslake imports Prefect and its flows. It stops with the command, even when
the command is killed (Linux asks the kernel to end it with its parent).
"""

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

_started: dict[str, subprocess.Popen] = {}  # servers this process started and has not waited for
_UNNEEDED_BY_ONE_COMMAND = [
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED",
    "PREFECT_API_EVENTS_STREAM_OUT_ENABLED",
    "PREFECT_SERVER_REGISTER_BLOCKS_ON_START",
    "PREFECT_SERVER_MEMOIZE_BLOCK_AUTO_REGISTRATION",
]


@contextmanager
def prefect_api(database: Path | None = None, *, scheduler: bool = False) -> Iterator[str]:
    """Make sure a Prefect API serves this process and the worker processes it starts; yields its URL.

    Without PREFECT_API_URL, a local server is started, keeping its database in `database`
    (default: Prefect's own, in PREFECT_HOME) and running the scheduler only when asked for.
    Nested uses share the outer one's server. Flow runs wait for it with `wait_until_ready`.
    """
    # Prefect's settings take a second to import. Where they are not imported yet and the
    # environment names no API, the local server starts booting first; it stops at once if a
    # Prefect profile or settings file names an API after all.
    early = None
    if "prefect.settings" not in sys.modules and not os.environ.get("PREFECT_API_URL"):
        early = _start(database, scheduler=scheduler)
    from prefect.context import refresh_global_settings_context
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_UI_URL,
        temporary_settings,
    )

    if url := PREFECT_API_URL.value():
        if early:
            _stop(*early)
        yield url
        return
    server, url = early or _start(database, scheduler=scheduler)
    # Worker processes read the environment; Prefect's own threads read its global settings.
    os.environ["PREFECT_API_URL"] = url
    refresh_global_settings_context()
    # The server serves no UI: no "View at" link to a page that is not there. A server for one
    # command has no use for flow run heartbeats either (they let automations find runs that died;
    # this server stops with its run), and a flow run that sends them ends up to a second late,
    # as its heartbeat thread wakes to see it is done.
    settings = {PREFECT_API_URL: url, PREFECT_UI_URL: ""}
    if not scheduler:
        settings[PREFECT_FLOWS_HEARTBEAT_FREQUENCY] = None
    try:
        with temporary_settings(settings):
            try:
                yield url
            finally:
                _drain_logs()
    finally:
        os.environ.pop("PREFECT_API_URL", None)
        refresh_global_settings_context()
        _stop(server, url)


def wait_until_ready(timeout: float = 120) -> None:
    """Wait until the local server this process started answers (nothing to wait for otherwise)."""
    for url, server in list(_started.items()):
        deadline = time.monotonic() + timeout
        while not _healthy(url):
            if server.poll() is not None:
                raise RuntimeError(
                    f"the local Prefect server exited with code {server.returncode}; "
                    "run `prefect server start` to see why"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the local Prefect server did not answer at {url} within {timeout:.0f}s")
            time.sleep(0.1)
        del _started[url]


def _start(
    database: Path | None, *, scheduler: bool, port: int | None = None, ui: bool = False
) -> tuple[subprocess.Popen, str]:
    if port is None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--analytics-off", "--log-level", "WARNING"] + ([] if ui else ["--no-ui"])
    env = {name: value for name, value in os.environ.items() if name != "PREFECT_API_URL"}
    if not scheduler:
        # A server for one command runs the services that record its flow run's tasks and events
        # (for the UI afterwards), none that schedule, watch or stream runs. Nor does it register
        # Prefect's block types: checking whether those are registered imports every installed
        # Prefect collection (prefect-dask brings in Dask), half a second of a boot the flow run
        # waits for.
        command += ["--no-scheduler", "--no-late-runs"]
        env |= dict.fromkeys(_UNNEEDED_BY_ONE_COMMAND, "false")
    if database is not None:
        database.mkdir(parents=True, exist_ok=True)
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{database / 'prefect.db'}"
    server = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C reaches newslake, which then stops the server in order
        preexec_fn=_stop_with_parent if sys.platform == "linux" else None,
    )
    url = f"http://127.0.0.1:{port}/api"
    _started[url] = server
    return server, url


def _stop(server: subprocess.Popen, url: str) -> None:
    _started.pop(url, None)
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _stop_with_parent() -> None:
    """In the server's process: ask Linux for SIGTERM when newslake dies, even by SIGKILL."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _drain_logs() -> None:
    """Send the log lines still queued to the server before it stops (a flow ran only if
    Prefect's logging was loaded)."""
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)


@contextmanager
def prefect_ui(database: Path | None, *, port: int) -> Iterator[subprocess.Popen]:
    """Run Prefect's server with its UI at http://127.0.0.1:`port` on the runs recorded in
    `database` (default: Prefect's own, in PREFECT_HOME) for as long as the block lasts."""
    server, url = _start(database, scheduler=True, port=port, ui=True)
    try:
        yield server
    finally:
        _stop(server, url)
