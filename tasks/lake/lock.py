"""One writer at a time: a `_lock` file names the run that holds the lake.

On object storage the lock is created with a conditional write (`If-None-Match: *`). A lock whose
process is gone is taken over; only processes on the dead holder's host can tell it is gone, and
they take it over one at a time, under a file lock of that host.
"""

import fcntl
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from newslake.tasks.lake.layout import Lake
from newslake.tasks.lake.storage import AnyPath, create_exclusive, is_local


class LakeBusy(RuntimeError):
    """Another run holds the lake's lock."""


@contextmanager
def lake_lock(lake: Lake, run_id: str) -> Iterator[None]:
    """Hold the lake's lock for one run; refuse clearly when a live run holds it.

    A lock left by a process that no longer exists on this host is stale and taken over.
    """
    lake.make()
    path = lake.lock_file
    holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(3):
        if create_exclusive(path, json.dumps(holder).encode()):
            break
        with _one_takeover_at_a_time(lake):
            _remove_if_stale(lake)
    else:
        raise LakeBusy(f"could not take the lock {path}; another run is starting on the same lake")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _remove_if_stale(lake: Lake) -> None:
    """Delete the lock file if its holder is gone; refuse if it is alive. Only this function
    deletes a lock that is not the caller's own, one caller at a time, so the version of the
    file judged (its content and age read together) is the one deleted. A lock that is gone
    already is left for the next attempt to create."""
    path = lake.lock_file
    try:
        body, age = _read_lock(path)
    except FileNotFoundError:
        return
    try:
        other = json.loads(body)
    except ValueError:
        other = None
    other = other if isinstance(other, dict) else None
    if other is None and age < 60:
        raise LakeBusy(f"another run is starting on the lake {lake}; try again in a moment")
    if other is not None and _alive(other):
        raise LakeBusy(
            f"the lake {lake} is in use by run {other.get('run_id')} (pid {other.get('pid')} on "
            f"{other.get('host')}); wait for it to finish, or delete {path} if that process is gone"
        )
    path.unlink(missing_ok=True)


def _read_lock(path: AnyPath) -> tuple[bytes, float]:
    """One version of the lock file: its bytes and its age in seconds."""
    if not is_local(path):
        return path.read_bytes(), time.time() - path.stat().st_mtime
    with open(path, "rb") as f:
        return f.read(), time.time() - os.fstat(f.fileno()).st_mtime


@contextmanager
def _one_takeover_at_a_time(lake: Lake) -> Iterator[None]:
    guard = Path(tempfile.gettempdir()) / f"newslake-{lake.key}.takeover"
    with open(guard, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released by the kernel, even when its holder dies
        yield


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell for another host: assume it is running
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True
