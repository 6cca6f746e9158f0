"""Reading a table's partitions, and staging a commit's changes to them.

A table is Hive-partitioned by day. A commit adds its new rows of a day as one new file, and
rewrites only the files that hold rows it replaces; a rollup's partition (a table without
`replace_by`) is one file, rewritten whole. A commit's files are staged beside the live ones
(`layout.pending_file`, `layout.deletion_file`) and become visible only when the commit is
applied (see `commits`); reads can see the lake as a commit will leave it.
"""

from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from newslake.schemas import PARTITION, Table
from newslake.tasks.lake.layout import WHOLE_FILE, Lake, deletion_file, live_file, new_file, pending_file
from newslake.tasks.lake.storage import AnyPath, read_parquet, schema_of, write_durable_parquet, write_text


def read_file(path: AnyPath, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` from a partition file; columns added since it was written are null."""
    held = set(schema_of(path).names)
    found = read_parquet(path, columns=[name for name in schema.names if name in held])
    for field in schema:
        if field.name not in found.column_names:
            found = found.append_column(field, pa.nulls(len(found), field.type))
    return found.select(schema.names).cast(schema)


def day_files(lake: Lake, table: Table, day: date, commit_id: str | None = None) -> dict[AnyPath, AnyPath]:
    """The files of one day's partition, in name order, each with where its content is read
    from: itself, or (with `commit_id`) the version that commit staged, as it will leave them."""
    live = lake.partition_files(table.name, day)
    if commit_id is None:
        return {p: p for p in live}
    folder = lake.partition_dir(table.name, day)
    staged = {live_file(p): p for p in folder.glob(f".part-*.parquet.{commit_id}.pending")} if folder.exists() else {}
    files = {p: p for p in live if not deletion_file(p, commit_id).exists()} | staged
    return dict(sorted(files.items(), key=lambda item: str(item[0])))


def read_partition(
    lake: Lake, table: Table, day: date, *, commit_id: str | None = None, columns: list[str] | None = None
) -> pa.Table:
    """One day's rows of a table (all columns or the given ones) in key order, without the
    partition column; with `commit_id`, as that commit's staged changes will leave it."""
    schema = pa.schema([table.schema.field(c) for c in columns]) if columns else table.schema
    parts = [read_file(p, schema) for p in day_files(lake, table, day, commit_id).values()]
    if len(parts) <= 1:  # one file is in key order already
        return parts[0] if parts else schema.empty_table()
    return _sorted(table, pa.concat_tables(parts))


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
) -> list[date]:
    """Stage `new_rows` (with a `date` column) for a commit: in every partition touched, rows
    whose `replace_by` value is in `replaced` (all rows, for a table without one) give way to
    the new rows of that date. Returns the days whose partitions change.

    `days` names partitions that hold replaced rows but get no new ones. A day's new rows go to
    a new file, or into the first file that held replaced rows; files without replaced rows are
    not read or written, and files whose content would not change are left alone. Nothing is
    visible before the commit.
    """
    new_rows = new_rows.select(table.dataset_schema.names).cast(table.dataset_schema)
    lake.staging(commit_id).mark_staged()
    replaced_keys = pa.array(sorted(set(replaced)), pa.string())
    touched = set(days) | set(new_rows.column("date").unique().to_pylist())
    changed = []
    for day in sorted(touched):
        fresh = new_rows.filter(pc.equal(new_rows.column("date"), pa.scalar(day, pa.date32()))).drop(["date"])
        if table.replace_by is None:
            rewritten = _stage_whole(lake, table, day, fresh, commit_id)
        else:
            rewritten = _stage_changes(lake, table, day, fresh, replaced_keys, commit_id)
        if rewritten:
            changed.append(day)
    return changed


def _sorted(table: Table, rows: pa.Table) -> pa.Table:
    """Rows in the table's key order (by the key columns they have)."""
    keys = [(c, "ascending") for c in table.key if c in rows.column_names]
    return rows.sort_by(keys) if len(rows) and keys else rows


def stage_merge(table: Table, files: list[AnyPath], into: AnyPath, commit_id: str) -> None:
    """Stage one file holding the rows of a partition's `files`, in key order, and their removal."""
    _stage_file(into, _sorted(table, pa.concat_tables([read_file(path, table.schema) for path in files])), commit_id)
    for path in files:
        _stage_file(path, table.schema.empty_table(), commit_id)


def _stage_whole(lake: Lake, table: Table, day: date, fresh: pa.Table, commit_id: str) -> bool:
    """Stage a rollup's day as one file holding `fresh`; whether anything changed."""
    current = read_partition(lake, table, day, commit_id=commit_id)
    merged = _sorted(table, fresh)
    if merged.equals(current):
        return False
    _stage_file(lake.partition_dir(table.name, day) / WHOLE_FILE, merged, commit_id)
    return True


def _stage_changes(
    lake: Lake, table: Table, day: date, fresh: pa.Table, replaced_keys: pa.Array, commit_id: str
) -> bool:
    """Stage a day's new rows and the removal of its replaced rows, touching only the files that
    hold replaced rows (and the commit's own file, when an earlier call staged one); whether
    anything changed."""
    own = new_file(lake.partition_dir(table.name, day), commit_id)
    hits: dict[AnyPath, pa.Table] = {}
    for live, path in day_files(lake, table, day, commit_id).items():
        if live == own:
            hits[live] = read_file(path, table.schema)
        elif len(replaced_keys):
            held = read_parquet(path, columns=[table.replace_by]).column(table.replace_by)
            if pc.any(pc.is_in(held, value_set=replaced_keys)).as_py():
                hits[live] = read_file(path, table.schema)
    if not hits and not len(fresh):
        return False
    kept = {
        live: rows.filter(pc.invert(pc.is_in(rows.column(table.replace_by), value_set=replaced_keys)))
        for live, rows in hits.items()
    }
    target = next(iter(kept), own)
    kept[target] = pa.concat_tables([kept.get(target, table.schema.empty_table()), fresh])
    kept = {live: _sorted(table, rows) for live, rows in kept.items()}
    before = _sorted(table, pa.concat_tables(hits.values())) if hits else table.schema.empty_table()
    if _sorted(table, pa.concat_tables(kept.values())).equals(before):
        return False
    for live, rows in kept.items():
        if live not in hits or not rows.equals(hits[live]):
            _stage_file(live, rows, commit_id)
    return True


def _stage_file(path: AnyPath, rows: pa.Table, commit_id: str) -> None:
    """Stage a file's new rows, or its removal when it has none left."""
    pending_file(path, commit_id).unlink(missing_ok=True)
    deletion_file(path, commit_id).unlink(missing_ok=True)
    if len(rows):
        write_durable_parquet(pending_file(path, commit_id), rows)
    elif path.exists():
        write_text(deletion_file(path, commit_id), "")
