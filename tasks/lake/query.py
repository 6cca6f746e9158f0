"""Reading the lake: one DuckDB view per table over its Hive-partitioned Parquet, joined views,
read-only queries, catalog files for other SQL clients, and Polars scans."""

import re
from collections.abc import Iterable
from pathlib import Path

import duckdb
import polars as pl

from newslake.schemas import TABLES, Table
from newslake.tasks.lake.layout import PART_GLOB, Lake
from newslake.tasks.lake.manifests import lake_tables


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
        ("entities", "documents", "entity_links"),
        """
        SELECT e.*, coalesce(l.canonical_key, e.entity_key) AS canonical_key,
               d.title, d.source, d.published_at, d.story_id
        FROM entities e JOIN documents d USING (doc_id)
        LEFT JOIN entity_links l ON l.date = e.date AND l.entity_key = e.entity_key
        """,
    ),
    "location_context": (
        ("locations", "documents", "tone"),
        """
        SELECT l.*, d.title, d.source, d.published_at, d.story_id, t.tone AS document_tone
        FROM locations l JOIN documents d USING (doc_id) LEFT JOIN tone t USING (doc_id)
        """,
    ),
    "document_themes": (
        ("themes", "documents", "tone"),
        """
        SELECT th.doc_id, th.theme, count(*) AS evidence, any_value(d.title) AS title,
               any_value(d.source) AS source, any_value(d.published_at) AS published_at,
               any_value(d.story_id) AS story_id, any_value(t.tone) AS document_tone, th.date
        FROM themes th JOIN documents d USING (doc_id) LEFT JOIN tone t USING (doc_id)
        GROUP BY th.doc_id, th.theme, th.date
        """,
    ),
}


def partition_glob(lake: Lake, table: str) -> str:
    """The glob of a table's live partition files, as DuckDB and Polars read it (the lake's own
    `[`, `*` and `?` are matched as themselves)."""
    return f"{_glob_escaped(lake.location)}/{table}/date=*/{PART_GLOB}"


def _glob_escaped(path: str) -> str:
    return "".join(f"[{c}]" if c in "[*?" else c for c in path)


def create_views(con: duckdb.DuckDBPyConnection, lake: Lake, *, only: Iterable[str] | None = None) -> list[str]:
    """A view per lake table over its Parquet files (absolute paths or URLs), and the joined
    views whose tables exist (`only` those named, and the tables they join); returns the view
    names. A remote lake is read through its fsspec file system, so DuckDB needs no extension
    for it. Creating a view reads the footer of each of its files: a query that names two
    tables does not pay for twenty."""
    tables = lake_tables(lake)
    if not tables:
        raise QueryError(f"no tables in {lake}: run `newslake run` first")
    if not lake.is_local:
        con.register_filesystem(lake.root.fs)
    held = {t.name for t in tables}
    joined = [name for name, (needs, _) in JOINED_VIEWS.items() if set(needs) <= held]
    if only is not None:
        only = set(only)
        joined = [name for name in joined if name in only]
        wanted = only.union(*(JOINED_VIEWS[name][0] for name in joined))
        tables = [t for t in tables if t.name in wanted]
    for table in tables:
        con.execute(f"CREATE OR REPLACE VIEW {table.name} AS {_select(con, lake, table)}")
    for name in joined:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {JOINED_VIEWS[name][1]}")
    return [t.name for t in tables] + joined


def named_in(query: str) -> set[str]:
    """The tables and joined views whose names appear in a query as words."""
    words = {w.casefold() for w in re.findall(r"\w+", query)}
    return {name for name in [*TABLES, *JOINED_VIEWS] if name in words}


def _select(con: duckdb.DuckDBPyConnection, lake: Lake, table: Table) -> str:
    """A table's rows over its partition files, or, for a table with no rows yet, no rows of its
    declared columns (a glob that matches nothing is an error in DuckDB)."""
    if lake.partition_files(table.name):
        pattern = partition_glob(lake, table.name).replace("'", "''")
        return f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true, union_by_name = true)"
    con.register("_declared", table.dataset_schema.empty_table())
    try:
        columns = con.sql("DESCRIBE _declared").fetchall()
    finally:
        con.unregister("_declared")
    return "SELECT " + ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind, *_ in columns) + " WHERE false"


def connect(lake: Lake, *, confined: bool = True, for_query: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views (`for_query`: those it names).
    Confined, it reads nothing but a local lake's folder (no other file, no URL), installs and
    loads no extension, and its settings cannot be changed by a query."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    create_views(con, lake, only=named_in(for_query) if for_query is not None else None)
    if confined:
        if lake.is_local:  # a remote lake is read through its fsspec file system, which this would close
            folders = sorted({f"{lake.location}/", f"{_glob_escaped(lake.location)}/"})  # the glob, the files
            con.execute("SET allowed_directories = $dirs", {"dirs": folders})
            con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    return con


def write_catalog(lake: Lake, out: Path) -> list[str]:
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


def scan(lake: Lake, table: str) -> pl.LazyFrame:
    """A table as a Polars LazyFrame over its partitions, `date` included; partitions written by
    an older schema version read their missing columns as nulls."""
    if table not in TABLES:
        raise QueryError(f"no table {table!r}: choose from {', '.join(TABLES)}")
    if not lake.partition_files(table):
        raise QueryError(f"the lake {lake} has no {table} yet")
    schema = pl.from_arrow(TABLES[table].schema.empty_table()).schema
    return pl.scan_parquet(
        partition_glob(lake, table),
        hive_partitioning=True,
        hive_schema={"date": pl.Date},
        schema=schema,
        missing_columns="insert",
    )
