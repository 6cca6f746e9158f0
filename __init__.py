"""newslake: raw news articles in, a lake of Parquet tables out.

    import newslake

    result = newslake.run(inputs=["data/sample"], lake="data/lake")
    result.lake.sql("SELECT name, sum(mentions) FROM entity_daily GROUP BY ALL")

The package is this checkout's folders under one name: `newslake.flows` (the Prefect flows, the
command line, how flows run), `newslake.tasks` (the steps and the lake) and `newslake.schemas`
(the dataset contract). Its front is imported on first use, so that `import newslake` is cheap.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newslake.flows.api import backfill, run
    from newslake.tasks.lake import Lake
    from newslake.tasks.publish import RunResult

__all__ = ["Lake", "RunResult", "backfill", "open_lake", "run"]


def open_lake(location: str) -> "Lake":
    """The lake at a path or object store URL, to read: `.scan(table)`, `.sql(query)`, `.duckdb()`."""
    from newslake.tasks.lake import Lake

    lake = Lake.at(location)
    lake.check_reachable()
    return lake


def __getattr__(name: str):
    if name in ("run", "backfill"):
        from newslake.flows import api

        return getattr(api, name)
    if name == "Lake":
        from newslake.tasks.lake import Lake

        return Lake
    if name == "RunResult":
        from newslake.tasks.publish import RunResult

        return RunResult
    raise AttributeError(f"module 'newslake' has no attribute {name!r}")
