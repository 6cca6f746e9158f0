"""newslake from Python: `newslake.run(...)` and `newslake.backfill(...)` run the flows as the
command line does, and return what the run did with the lake at hand.

They work from a script (no `if __name__ == "__main__":` guard needed), from `python -` and
from Jupyter. What a run needs (its Prefect API, its Dask cluster, Prefect's telemetry off,
quiet logging) is set when it starts and undone when it ends.
"""

import inspect
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from newslake.flows.defaults import TELEMETRY_OFF
from newslake.flows.parameters import BackfillParameters, LakeParameters, RunParameters

# What a run sets in the environment while it runs (unless the user set it): Prefect's usage data
# off (`defaults.TELEMETRY_OFF`), and only the flow's own progress lines from Prefect and Dask,
# in this process and its workers.
QUIET = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
    "DASK_LOGGING__DISTRIBUTED": "warning",
}
QUIET_LOGGERS = {
    "prefect": logging.WARNING,
    "prefect.flow_runs": logging.INFO,
    "distributed": logging.WARNING,
    # Prefect's client, draining its events as the command's own server stops: "Still processing
    # items: 3 items remaining..." says nothing about the run.
    "EventsWorker": logging.ERROR,
}


@contextmanager
def run_environment(*, verbose: bool = False) -> Iterator[None]:
    """The environment variables and log levels a run needs, for as long as it runs."""
    wanted = TELEMETRY_OFF | ({} if verbose else QUIET)
    saved = {name: os.environ.get(name) for name in wanted}
    for name, value in wanted.items():
        os.environ.setdefault(name, value)
    levels = {} if verbose else {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in levels:
        logging.getLogger(name).setLevel(QUIET_LOGGERS[name])
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_flow(parameters: RunParameters, *, verbose: bool = False, console=None):
    """Run the `newslake_run` flow with checked parameters; returns its RunResult. With a rich
    `console` on a terminal, its progress shows there as live bars."""
    from newslake.tasks.ingest import anything_new
    from newslake.tasks.lake import Lake

    lake = Lake(parameters.lake)

    def has_batches() -> bool:
        p = parameters
        try:
            return anything_new(
                p.inputs, lake=lake, source=p.source, max_bytes=p.max_file_bytes, settings=p.clean_settings
            )
        except OSError:  # read without the lake's lock: a file a commit just merged away; the run decides
            return True

    # Every input is new to a lake that does not exist yet: the workers' imports can start at once.
    new_lake = lake.is_local and not lake.exists()
    with run_environment(verbose=verbose):
        return _call("newslake_run", parameters, eager=new_lake, has_batches=has_batches, console=console)


def backfill_flow(parameters: BackfillParameters, *, verbose: bool = False, console=None):
    """Run the `newslake_backfill` flow with checked parameters; returns its RunResult."""
    with run_environment(verbose=verbose):
        return _call("newslake_backfill", parameters, eager=True, has_batches=lambda: True, console=console)


def _call(name: str, parameters: LakeParameters, *, eager: bool, has_batches: Callable[[], bool], console=None):
    """Call a flow on its Prefect API and task runner. The process the local workers are forked
    from starts before the server boots when the run surely has batches (`eager`), else once
    `has_batches()` says so."""
    from newslake.flows.dask_cluster import start_worker_template, task_runner
    from newslake.flows.prefect_server import prefect_api, wait_until_ready
    from newslake.flows.progress import live_progress

    local = not parameters.dask_address
    if local and eager:
        start_worker_template()
    with prefect_api():  # the local server boots while the flows are imported
        from newslake.flows import pipeline

        if local:
            # Into an existing lake, once a read of the inputs has found something new: a run with
            # nothing to do would only wait for the server longer (the imports take 3.5 s of CPU).
            start_worker_template(has_batches)
        # A worker forked from the template starts with the template's environment: give it this
        # process's as it is now (the Prefect API, credentials for the lake's object store, say).
        runner = task_runner(dask_address=parameters.dask_address, workers=parameters.workers, environ=dict(os.environ))
        wait_until_ready()
        with live_progress(console):  # after Prefect's logging is set up: the bars replace its lines
            return getattr(pipeline, name).with_options(task_runner=runner)(parameters)


def run(**parameters: Any):
    """Process inputs into the lake, as `newslake run` does, and return what the run did (a
    RunResult whose `.lake` reads every table). Parameters are those of RunParameters; the ones
    not given come from NEWSLAKE_* variables, a .env file or their defaults."""
    with run_environment():  # checking the parameters imports Prefect, whose telemetry must stay off
        return run_flow(RunParameters(**parameters))


def backfill(**parameters: Any):
    """Recompute derived tables for a range of days, as `newslake backfill` does; parameters are
    those of BackfillParameters (`start` and `end` at least)."""
    with run_environment():
        return backfill_flow(BackfillParameters(**parameters))


def _signature(model: type[LakeParameters]) -> inspect.Signature:
    """The model's fields as keyword-only parameters, for help() and a notebook's completion."""
    fields = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if field.is_required() else field.get_default(call_default_factory=True),
            annotation=field.annotation,
        )
        for name, field in model.model_fields.items()
    ]
    return inspect.Signature(fields, return_annotation="RunResult")


run.__signature__ = _signature(RunParameters)
backfill.__signature__ = _signature(BackfillParameters)
