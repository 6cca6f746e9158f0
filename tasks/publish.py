"""Publish: the lake's I/O. Hive-partitioned Parquet, one file per partition, replaced atomically.

A partition file is written beside its target under a temporary name and renamed over it, so
a reader sees the old file or the new one, never a half-written one. Each table directory has
a `_manifest.json`; a `_lock` file keeps two runs from writing one lake at once.
"""

import json
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas import PARTITION, SCHEMA_VERSION, TABLES, Table

PART_FILE = "part-0.parquet"
ROW_GROUP_ROWS = 128 * 1024


class LakeBusy(RuntimeError):
    """Another run holds the lake's lock."""


def partition_dir(lake: Path, table: str, day: date) -> Path:
    """The directory of one day's partition of a table."""
    return lake / table / f"date={day.isoformat()}"


def write_atomic(path: Path, table: pa.Table) -> None:
    """Write a Parquet file so that it appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_table(lake: Path, table: Table, columns: list[str] | None = None) -> pa.Table:
    """Read a lake table with its partition column (an empty table when it has no data yet)."""
    schema = table.dataset_schema
    root = lake / table.name
    files = sorted(root.glob(f"date=*/{PART_FILE}")) if root.exists() else []
    if not files:
        return schema.empty_table().select(columns or schema.names)
    dataset = ds.dataset(
        [str(f) for f in files], schema=schema, format="parquet", partitioning="hive", partition_base_dir=str(root)
    )
    return dataset.to_table(columns=columns)


def read_partition(lake: Path, table: Table, day: date) -> pa.Table:
    """One day's rows of a table, without the partition column."""
    path = partition_dir(lake, table.name, day) / PART_FILE
    if not path.exists():
        return table.schema.empty_table()
    return pq.read_table(path, schema=table.schema)


def replace_rows(
    lake: Path, table: Table, new_rows: pa.Table, *, replaced: Iterable[str], days: Iterable[date] = ()
) -> dict[date, int]:
    """Publish `new_rows` (with a `date` column): in every partition touched, rows whose
    `table.replace_by` key is in `replaced` (all rows, for a table without a key) give way
    to the new rows of that date. Returns the rows now in each partition written.

    `days` names partitions that hold replaced rows but get no new ones.
    """
    new_rows = new_rows.select(table.dataset_schema.names).cast(table.dataset_schema)
    replaced_keys = pa.array(sorted(set(replaced)), pa.string())
    touched = set(days) | set(new_rows.column("date").unique().to_pylist())
    written: dict[date, int] = {}
    for day in sorted(touched):
        old = read_partition(lake, table, day)
        if table.replace_by and len(old):
            old = old.filter(pc.invert(pc.is_in(old.column(table.replace_by[0]), value_set=replaced_keys)))
        else:
            old = old.slice(0, 0)
        fresh = new_rows.filter(pc.equal(new_rows.column("date"), pa.scalar(day, pa.date32()))).drop(["date"])
        merged = pa.concat_tables([old, fresh.cast(table.schema)])
        sort_keys = [(c, "ascending") for c in table.schema.names[:3] if pa.types.is_string(table.schema.field(c).type)]
        merged = merged.sort_by(sort_keys) if sort_keys and len(merged) else merged
        path = partition_dir(lake, table.name, day) / PART_FILE
        if len(merged):
            write_atomic(path, merged)
        elif path.exists():
            path.unlink()
            path.parent.rmdir()
        written[day] = len(merged)
    return written


def write_manifest(lake: Path, table: Table, *, run_id: str, versions: dict[str, str]) -> dict:
    """Rewrite a table's manifest from the files on disk: files, rows, schema and versions."""
    root = lake / table.name
    files = {
        p.relative_to(root).as_posix(): pq.read_metadata(p).num_rows for p in sorted(root.glob(f"date=*/{PART_FILE}"))
    }
    manifest = {
        "table": table.name,
        "schema_version": SCHEMA_VERSION,
        "schema": {f.name: str(f.type) for f in table.dataset_schema},
        "partitioning": "hive: date=YYYY-MM-DD",
        "rows": sum(files.values()),
        "files": files,
        "last_run_id": run_id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions,
    }
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / "._manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, root / "_manifest.json")
    return manifest


def read_manifest(lake: Path, name: str) -> dict | None:
    """A table's manifest, or None when the table has none."""
    path = lake / name / "_manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def lake_tables(lake: Path) -> list[Table]:
    """The tables that have data in the lake, in contract order."""
    return [t for t in TABLES.values() if any((lake / t.name).glob(f"date=*/{PART_FILE}"))]


@contextmanager
def lake_lock(lake: Path, run_id: str) -> Iterator[None]:
    """Hold the lake's lock for one run; refuse clearly when a live run holds it.

    A lock left by a process that no longer exists on this host is stale and taken over.
    """
    lake.mkdir(parents=True, exist_ok=True)
    path = lake / "_lock"
    holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            other = _lock_holder(path)
            if other is None and _age(path) < 60:
                raise LakeBusy(f"another run is starting on the lake {lake}; try again in a moment") from None
            if other is not None and _alive(other):
                raise LakeBusy(
                    f"the lake {lake} is in use by run {other.get('run_id')} (pid {other.get('pid')} on "
                    f"{other.get('host')}); wait for it to finish, or delete {path} if that process is gone"
                ) from None
            path.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(holder, f)
        break
    else:
        raise LakeBusy(f"could not take the lock {path}; another run is starting on the same lake")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _lock_holder(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _alive(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname():
        return True  # cannot tell for another host: assume it is running
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, ValueError):
        return True
    return True


def read_days(lake: Path, table: Table, days: Iterable[date], columns: list[str]) -> pa.Table:
    """The rows of the given days of a table, with their `date` column."""
    parts = []
    for day in days:
        part = read_partition(lake, table, day).select(columns)
        parts.append(part.append_column(PARTITION, pa.array([day] * len(part), pa.date32())))
    schema = pa.schema([table.schema.field(c) for c in columns]).append(PARTITION)
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _read_staged(paths: list[str], table: Table) -> pa.Table:
    schema = table.dataset_schema
    return pa.concat_tables([pq.read_table(p).cast(schema) for p in paths]) if paths else schema.empty_table()


@dataclass(frozen=True)
class PublishOutput:
    """Rows staged into each table by the run, and the days whose partitions changed."""

    rows: dict[str, int]
    days: list[date]
    rejects_by_reason: dict[str, int]


@task(name="publish", cache_policy=NO_CACHE)
def publish_run(
    *,
    lake: str,
    run_id: str,
    documents: list[str],
    annotations: list[dict[str, str]],
    rejects: list[str],
    versions: dict[str, str],
) -> PublishOutput:
    """Publish a run's staged tables into the lake, replacing what the run re-processed.

    Every row of a re-processed document goes, wherever its old version lived; documents are
    written last, so a run that stops half-way is redone whole by the next one.
    """
    root = Path(lake)
    docs = _read_staged(documents, TABLES["documents"])
    doc_ids = set(docs.column("doc_id").to_pylist())
    lake_docs = read_table(root, TABLES["documents"], ["doc_id", "date"])
    earlier = lake_docs.filter(pc.is_in(lake_docs.column("doc_id"), value_set=pa.array(sorted(doc_ids), pa.string())))
    old_days = set(earlier.column("date").to_pylist())
    rows: dict[str, int] = {}
    for name in ("sentences", "mentions", "entities", "tokens"):
        staged = [a[name] for a in annotations if name in a]
        if name == "tokens" and not staged and not (root / name).exists():
            continue
        new = _read_staged(staged, TABLES[name])
        replace_rows(root, TABLES[name], new, replaced=doc_ids, days=old_days)
        rows[name] = len(new)
    replace_rows(root, TABLES["documents"], docs, replaced=doc_ids, days=old_days)
    rows["documents"] = len(docs)
    rejected = _read_staged(rejects, TABLES["rejects"])
    replace_rows(root, TABLES["rejects"], rejected, replaced=rejected.column("origin").to_pylist())
    rows["rejects"] = len(rejected)
    for name in rows:
        write_manifest(root, TABLES[name], run_id=run_id, versions=versions)
    reasons = Counter(rejected.column("reason").to_pylist())
    return PublishOutput(rows, sorted(old_days | set(docs.column("date").to_pylist())), dict(sorted(reasons.items())))


@task(name="record-run", cache_policy=NO_CACHE)
def record_run(*, lake: str, run: dict, versions: dict[str, str]) -> None:
    """Append the run's row to the `runs` table."""
    table = TABLES["runs"]
    row = pa.Table.from_pylist([run | {"date": run["started_at"].date()}], schema=table.dataset_schema)
    replace_rows(Path(lake), table, row, replaced=[run["run_id"]])
    write_manifest(Path(lake), table, run_id=run["run_id"], versions=versions)
