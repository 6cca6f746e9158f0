"""newslake's local Dask cluster: one single-threaded worker process per core, each forked from
a process that made ready what every worker needs (`flows.worker_template`) once.

A spawned worker spends about 3 s of CPU importing Prefect, Arrow and the steps before its first
task, and on two cores the two workers' imports compete with the Prefect server's boot. A fork
server, started as soon as a command knows that its run has batches, imports them once while
newslake imports its flows and the server boots; each worker is then a fork of it, ready in a
fraction of a second. A run with nothing new starts none: its imports would only slow the boot.
"""

import logging
import multiprocessing
import os
from collections.abc import Callable
from multiprocessing import forkserver

STEPS = ["tasks.clean", "tasks.annotate"]  # what every worker imports before its first task
# The environment workers start with; the C libraries read it when a process starts. glibc gives
# each of a worker's threads an arena of its own, and what one thread frees another cannot reuse:
# two arenas kept a worker at 0.33 GB over five batches, not 0.46. One thread per numeric library
# is Dask's own default for its workers: a worker is one process on one core.
WORKER_ENVIRON = {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_template_started = False  # by this process: `needed` is not asked again


def start_worker_template(needed: Callable[[], bool] = lambda: True) -> None:
    """Start, in the background, the process that local workers are forked from, if `needed()`
    says a run will have batches (asked only while it is not started yet; once per process, and
    nothing to do where only spawning is available)."""
    global _template_started
    if _START_METHOD != "forkserver" or not (_template_started or needed()):
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(["flows.worker_template"])
    saved = {name: os.environ.get(name) for name in WORKER_ENVIRON}
    os.environ.update(WORKER_ENVIRON)
    try:
        forkserver.ensure_running()
        _template_started = True
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


def local_cluster_options(workers: int | None = None) -> dict:
    """The options of newslake's local Dask cluster (and the Dask settings it needs): `workers`
    single-threaded processes (default: one per core) that import the steps' modules as they
    start. Each worker process loads the spaCy model once and keeps it for every batch it is given."""
    import dask

    dask.config.set(
        {
            "distributed.worker.multiprocessing-method": _START_METHOD,
            # Dask's nannies make glibc give freed memory back at once (MALLOC_TRIM_THRESHOLD_=65536):
            # spaCy frees so much per batch that the page faults cost 21 s of system time on the BBC
            # corpus (annotation 82 s instead of 70). Local workers keep glibc's own, adaptive threshold.
            "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
            # For a worker spawned rather than forked (where the fork server is not available).
            **{f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_ENVIRON.items()},
            # A worker takes its next batch when it is free, not one ahead: batches end the run
            # small (see tasks.clean.task_sizes), and one queued on a busy worker would leave the
            # other idle at the end.
            "distributed.scheduler.worker-saturation": 1.0,
            # Dask samples a busy worker's stack every 10 ms for its dashboard and keeps a profile
            # of each of the last 1,000 seconds: 2-5% of the CPU spaCy could have, and a worker
            # that grows with the length of the run (about 10 MB a minute), for 17 minutes.
            "distributed.worker.profile.enabled": False,
            # Dask's servers also wake to time their event loop (every 20 ms), to read each
            # worker's memory (100 ms) and the machine's load and disks (500 ms), and to look for
            # work to steal, which queued tasks never need: 4% of a core in the command's process
            # alone, taken from spaCy all run long. Once a second still stops a worker that
            # outgrows its memory in time.
            "distributed.admin.tick.interval": "1s",
            "distributed.worker.memory.monitor-interval": "1s",
            "distributed.admin.system-monitor.interval": "2s",
            "distributed.admin.system-monitor.disk": False,
            "distributed.scheduler.work-stealing": False,
        }
    )
    # A task's failure reaches the flow through Prefect; the cluster's own log lines are noise to
    # users, down to the heartbeat a worker may miss while the cluster stops. The scheduler's web
    # server always starts: on a free port, so that runs side by side do not compete for 8787.
    return {
        "n_workers": workers or os.cpu_count() or 1,
        "threads_per_worker": 1,
        "processes": True,
        "dashboard_address": ":0",
        "silence_logs": logging.CRITICAL,
        "preload": STEPS,
    }
