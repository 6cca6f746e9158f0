"""Scheduled runs: serve the incremental flow on a cron or interval schedule through Prefect."""

from prefect.deployments.runner import EntrypointType

from flows.pipeline import newslake_run
from flows.prefect_api import prefect_api, wait_until_ready
from tasks.publish import is_local, lake_path


def serve(*, name: str, cron: str | None, interval: int | None, parameters: dict) -> None:
    """Serve `newslake_run` with `parameters` on the schedule until interrupted."""
    # The server of one-off runs has no scheduler: this one has, and keeps each local lake's
    # deployments and run history in the lake (a remote lake's in Prefect's own database).
    lake = lake_path(parameters["lake"])
    with prefect_api(lake / "_prefect" if is_local(lake) else None, scheduler=True):
        wait_until_ready()
        newslake_run.serve(
            name=name,
            cron=cron,
            interval=interval,
            parameters=parameters,
            limit=1,
            entrypoint_type=EntrypointType.MODULE_PATH,
            print_starting_message=False,
        )
