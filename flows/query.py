"""Read-only DuckDB SQL over the lake: one view per table over its Hive-partitioned Parquet."""

from pathlib import Path

import duckdb
import polars as pl

from tasks.publish import PART_FILE, lake_tables


class QueryError(ValueError):
    """A query that cannot run on the lake, with the reason."""


def connect(lake: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with a view per lake table."""
    tables = lake_tables(lake)
    if not tables:
        raise QueryError(f"no tables in {lake}: run `newslake run` first")
    con = duckdb.connect()
    for table in tables:
        pattern = (lake / table.name / f"date=*/{PART_FILE}").as_posix().replace("'", "''")
        con.execute(
            f"CREATE VIEW {table.name} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, union_by_name = true)"
        )
    return con


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> pl.DataFrame:
    """Run one SELECT statement and return its result; anything that could write is refused."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {exc}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError("only one SELECT (or WITH ... SELECT) statement is allowed: the lake is read-only here")
    try:
        return con.sql(query).pl()
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None
