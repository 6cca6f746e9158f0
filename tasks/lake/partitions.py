"""Reading a table's partitions, and staging new versions of them for a commit.

A table is Hive-partitioned by day, one file per partition. A commit's new version of a
partition is staged beside the live one (`layout.pending_file`) and becomes visible only when
the commit is applied (see `commits`); reads can see the lake as a commit will leave it.
"""

from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from newslake.schemas import PARTITION, Table
from newslake.tasks.lake.layout import Lake, deletion_file, pending_file
from newslake.tasks.lake.storage import AnyPath, read_parquet, schema_of, write_durable_parquet, write_text


def read_file(path: AnyPath, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` from a partition file; columns added since it was written are null."""
    held = set(schema_of(path).names)
    found = read_parquet(path, columns=[name for name in schema.names if name in held])
    for field in schema:
        if field.name not in found.column_names:
            found = found.append_column(field, pa.nulls(len(found), field.type))
    return found.select(schema.names).cast(schema)


def read_partition(
    lake: Lake, table: Table, day: date, *, commit_id: str | None = None, columns: list[str] | None = None
) -> pa.Table:
    """One day's rows of a table (all columns or the given ones), without the partition column;
    with `commit_id`, as that commit's staged changes will leave it."""
    path = lake.partition_file(table.name, day)
    schema = pa.schema([table.schema.field(c) for c in columns]) if columns else table.schema
    if commit_id is not None:
        if deletion_file(path, commit_id).exists():
            return schema.empty_table()
        if pending_file(path, commit_id).exists():
            return read_file(pending_file(path, commit_id), schema)
    return read_file(path, schema) if path.exists() else schema.empty_table()


def read_days(
    lake: Lake, table: Table, days: Iterable[date], columns: list[str], *, commit_id: str | None = None
) -> pa.Table:
    """The rows of the given days of a table, with their `date` column."""
    parts = []
    for day in days:
        part = read_partition(lake, table, day, commit_id=commit_id, columns=columns)
        parts.append(part.append_column(PARTITION, pa.array([day] * len(part), pa.date32())))
    schema = pa.schema([table.schema.field(c) for c in columns]).append(PARTITION)
    return pa.concat_tables(parts) if parts else schema.empty_table()


def read_table(lake: Lake, table: Table, columns: list[str] | None = None) -> pa.Table:
    """Read a lake table with its partition column (an empty table when it has no data yet)."""
    return read_days(lake, table, lake.partition_days(table.name), columns or table.schema.names)


def locate(lake: Lake, table: Table, keys: Iterable[str]) -> set[date]:
    """The days whose partitions hold rows with these `replace_by` values."""
    found = read_table(lake, table, [table.replace_by])
    mask = pc.is_in(found.column(table.replace_by), value_set=pa.array(sorted(set(keys)), pa.string()))
    return set(found.filter(mask).column("date").to_pylist())


def stage_rows(
    lake: Lake,
    table: Table,
    new_rows: pa.Table,
    *,
    commit_id: str,
    replaced: Iterable[str] = (),
    days: Iterable[date] = (),
) -> dict[date, int]:
    """Stage `new_rows` (with a `date` column) for a commit: in every partition touched, rows
    whose `replace_by` value is in `replaced` (all rows, for a table without one) give way to
    the new rows of that date. Returns the rows each staged partition will hold.

    `days` names partitions that hold replaced rows but get no new ones. A partition whose
    content would not change is left alone. Nothing is visible before the commit.
    """
    new_rows = new_rows.select(table.dataset_schema.names).cast(table.dataset_schema)
    replaced_keys = pa.array(sorted(set(replaced)), pa.string())
    touched = set(days) | set(new_rows.column("date").unique().to_pylist())
    staged: dict[date, int] = {}
    for day in sorted(touched):
        current = read_partition(lake, table, day, commit_id=commit_id)
        if table.replace_by is None:
            kept = current.slice(0, 0)
        else:
            kept = current.filter(pc.invert(pc.is_in(current.column(table.replace_by), value_set=replaced_keys)))
        fresh = new_rows.filter(pc.equal(new_rows.column("date"), pa.scalar(day, pa.date32()))).drop(["date"])
        merged = pa.concat_tables([kept, fresh])
        merged = merged.sort_by([(c, "ascending") for c in table.key]) if len(merged) else merged
        if merged.equals(current):
            continue
        _stage_partition(lake.partition_file(table.name, day), merged, commit_id)
        staged[day] = len(merged)
    return staged


def _stage_partition(path: AnyPath, rows: pa.Table, commit_id: str) -> None:
    """Stage a partition's new rows, or its removal when it has none left."""
    pending_file(path, commit_id).unlink(missing_ok=True)
    deletion_file(path, commit_id).unlink(missing_ok=True)
    if len(rows):
        write_durable_parquet(pending_file(path, commit_id), rows)
    elif path.exists():
        write_text(deletion_file(path, commit_id), "")
