"""newslake.flows: the Prefect flows, the command line and the Python API, and how flows run
(the Prefect server, the Dask cluster). They wire the steps of newslake.tasks together."""
