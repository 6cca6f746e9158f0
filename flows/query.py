"""DuckDB over the lake: one view per table over its Hive-partitioned Parquet, joined views,
read-only queries and catalog files for other SQL clients."""

from pathlib import Path

import duckdb
import polars as pl
from upath import UPath

from tasks.publish import PART_FILE, absolute, is_local, lake_tables


class QueryError(ValueError):
    """A query that cannot run on the lake, with the reason."""


# Joined views for the questions analysts ask first; each needs the tables it names.
JOINED_VIEWS = {
    "mention_context": (
        ("mentions", "sentences", "documents"),
        """
        SELECT m.*, d.title, d.source, d.published_at,
               substring(d.text, s.start_char + 1, s.end_char - s.start_char) AS sentence
        FROM mentions m
        JOIN sentences s USING (doc_id, sent_id)
        JOIN documents d USING (doc_id)
        """,
    ),
    "quote_context": (
        ("quotes", "documents"),
        """
        SELECT q.*, d.title, d.source, d.url, d.published_at, d.story_id
        FROM quotes q JOIN documents d USING (doc_id)
        """,
    ),
    "entity_documents": (
        ("entities", "documents"),
        """
        SELECT e.*, d.title, d.source, d.published_at, d.story_id
        FROM entities e JOIN documents d USING (doc_id)
        """,
    ),
}


def create_views(con: duckdb.DuckDBPyConnection, lake: Path | UPath) -> list[str]:
    """A view per lake table over its Parquet files (absolute paths or URLs), and the joined
    views whose tables exist; returns the view names. A remote lake is read through its fsspec
    file system, so DuckDB needs no extension for it."""
    tables = lake_tables(lake)
    if not tables:
        raise QueryError(f"no tables in {lake}: run `newslake run` first")
    if not is_local(lake):
        con.register_filesystem(lake.fs)
    root = str(absolute(lake))
    for table in tables:
        pattern = f"{root}/{table.name}/date=*/{PART_FILE}".replace("'", "''")
        con.execute(
            f"CREATE OR REPLACE VIEW {table.name} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, union_by_name = true)"
        )
    names = {t.name for t in tables}
    joined = [name for name, (needs, _) in JOINED_VIEWS.items() if set(needs) <= names]
    for name in joined:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {JOINED_VIEWS[name][1]}")
    return [t.name for t in tables] + joined


def connect(lake: Path | UPath) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views."""
    con = duckdb.connect()
    create_views(con, lake)
    return con


def write_catalog(lake: Path | UPath, out: Path) -> list[str]:
    """A DuckDB database file holding the lake's views (no data): any DuckDB client opens it and
    queries the tables by name. Written beside `out` and renamed over it, so a reader never sees
    half a catalog. Returns the view names."""
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        names = create_views(con, lake)
    finally:
        con.close()
    tmp.replace(out)
    return names


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
