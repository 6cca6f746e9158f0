"""Reading the lake: one DuckDB view per table over its Hive-partitioned Parquet, joined views,
read-only queries, catalog files for other SQL clients, and Polars scans.

A query needs neither PyArrow nor Polars until it asks for a DataFrame: `newslake sql` starts
with DuckDB alone."""

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from newslake.tasks.lake.layout import PART_GLOB, Lake
from newslake.tasks.lake.manifests import read_manifest

if TYPE_CHECKING:
    import polars as pl


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


def create_views(
    con: duckdb.DuckDBPyConnection, lake: Lake, *, only: Iterable[str] | None = None, lasting: bool = False
) -> list[str]:
    """A view per lake table over its Parquet files (absolute paths or URLs), and the joined
    views whose tables exist (`only` those named, and the tables they join); returns the view
    names. A remote lake is read through its fsspec file system, so DuckDB needs no extension
    for it. A query that names two tables does not pay for twenty. `lasting` views (a catalog's,
    which outlive later commits) union the files by name whatever the manifests say now."""
    tables = lake.table_names()
    if not tables:
        raise QueryError(f"no tables in {lake}: run `newslake run` first")
    if not lake.is_local:
        con.register_filesystem(lake.root.fs)
    joined = [name for name, (needs, _) in JOINED_VIEWS.items() if set(needs) <= set(tables)]
    if only is not None:
        only = {name.casefold() for name in only}
        joined = [name for name in joined if name in only]
        wanted = only.union(*(JOINED_VIEWS[name][0] for name in joined))
        tables = [name for name in tables if name in wanted]
    for name in tables:
        con.execute(f"CREATE OR REPLACE VIEW {_identifier(name)} AS {_select(con, lake, name, lasting)}")
    for name in joined:
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {JOINED_VIEWS[name][1]}")
    return tables + joined


def words_of(query: str) -> set[str]:
    """The words of a query, among which are the tables and joined views it names."""
    return {w.casefold() for w in re.findall(r"\w+", query)}


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(con: duckdb.DuckDBPyConnection, lake: Lake, name: str, lasting: bool) -> str:
    """A table's rows over its partition files, or, for a table with no rows yet, no rows of its
    declared columns (a glob that matches nothing is an error in DuckDB). The files are unioned by
    name, which reads every footer before the query starts, unless the table's manifest shows
    that all of them hold the declared columns."""
    try:
        manifest = read_manifest(lake, name)
    except ValueError:  # unreadable (`check` says so): go by the files
        manifest = None
    if manifest is None or manifest["files"] or lake.has_rows(name):
        pattern = partition_glob(lake, name).replace("'", "''")
        uniform = not lasting and manifest is not None and manifest.get("other_schema_files") == []
        union = "" if uniform else ", union_by_name = true"
        return f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true{union})"
    return _no_rows(con, name)


def _no_rows(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """No rows of a declared table's columns (of a table this version does not declare, no rows
    of its partition column)."""
    from newslake.schemas import TABLES

    if name not in TABLES:
        return 'SELECT CAST(NULL AS DATE) AS "date" WHERE false'
    con.register("_declared", TABLES[name].dataset_schema.empty_table())
    try:
        columns = con.sql("DESCRIBE _declared").fetchall()
    finally:
        con.unregister("_declared")
    return "SELECT " + ", ".join(f'CAST(NULL AS {kind}) AS "{name}"' for name, kind, *_ in columns) + " WHERE false"


def connect(lake: Lake, *, confined: bool = True, for_query: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake's views (`for_query`: those it names).
    Confined, it reads nothing but a local lake's folder (no other file, no URL), installs and
    loads no extension, and its settings cannot be changed by a query. Times are shown in UTC,
    as the lake holds them, whatever the machine's time zone."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute("SET TimeZone = 'UTC'")
    create_views(con, lake, only=words_of(for_query) if for_query is not None else None)
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
        names = create_views(con, lake, lasting=True)
    finally:
        con.close()
    tmp.replace(out)
    return names


def select(con: duckdb.DuckDBPyConnection, query: str) -> duckdb.DuckDBPyRelation:
    """One SELECT statement, bound and ready to run; anything that could write is refused."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as exc:
        raise QueryError(f"invalid SQL: {exc}") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise QueryError("only one SELECT (or WITH ... SELECT) statement is allowed: the lake is read-only here")
    try:
        return con.sql(query)
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> "pl.DataFrame":
    """Run one SELECT statement and return its result as a Polars DataFrame (see `select`)."""
    relation = select(con, query)
    try:
        return relation.pl()
    except duckdb.Error as exc:
        raise QueryError(str(exc)) from None


def scan(lake: Lake, table: str) -> "pl.LazyFrame":
    """A table as a Polars LazyFrame over its partitions, `date` included; partitions written by
    an older schema version read their missing columns as nulls."""
    import polars as pl

    from newslake.schemas import TABLES

    if table not in TABLES:
        raise QueryError(f"no table {table!r}: choose from {', '.join(TABLES)}")
    if not lake.has_rows(table):
        raise QueryError(f"the lake {lake} has no {table} yet")
    schema = pl.from_arrow(TABLES[table].schema.empty_table()).schema
    return pl.scan_parquet(
        partition_glob(lake, table),
        hive_partitioning=True,
        hive_schema={"date": pl.Date},
        schema=schema,
        missing_columns="insert",
    )
