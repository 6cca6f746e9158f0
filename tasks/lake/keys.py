"""The documents' key index: each document's doc_id, raw_hash, content_hash, dup_of and day, in
one small file per month (`LAKE/_keys/month=YYYY-MM.parquet`).

Whether a record is new, changed or a duplicate is answered from it, without opening the
documents' partitions (which hold the text, one file a day). Every commit that changes
`documents` rewrites the months of the days it changed, before its marker goes, so a stopped
commit's index is finished by `recover` with the rest. Only commits write it, under the lake's
lock; until a lake written by an older version has had one, readers read its documents.
"""

from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from newslake.schemas import PARTITION, TABLES
from newslake.tasks.lake.layout import Lake
from newslake.tasks.lake.partitions import read_days, read_table
from newslake.tasks.lake.storage import read_parquet, write_durable_parquet, write_text

KEY_COLUMNS = ["doc_id", "raw_hash", "content_hash", "dup_of"]
KEYS = pa.schema([TABLES["documents"].schema.field(c) for c in KEY_COLUMNS]).append(PARTITION)


def _month(day: date) -> str:
    return f"{day:%Y-%m}"


def read_keys(lake: Lake, columns: list[str], *, doc_ids: Iterable[str] | None = None) -> pa.Table:
    """The given key columns and `date` of every document (of `doc_ids` only, when given), in
    the order of the documents' partitions: by day, then doc_id."""
    if lake.keys_complete.exists():
        found = [read_parquet(path, columns=[*columns, "date"]) for path in lake.keys_files()]
        keys = pa.concat_tables(found) if found else KEYS.empty_table().select([*columns, "date"])
    else:
        keys = read_table(lake, TABLES["documents"], columns)
    if doc_ids is not None:
        keys = keys.filter(pc.is_in(keys.column("doc_id"), value_set=pa.array(sorted(set(doc_ids)), pa.string())))
    return keys


def update_keys(lake: Lake, days: Iterable[date]) -> None:
    """Rewrite the index months holding `days` from the documents those days hold now (the
    whole index, when it is not complete)."""
    if not lake.keys_complete.exists():
        rebuild_keys(lake)
        return
    days = set(days)
    for month in sorted({_month(d) for d in days}):
        path = lake.keys_file(month)
        kept = read_parquet(path) if path.exists() else KEYS.empty_table()
        kept = kept.filter(pc.invert(pc.is_in(kept.column("date"), value_set=pa.array(sorted(days), pa.date32()))))
        fresh = read_days(lake, TABLES["documents"], sorted(d for d in days if _month(d) == month), KEY_COLUMNS)
        _write_month(lake, month, pa.concat_tables([kept.cast(KEYS), fresh.cast(KEYS)]))


def rebuild_keys(lake: Lake) -> None:
    """Write the whole index from the documents' partitions."""
    months: dict[str, list[date]] = {}
    for day in lake.partition_days("documents"):
        months.setdefault(_month(day), []).append(day)
    for path in lake.keys_files():
        if path.stem.removeprefix("month=") not in months:
            path.unlink()
    for month, days in months.items():
        _write_month(lake, month, read_days(lake, TABLES["documents"], days, KEY_COLUMNS).cast(KEYS))
    write_text(lake.keys_complete, "")


def _write_month(lake: Lake, month: str, keys: pa.Table) -> None:
    path = lake.keys_file(month)
    if len(keys):
        write_durable_parquet(path, keys.sort_by([("date", "ascending"), ("doc_id", "ascending")]))
    else:
        path.unlink(missing_ok=True)
