"""Where a run's batches run: an existing Dask cluster, or newslake's local one, started with the
run's first batch and stopped with the run.

The local cluster has one single-threaded worker process per core, each forked from a process
that made ready what every worker needs (`newslake.flows.worker_template`) once. A spawned
worker spends about 3 s of CPU importing Prefect, Arrow and the steps before its first task,
and on two cores the two workers' imports compete with the Prefect server's boot. The fork
server, started as soon as a command knows that its run has batches, imports them once while
newslake imports its flows and the server boots; each worker is then a fork of it, ready in a
fraction of a second. A run with nothing new starts none: its imports would only slow the boot.
"""

import logging
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing import forkserver

from prefect_dask import DaskTaskRunner

STEPS = ["newslake.tasks.clean", "newslake.tasks.annotate"]  # what every worker imports before its first task
# The environment workers start with; the C libraries read it when a process starts. glibc gives
# each of a worker's threads an arena of its own, and what one thread frees another cannot reuse:
# two arenas kept a worker at 0.33 GB over five batches, not 0.46. One thread per numeric library
# is Dask's own default for its workers: a worker is one process on one core.
WORKER_ENVIRON = {"MALLOC_ARENA_MAX": "2", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
# The Dask settings of the local cluster, in force while it runs.
LOCAL_DASK_CONFIG = {
    "distributed.worker.multiprocessing-method": _START_METHOD,
    # Dask's nannies make glibc give freed memory back at once (MALLOC_TRIM_THRESHOLD_=65536):
    # spaCy frees so much per batch that the page faults cost 21 s of system time on the BBC
    # corpus (annotation 82 s instead of 70). Local workers keep glibc's own, adaptive threshold.
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # For a worker spawned rather than forked (where the fork server is not available).
    **{f"distributed.nanny.pre-spawn-environ.{name}": value for name, value in WORKER_ENVIRON.items()},
    # A worker takes its next batch when it is free, not one ahead: batches end the run small
    # (see newslake.tasks.clean.task_sizes), and one queued on a busy worker would leave the
    # other idle at the end.
    "distributed.scheduler.worker-saturation": 1.0,
    # Dask samples a busy worker's stack every 10 ms for its dashboard and keeps a profile of each
    # of the last 1,000 seconds: 2-5% of the CPU spaCy could have, and a worker that grows with the
    # length of the run (about 10 MB a minute), for 17 minutes.
    "distributed.worker.profile.enabled": False,
    # Dask's servers also wake to time their event loop (every 20 ms), to read each worker's
    # memory (100 ms) and the machine's load and disks (500 ms), and to look for work to steal,
    # which queued tasks never need: 4% of a core in the command's process alone, taken from
    # spaCy all run long. Once a second still stops a worker that outgrows its memory in time.
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.scheduler.work-stealing": False,
}
_template_started = False  # by this process: `needed` is not asked again


def start_worker_template(needed: Callable[[], bool] = lambda: True) -> None:
    """Start, in the background, the process that local workers are forked from, if `needed()`
    says a run will have batches (asked only while it is not started yet; once per process, and
    nothing to do where only spawning is available)."""
    global _template_started
    if _START_METHOD != "forkserver" or not (_template_started or needed()):
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(["newslake.flows.worker_template"])
    saved = {name: os.environ.get(name) for name in WORKER_ENVIRON}
    os.environ.update(WORKER_ENVIRON)
    try:
        with _ctrl_c_ignored():
            forkserver.ensure_running()
        _template_started = True
    finally:
        _restore_environ(saved)


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Start the fork server, and so every local worker, deaf to SIGINT (a process started with
    it ignored keeps ignoring it): a Ctrl-C in a terminal reaches the whole process group, and
    workers must not die mid-batch with tracebacks while newslake stops the run in order."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _restore_environ(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def local_cluster(**options) -> Iterator[object]:
    """newslake's local Dask cluster (`distributed.LocalCluster` with `options`), its Dask settings
    in force while it runs. Each worker process loads the spaCy model once and keeps it."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(LOCAL_DASK_CONFIG), _main_module_hidden(), LocalCluster(**options) as cluster:
        yield cluster


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Keep the caller's script out of the workers: a worker process started by spawning or by the
    fork server runs the parent's `__main__` file again (a script without an `if __name__ ==
    "__main__":` guard would start the run again; `python -` has no file to run at all). The
    workers need only newslake's modules, which they import by name."""
    main = sys.modules["__main__"]
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    main.__spec__ = None  # multiprocessing reads the spec's name, then the file
    if "__file__" in saved:
        del main.__file__
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def task_runner(
    *, dask_address: str | None = None, workers: int | None = None, environ: dict[str, str] | None = None
) -> DaskTaskRunner:
    """Where the batches run: on the Dask cluster at `dask_address`, or else on a local cluster of
    `workers` single-threaded processes (default: one per core; given `environ` if set) that
    starts with the flow run's first batch, so that a run with nothing new starts none."""
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    options = local_cluster_options(workers) | ({"env": environ} if environ else {})
    return DaskTaskRunner(cluster_class=local_cluster, cluster_kwargs=options)


class SettingsTaskRunner(DaskTaskRunner):
    """The flows' own task runner, for runs Prefect starts from a deployment: the cluster that the
    NEWSLAKE_DASK_ADDRESS and NEWSLAKE_WORKERS settings name, read when each flow run starts."""

    def __init__(self) -> None:
        super().__init__(cluster_class=local_cluster, cluster_kwargs=local_cluster_options())

    def duplicate(self) -> DaskTaskRunner:
        from newslake.flows.parameters import LakeParameters

        settings = LakeParameters()
        return task_runner(dask_address=settings.dask_address, workers=settings.workers)


def local_cluster_options(workers: int | None = None) -> dict:
    """The options of newslake's local cluster: `workers` single-threaded processes (default: one
    per core) that import the steps' modules as they start."""
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


def preload_model_on_workers(model: str, *, tokens: bool) -> None:
    """Have every Dask worker of the running flow load the model now, while this process
    deduplicates and the workers would wait, rather than at its first annotation batch."""
    from prefect.context import FlowRunContext

    from newslake.tasks.annotate import preload_model

    FlowRunContext.get().task_runner.client.run(preload_model, model, tokens=tokens, wait=False)


def release_models_on_workers() -> None:
    """Have every Dask worker drop its model and give the memory back once the run's batches are
    annotated: publishing reads the whole run in this process, and the workers' idle gigabyte
    would otherwise add to its peak."""
    from prefect.context import FlowRunContext

    from newslake.tasks.annotate import release_models

    # A worker lost by now has nothing left to give back; the run's results are already staged.
    FlowRunContext.get().task_runner.client.run(release_models, on_error="ignore")
