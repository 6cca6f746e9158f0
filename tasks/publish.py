"""Publish: the lake's I/O. Hive-partitioned Parquet, one file per partition, changed in commits.

A run stages each new partition file beside the live one under a hidden name, then writes a
durable commit marker and renames the staged files into place: a reader sees every partition
whole, and a run stopped at any point leaves either the old lake or a marked commit that
`recover` finishes. Each table directory has a `_manifest.json`; a `_lock` file keeps two
runs from writing one lake at once; `check_lake` verifies it all.

A lake is a local directory or any fsspec URL (`s3://bucket/prefix`). On object storage, where
a rename is a copy, the design holds as it is: every partition is one object, written whole by
one upload (staged) and by one server-side copy (committed), so a reader sees either its old or
its new version; the commit marker makes a stopped commit finishable; the lock is an object
created only if absent (a conditional write).
"""

import hashlib
import json
import os
import shutil
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import fsspec
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE
from upath import UPath

from schemas import ANNOTATION_TABLES, PARTITION, SCHEMA_VERSION, TABLES, Table

PART_FILE = "part-0.parquet"
ROW_GROUP_ROWS = 128 * 1024
COMMITS = "_commits"


class LakeBusy(RuntimeError):
    """Another run holds the lake's lock."""


class LakeUnreachable(OSError):
    """The lake's object store cannot be reached, or its bucket does not exist."""


def lake_path(location: str | os.PathLike) -> Path | UPath:
    """A lake's location as a path: a local directory, or a remote one for an fsspec URL such as
    s3://bucket/prefix (endpoint and credentials from the usual AWS_* environment variables)."""
    path = UPath(location)
    return Path(path.path) if path.protocol in ("", "file", "local") else path


def open_lake(location: str | os.PathLike) -> Path | UPath:
    """The lake at `location`, once its bucket is known to be reachable (a local folder is made
    by the first run)."""
    path = lake_path(location)
    if not is_local(path):
        _check_bucket(path)
    return path


def _check_bucket(lake: UPath) -> None:
    bucket = lake.path.split("/", 1)[0]
    hint = "check AWS_ENDPOINT_URL and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
    try:
        found = lake.fs.exists(bucket)
    except Exception as exc:  # each store's client raises its own errors
        raise LakeUnreachable(f"cannot reach the lake {lake}: {exc}; {hint}") from exc
    if not found:
        raise LakeUnreachable(f"the bucket {bucket!r} of the lake {lake} does not exist (create it), or {hint}")


def absolute(lake: Path | UPath) -> Path | UPath:
    """The lake as any process names it: an absolute local path, or its URL."""
    return lake.resolve() if is_local(lake) else lake


def is_local(path: Path | UPath) -> bool:
    """Whether a lake path is on this machine's file system (where renames are atomic)."""
    return isinstance(path, Path)


def read_parquet(path: str | Path | UPath, columns: list[str] | None = None) -> pa.Table:
    """A Parquet file (a lake partition or a staged batch), local or remote."""
    where, filesystem = _arrow_location(lake_path(path))
    return pq.read_table(where, columns=columns, filesystem=filesystem)


def write_parquet(path: str | Path | UPath, table: pa.Table) -> None:
    """Write a staged batch (not durable: a stopped run's staging is thrown away)."""
    path = lake_path(path)
    if is_local(path):
        pq.write_table(table, path)
    else:
        with path.open("wb") as f:
            pq.write_table(table, f)


def remove_tree(path: Path | UPath) -> None:
    """Remove a folder and everything under it, if it is there."""
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)


def _arrow_location(path: Path | UPath) -> tuple[str, fsspec.AbstractFileSystem | None]:
    return (str(path), None) if is_local(path) else (path.path, path.fs)


def _schema_of(path: Path | UPath) -> pa.Schema:
    where, filesystem = _arrow_location(path)
    return pq.read_schema(where, filesystem=filesystem)


def parquet_rows(path: str | Path | UPath) -> int:
    """The rows of a Parquet file, from its footer."""
    path = lake_path(path)
    where, filesystem = _arrow_location(path)
    return pq.read_metadata(where, filesystem=filesystem).num_rows


def partition_file(lake: Path, table: str, day: date) -> Path:
    """The Parquet file of one day's partition of a table."""
    return lake / table / f"date={day.isoformat()}" / PART_FILE


def _pending(path: Path, commit_id: str) -> Path:
    return path.with_name(f".{path.name}.{commit_id}.pending")


def _deletion(path: Path, commit_id: str) -> Path:
    return path.with_name(f".{path.name}.{commit_id}.delete")


def write_durable(path: Path | UPath, write) -> None:
    """Write a file whole through `write(binary_file)`: locally to a temporary file, flushed to
    disk and renamed into place; on object storage as one upload, which appears only complete."""
    if not is_local(path):
        f = path.open("wb")
        try:
            write(f)
        except BaseException:
            f.discard()  # abort the upload: a failed write leaves no object behind
            f.closed = True  # and nothing to flush when the file object goes
            raise
        f.close()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def write_text(path: Path | UPath, text: str) -> None:
    """Write a small text file (marker, manifest, progress) whole and durably."""
    write_durable(path, lambda f: f.write(text.encode()))


def _fsync_dir(path: Path | UPath) -> None:
    if not is_local(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace(staged: Path | UPath, final: Path | UPath) -> None:
    """Put a staged file in place of the live one: a rename here, a server-side copy (then the
    staged object's removal) on object storage. Either way a reader sees one file or the other."""
    if is_local(staged):
        os.replace(staged, final)
    else:
        staged.fs.mv(staged.path, final.path)


def remove_empty_dir(path: Path | UPath) -> None:
    """Remove a folder left empty (object storage has no folders to remove)."""
    if is_local(path):
        with suppress(OSError):
            path.rmdir()


def _write_parquet(path: Path | UPath, table: pa.Table) -> None:
    write_durable(path, lambda f: pq.write_table(table, f, compression="zstd", row_group_size=ROW_GROUP_ROWS))


def _read_file(path: Path, schema: pa.Schema) -> pa.Table:
    """The columns of `schema` from a partition file; columns added since it was written are null."""
    held = set(_schema_of(path).names)
    found = read_parquet(path, columns=[name for name in schema.names if name in held])
    for field in schema:
        if field.name not in found.column_names:
            found = found.append_column(field, pa.nulls(len(found), field.type))
    return found.select(schema.names).cast(schema)


def read_partition(
    lake: Path, table: Table, day: date, *, commit_id: str | None = None, columns: list[str] | None = None
) -> pa.Table:
    """One day's rows of a table (all columns or the given ones), without the partition column;
    with `commit_id`, as that commit's staged changes will leave it."""
    path = partition_file(lake, table.name, day)
    schema = pa.schema([table.schema.field(c) for c in columns]) if columns else table.schema
    if commit_id is not None:
        if _deletion(path, commit_id).exists():
            return schema.empty_table()
        if _pending(path, commit_id).exists():
            return _read_file(_pending(path, commit_id), schema)
    return _read_file(path, schema) if path.exists() else schema.empty_table()


def partition_days(lake: Path, table: Table) -> list[date]:
    """The days that have a partition of the table."""
    root = lake / table.name
    files = root.glob(f"date=*/{PART_FILE}") if root.exists() else []
    return sorted(date.fromisoformat(p.parent.name.removeprefix("date=")) for p in files)


def read_table(lake: Path, table: Table, columns: list[str] | None = None) -> pa.Table:
    """Read a lake table with its partition column (an empty table when it has no data yet)."""
    return read_days(lake, table, partition_days(lake, table), columns or table.schema.names)


def read_days(
    lake: Path, table: Table, days: Iterable[date], columns: list[str], *, commit_id: str | None = None
) -> pa.Table:
    """The rows of the given days of a table, with their `date` column."""
    parts = []
    for day in days:
        part = read_partition(lake, table, day, commit_id=commit_id, columns=columns)
        parts.append(part.append_column(PARTITION, pa.array([day] * len(part), pa.date32())))
    schema = pa.schema([table.schema.field(c) for c in columns]).append(PARTITION)
    return pa.concat_tables(parts) if parts else schema.empty_table()


def locate(lake: Path, table: Table, keys: Iterable[str]) -> set[date]:
    """The days whose partitions hold rows with these `replace_by` values."""
    found = read_table(lake, table, [table.replace_by])
    mask = pc.is_in(found.column(table.replace_by), value_set=pa.array(sorted(set(keys)), pa.string()))
    return set(found.filter(mask).column("date").to_pylist())


def stage_rows(
    lake: Path,
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
    content would not change is left alone. Nothing is visible before `commit`.
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
        path = partition_file(lake, table.name, day)
        _pending(path, commit_id).unlink(missing_ok=True)
        _deletion(path, commit_id).unlink(missing_ok=True)
        if len(merged):
            _write_parquet(_pending(path, commit_id), merged)
        elif path.exists():
            write_text(_deletion(path, commit_id), "")
        staged[day] = len(merged)
    return staged


def commit(lake: Path, commit_id: str, *, versions: dict[str, str]) -> None:
    """Make a commit's staged partitions visible: first a durable marker, then the renames.

    A crash before the marker leaves the lake as it was; a crash after it is finished by
    `recover`, so the lake ends as if the commit had gone through uninterrupted.
    """
    marker = lake / COMMITS / f"{commit_id}.json"
    body = json.dumps({"commit_id": commit_id, "versions": versions}) + "\n"
    write_text(marker, body)
    _apply(lake, marker)


def _apply(lake: Path, marker: Path, *, recovering: bool = False) -> None:
    """Rename a marked commit's staged files into place and rewrite the touched manifests.

    Recovering, every manifest is rewritten: an earlier attempt may have stopped after its
    renames and before the manifests, leaving nothing staged to tell which tables it touched.
    """
    done = json.loads(marker.read_text())
    commit_id = done["commit_id"]
    touched = []
    for table in TABLES.values():
        root = lake / table.name
        staged = sorted(root.glob(f"date=*/.{PART_FILE}.{commit_id}.*")) if root.exists() else []
        for path in staged:
            final = path.with_name(PART_FILE)
            if path.suffix == ".pending":
                _replace(path, final)
            elif path.suffix == ".delete":
                final.unlink(missing_ok=True)
                path.unlink()
                remove_empty_dir(final.parent)
        if staged:
            _fsync_dir(root)
        if staged or (recovering and root.exists()):
            touched.append(table)
    fingerprint = inputs_fingerprint(lake)
    for table in touched:
        write_manifest(lake, table, commit_id=commit_id, versions=done["versions"], fingerprint=fingerprint)
    marker.unlink()
    remove_empty_dir(marker.parent)


def recover(lake: Path) -> list[str]:
    """Finish the commits a stopped run had marked and drop what uncommitted runs staged.

    Call it holding the lake's lock. Returns the ids of the commits it finished.
    """
    finished = []
    for marker in sorted((lake / COMMITS).glob("*.json")):
        _apply(lake, marker, recovering=True)
        finished.append(marker.stem)
    for leftover in lake.glob(f"*/date=*/.{PART_FILE}.*"):
        leftover.unlink()
        remove_empty_dir(leftover.parent)
    for leftover in list((lake / COMMITS).glob(".*.tmp")) + list(lake.glob("*/._manifest.json.*")):
        leftover.unlink()
    return finished


def write_manifest(
    lake: Path, table: Table, *, commit_id: str, versions: dict[str, str], fingerprint: str | None = None
) -> dict:
    """Rewrite a table's manifest from the files on disk: files, rows, schema and versions."""
    root = lake / table.name
    files = {f"{p.parent.name}/{p.name}": parquet_rows(p) for p in sorted(root.glob(f"date=*/{PART_FILE}"), key=str)}
    manifest = {
        "table": table.name,
        "schema_version": SCHEMA_VERSION,
        "schema": {f.name: str(f.type) for f in table.dataset_schema},
        "partitioning": "hive: date=YYYY-MM-DD",
        "rows": sum(files.values()),
        "files": files,
        "inputs_fingerprint": fingerprint or inputs_fingerprint(lake),
        "last_commit": commit_id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions,
    }
    body = json.dumps(manifest, indent=1) + "\n"
    write_text(root / "_manifest.json", body)
    return manifest


def inputs_fingerprint(lake: Path) -> str:
    """A digest of the documents the lake was derived from: every (doc_id, content_hash)."""
    docs = read_table(lake, TABLES["documents"], ["doc_id", "content_hash"]).sort_by("doc_id")
    digest = hashlib.blake2b(digest_size=12)
    for row in docs.to_pylist():
        digest.update(f"{row['doc_id']}:{row['content_hash']}\n".encode())
    return digest.hexdigest()


def read_manifest(lake: Path, name: str) -> dict | None:
    """A table's manifest, or None when the table has none."""
    path = lake / name / "_manifest.json"
    return json.loads(path.read_text()) if path.exists() else None


def lake_tables(lake: Path) -> list[Table]:
    """The tables that have data in the lake, in contract order."""
    return [t for t in TABLES.values() if any((lake / t.name).glob(f"date=*/{PART_FILE}"))]


@contextmanager
def lake_lock(lake: Path | UPath, run_id: str) -> Iterator[None]:
    """Hold the lake's lock for one run; refuse clearly when a live run holds it.

    A lock left by a process that no longer exists on this host is stale and taken over.
    """
    _make_root(lake)
    path = lake / "_lock"
    holder = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
    for _ in range(2):
        if _create_exclusive(path, json.dumps(holder).encode()):
            break
        other = _lock_holder(path)
        if other is None and _age(path) < 60:
            raise LakeBusy(f"another run is starting on the lake {lake}; try again in a moment")
        if other is not None and _alive(other):
            raise LakeBusy(
                f"the lake {lake} is in use by run {other.get('run_id')} (pid {other.get('pid')} on "
                f"{other.get('host')}); wait for it to finish, or delete {path} if that process is gone"
            )
        path.unlink(missing_ok=True)  # stale: its process is gone
    else:
        raise LakeBusy(f"could not take the lock {path}; another run is starting on the same lake")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _make_root(lake: Path | UPath) -> None:
    """Create a local lake's folder; an object store's bucket must exist already."""
    if is_local(lake):
        lake.mkdir(parents=True, exist_ok=True)
    else:
        _check_bucket(lake)


def _create_exclusive(path: Path | UPath, body: bytes) -> bool:
    """Create a file only if it does not exist (on object storage, a conditional write); False if it does."""
    try:
        if is_local(path):
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            with os.fdopen(fd, "wb") as f:
                f.write(body)
        else:
            with path.fs.open(path.path, "xb") as f:
                f.write(body)
    except FileExistsError:
        return False
    except OSError:
        if is_local(path) or not path.exists():
            raise
        return False  # the store refused the conditional write: the lock exists
    return True


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


def _read_staged(paths: list[str], table: Table) -> pa.Table:
    schema = table.dataset_schema
    return pa.concat_tables([read_parquet(p).cast(schema) for p in paths]) if paths else schema.empty_table()


@dataclass(frozen=True)
class PublishOutput:
    """Rows staged into each table by the run, the days whose partitions changed, and the run's
    rejects by reason (including those the lake already held)."""

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
) -> PublishOutput:
    """Stage a run's documents, annotations and rejects for its commit.

    Every row of a re-processed document is replaced, wherever its old version lived. A reject
    the lake already holds (same origin, reason and payload) is counted but not written again.
    """
    root = lake_path(lake)
    docs = _read_staged(documents, TABLES["documents"])
    doc_ids = docs.column("doc_id").to_pylist()
    old_days = locate(root, TABLES["documents"], doc_ids)
    stage_rows(root, TABLES["documents"], docs, commit_id=run_id, replaced=doc_ids, days=old_days)
    rows = {"documents": len(docs)}
    tables = [t for t in ANNOTATION_TABLES if (root / t).exists() or any(t in a for a in annotations)]
    rows |= stage_annotations(root, annotations, commit_id=run_id, tables=tables, replaced=doc_ids, days=old_days)
    rejected = _read_staged(rejects, TABLES["rejects"])
    reasons = Counter(rejected.column("reason").to_pylist())
    fresh = _unknown_rejects(root, rejected)
    origins = fresh.column("origin").to_pylist()
    earlier = locate(root, TABLES["rejects"], origins)
    stage_rows(root, TABLES["rejects"], fresh, commit_id=run_id, replaced=origins, days=earlier)
    rows["rejects"] = len(fresh)
    days = sorted(old_days | set(docs.column("date").to_pylist()))
    return PublishOutput(rows, days, dict(sorted(reasons.items())))


def stage_annotations(
    lake: Path,
    annotations: list[dict[str, str]],
    *,
    commit_id: str,
    tables: Iterable[str],
    replaced: Iterable[str],
    days: Iterable[date],
) -> dict[str, int]:
    """Stage the annotation tables that `annotate_batch` staged, replacing the given documents'
    rows; a table with no staged file loses those rows (tokens that were not asked for again)."""
    replaced, days = list(replaced), list(days)
    rows = {}
    for name in tables:
        new = _read_staged([a[name] for a in annotations if name in a], TABLES[name])
        stage_rows(lake, TABLES[name], new, commit_id=commit_id, replaced=replaced, days=days)
        rows[name] = len(new)
    return rows


def _unknown_rejects(lake: Path, rejected: pa.Table) -> pa.Table:
    """The rejects the lake does not hold yet with the same origin, reason and payload."""
    known = read_table(lake, TABLES["rejects"], ["origin", "reason", "payload"]).to_pylist()
    seen = {(r["origin"], r["reason"], r["payload"]) for r in known}
    keep = [
        (r["origin"], r["reason"], r["payload"]) not in seen
        for r in rejected.select(["origin", "reason", "payload"]).to_pylist()
    ]
    return rejected.filter(pa.array(keep, pa.bool_()))


@task(name="record-run", cache_policy=NO_CACHE)
def record_run(*, lake: str, run: dict) -> None:
    """Stage the run's row in `runs`, in the run's own commit."""
    table = TABLES["runs"]
    row = pa.Table.from_pylist([run | {"date": run["started_at"].date()}], schema=table.dataset_schema)
    stage_rows(lake_path(lake), table, row, commit_id=run["run_id"], replaced=[run["run_id"]])


@task(name="commit", cache_policy=NO_CACHE)
def commit_changes(*, lake: str, commit_id: str, versions: dict[str, str]) -> None:
    """Make everything staged under `commit_id` visible at once."""
    commit(lake_path(lake), commit_id, versions=versions)


@task(name="export-days", cache_policy=NO_CACHE)
def export_days(*, lake: str, days: list[date], staging: str, batch_size: int) -> list[tuple[date, str]]:
    """Stage the documents of the given days in batches for annotation: (day, path) pairs."""
    batches = []
    for day in days:
        docs = read_days(lake_path(lake), TABLES["documents"], [day], ["doc_id", "text", "dup_of"])
        for n, start in enumerate(range(0, max(len(docs), 1), batch_size)):
            path = lake_path(staging) / f"documents-{day.isoformat()}-{n:04d}.parquet"
            write_parquet(path, docs.slice(start, batch_size))
            batches.append((day, str(path)))
    return batches


def check_lake(lake: Path) -> list[str]:
    """Problems that make the lake unsound; an empty list when it is sound.

    Every file is listed in its table's manifest with the right row count, every file's schema
    is the declared one (or an older one missing only nullable columns), no key is repeated,
    every annotation belongs to a document of the same day, and no commit is half applied.
    """
    problems = [
        f"commit {m.stem} is not finished: the next run completes it" for m in sorted((lake / COMMITS).glob("*.json"))
    ]
    documents = read_table(lake, TABLES["documents"], ["doc_id"]) if (lake / "documents").exists() else None
    for table in TABLES.values():
        root = lake / table.name
        if not root.exists():
            continue
        problems += _check_files(lake, table)
        frame = _read_keys(lake, table)
        unique_by = [*table.key, "date"] if table.replace_by is None else list(table.key)
        repeated = frame.filter(pl.struct(unique_by).is_duplicated())
        if repeated.height:
            problems.append(f"{table.name}: {repeated.height} rows repeat a key {tuple(unique_by)}")
        if table.name in ANNOTATION_TABLES and documents is not None:
            docs = pl.from_arrow(documents).select("doc_id", "date")
            orphans = frame.select("doc_id", "date").unique().join(docs, on=["doc_id", "date"], how="anti")
            if orphans.height:
                problems.append(f"{table.name}: rows of {orphans.height} documents not in documents on the same day")
    return problems


def _read_keys(lake: Path, table: Table) -> pl.DataFrame:
    """The key columns and date of every row, from the files that have them."""
    parts = []
    for day in partition_days(lake, table):
        path = partition_file(lake, table.name, day)
        if set(table.key) <= set(_schema_of(path).names):
            keys = pl.from_arrow(read_parquet(path, columns=list(table.key)))
            parts.append(keys.with_columns(pl.lit(day).alias("date")))
    if not parts:
        return pl.from_arrow(pa.schema([table.schema.field(k) for k in table.key]).append(PARTITION).empty_table())
    return pl.concat(parts, how="vertical_relaxed")


def _check_files(lake: Path, table: Table) -> list[str]:
    root = lake / table.name
    manifest = read_manifest(lake, table.name)
    on_disk = {f"{p.parent.name}/{p.name}": p for p in sorted(root.glob(f"date=*/{PART_FILE}"), key=str)}
    if manifest is None:
        return [f"{table.name}: no _manifest.json"] if on_disk else []
    problems = [f"{table.name}: {f} is not in the manifest" for f in sorted(set(on_disk) - set(manifest["files"]))]
    problems += [
        f"{table.name}: {f} is in the manifest but missing" for f in sorted(set(manifest["files"]) - set(on_disk))
    ]
    for relative, path in on_disk.items():
        rows = parquet_rows(path)
        if relative in manifest["files"] and manifest["files"][relative] != rows:
            problems.append(
                f"{table.name}: {relative} has {rows} rows, the manifest says {manifest['files'][relative]}"
            )
        schema = _schema_of(path)
        for field in schema:
            declared = table.schema.field(field.name) if field.name in table.schema.names else None
            if declared is None or declared.type != field.type:
                problems.append(f"{table.name}: {relative} column {field.name} {field.type} is not in the schema")
        for field in table.schema:
            if field.name not in schema.names and not field.nullable:
                problems.append(f"{table.name}: {relative} lacks the required column {field.name}")
    return problems
