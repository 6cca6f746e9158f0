"""Scheduled runs: serve the incremental flow on a cron or interval schedule through Prefect."""

from newslake.flows.api import run_environment
from newslake.flows.parameters import RunParameters
from newslake.tasks.lake import Lake


def serve(parameters: RunParameters, *, cron: str | None, interval: int | None, verbose: bool = False) -> None:
    """Serve `newslake_run` with `parameters` on the schedule until interrupted, as a deployment
    named after the lake."""
    from prefect.deployments.runner import EntrypointType

    from newslake.flows.prefect_server import prefect_api, wait_until_ready

    lake = Lake(parameters.lake)
    # The server of one-off runs has no scheduler: this one has, and keeps each local lake's
    # deployments and run history in the lake (a remote lake's in Prefect's own database).
    with run_environment(verbose=verbose), prefect_api(lake.prefect_home, scheduler=True):
        from newslake.flows.pipeline import newslake_run

        wait_until_ready()
        # Each scheduled run is started by Prefect from the flow's entry point, on the task
        # runner the NEWSLAKE_* settings name (see SettingsTaskRunner).
        newslake_run.serve(
            name=f"newslake-{lake.name}",
            cron=cron,
            interval=interval,
            parameters={"parameters": parameters.model_dump(mode="json")},
            limit=1,
            entrypoint_type=EntrypointType.MODULE_PATH,
            print_starting_message=False,
        )
