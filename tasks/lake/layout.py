"""Where everything lives in a lake: the one place that knows its layout.

```
LAKE/<table>/date=YYYY-MM-DD/part-<id>.parquet a partition (Hive): the files its commits added
LAKE/<table>/date=YYYY-MM-DD/part-0.parquet    a rollup's partition, one file rewritten whole
LAKE/<table>/_manifest.json                    the table's files, rows, schema and versions
LAKE/_keys/month=YYYY-MM/part-<id>.parquet     the documents' key index (see `keys`)
LAKE/_staging/<run_id>/<kind>-<batch>.parquet  a run's batches between its stages
LAKE/_commits/<commit_id>.json                 a commit under way (see `commits`)
LAKE/_backfills/<key>.json                     the days an interrupted backfill had finished
LAKE/_lock                                     the run that holds the lake
LAKE/_prefect/                                 the Prefect database of `newslake serve` (local lakes)
```
"""

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from newslake.tasks.lake.storage import (
    AnyPath,
    as_path,
    is_local,
    parquet_rows,
    read_parquet,
    remove_empty_dir,
    remove_tree,
    write_parquet,
    write_text,
)

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

PART_GLOB = "part-*.parquet"
WHOLE_FILE = "part-0.parquet"  # the one file of a partition that is rewritten whole (rollups)
MANIFEST = "_manifest.json"


class LakeUnreachable(OSError):
    """The lake's object store cannot be reached, or its bucket does not exist."""


@dataclass(frozen=True)
class Lake:
    """A lake, named as every process names it (an absolute local path or an fsspec URL), and
    where its tables, partitions, staging, commits, lock and manifests live."""

    location: str

    @classmethod
    def at(cls, location: "str | os.PathLike | Lake") -> "Lake":
        """The lake at a path (made absolute) or URL."""
        if isinstance(location, Lake):
            return location
        path = as_path(location)
        return cls(str(path.resolve()) if is_local(path) else str(path))

    def __str__(self) -> str:
        return self.location

    @cached_property  # a lake's every path starts here: made once, not on each call
    def root(self) -> AnyPath:
        return as_path(self.location)

    @property
    def is_local(self) -> bool:
        return is_local(self.root)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def key(self) -> str:
        """A short name for the lake that no other lake shares (its folder's name in lower-case
        letters, digits and dashes, and a digest of its location), for Prefect's artifact keys."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "lake"
        return f"{slug}-{hashlib.blake2b(self.location.encode(), digest_size=3).hexdigest()}"

    def exists(self) -> bool:
        return self.root.exists()

    def contains(self, path: "str | os.PathLike") -> bool:
        """Whether a local path lies inside this lake (where only newslake may write)."""
        return self.is_local and Path(path).resolve().is_relative_to(self.root.resolve())

    def check_reachable(self) -> None:
        """Raise LakeUnreachable unless the lake's bucket exists and answers (a local folder is
        made by the first run)."""
        if self.is_local:
            return
        root = self.root
        bucket = root.path.split("/", 1)[0]
        hint = "check AWS_ENDPOINT_URL and the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)"
        try:
            found = root.fs.exists(bucket)
        except Exception as exc:  # each store's client raises its own errors
            raise LakeUnreachable(f"cannot reach the lake {self}: {exc}; {hint}") from exc
        if not found:
            raise LakeUnreachable(f"the bucket {bucket!r} of the lake {self} does not exist (create it), or {hint}")

    def make(self) -> None:
        """Create a local lake's folder; an object store's bucket must exist already."""
        if self.is_local:
            self.root.mkdir(parents=True, exist_ok=True)
        else:
            self.check_reachable()

    # Tables and partitions
    def table_dir(self, table: str) -> AnyPath:
        return self.root / table

    def table_names(self) -> list[str]:
        """The tables the lake holds, by name: its folders with a manifest or a partition (every
        declared table once a commit has been made; the lake's own folders start with `_`)."""
        if not self.root.exists():
            return []
        names = (folder.name for folder in self.root.iterdir() if not folder.name.startswith(("_", ".")))
        return sorted(name for name in names if self.manifest_file(name).exists() or self.has_rows(name))

    def has_table(self, table: str) -> bool:
        """Whether the table's folder exists (it may hold no partition yet)."""
        return self.table_dir(table).exists()

    def has_rows(self, table: str) -> bool:
        """Whether the table has a partition."""
        return bool(self.partition_files(table))

    def partition_dir(self, table: str, day: date) -> AnyPath:
        """The folder of one day's partition of a table."""
        return self.table_dir(table) / f"date={day.isoformat()}"

    def partition_files(self, table: str, day: date | None = None) -> list[AnyPath]:
        """The live files of a table (of one day's partition), in path order."""
        root = self.table_dir(table) if day is None else self.partition_dir(table, day)
        pattern = f"date=*/{PART_GLOB}" if day is None else PART_GLOB
        return sorted(root.glob(pattern), key=str) if root.exists() else []

    def partition_days(self, table: str) -> list[date]:
        """The days that have a partition of the table."""
        return sorted({partition_day(p) for p in self.partition_files(table)})

    def manifest_file(self, table: str) -> AnyPath:
        return self.table_dir(table) / MANIFEST

    # The lake's own folders
    @property
    def commits_dir(self) -> AnyPath:
        return self.root / "_commits"

    def commit_marker(self, commit_id: str) -> AnyPath:
        return self.commits_dir / f"{commit_id}.json"

    @property
    def lock_file(self) -> AnyPath:
        return self.root / "_lock"

    @property
    def keys_dir(self) -> AnyPath:
        """The documents' key index (`keys`), a folder a month."""
        return self.root / "_keys"

    def keys_month(self, month: str) -> AnyPath:
        return self.keys_dir / f"month={month}"

    def keys_files(self, month: str | None = None) -> list[AnyPath]:
        """The index's files (of one month), in path order."""
        root = self.keys_dir if month is None else self.keys_month(month)
        pattern = f"month=*/{PART_GLOB}" if month is None else PART_GLOB
        return sorted(root.glob(pattern), key=str) if root.exists() else []

    @property
    def keys_complete(self) -> AnyPath:
        """Written once the index holds every document."""
        return self.keys_dir / "_complete"

    def backfill_progress(self, key: str) -> AnyPath:
        return self.root / "_backfills" / f"{key}.json"

    @property
    def prefect_home(self) -> "AnyPath | None":
        """Where `newslake serve` keeps a local lake's Prefect database; None for a remote lake."""
        return self.root / "_prefect" if self.is_local else None

    @property
    def staging_root(self) -> AnyPath:
        """Where runs stage their batches, and where every commit that stages files beside the
        partitions has a folder while it does (see `recover`)."""
        return self.root / "_staging"

    def staging(self, run_id: str) -> "Staging":
        return Staging(self, run_id)

    # Reading, for analysts (see `query`)
    def scan(self, table: str) -> "pl.LazyFrame":
        """A table as a Polars LazyFrame, `date` included."""
        from newslake.tasks.lake.query import scan

        return scan(self, table)

    def duckdb(self) -> "duckdb.DuckDBPyConnection":
        """An in-memory DuckDB connection with a view per table and the joined views (free to
        read other files too, unlike `sql`)."""
        from newslake.tasks.lake.query import connect

        return connect(self, confined=False)

    def sql(self, query: str) -> "pl.DataFrame":
        """The result of one SELECT over the lake's views, as a Polars DataFrame."""
        from newslake.tasks.lake.query import connect, run_query

        return run_query(connect(self, for_query=query), query)


def partition_day(path: AnyPath) -> date:
    """The day of a partition file, from its `date=` folder."""
    return date.fromisoformat(path.parent.name.removeprefix("date="))


def relative_name(path: AnyPath) -> str:
    """A partition file as its table's manifest names it: `date=YYYY-MM-DD/part-<id>.parquet`."""
    return f"{path.parent.name}/{path.name}"


def new_file(folder: AnyPath, commit_id: str, n: int = 0) -> AnyPath:
    """The name of the `n`th file a commit adds to a partition (or index month) folder."""
    return folder / (f"part-{commit_id}.parquet" if n == 0 else f"part-{commit_id}-{n}.parquet")


def pending_file(path: AnyPath, commit_id: str) -> AnyPath:
    """A partition file's new version, staged for a commit under a name no `*.parquet` glob matches."""
    return path.with_name(f".{path.name}.{commit_id}.pending")


def deletion_file(path: AnyPath, commit_id: str) -> AnyPath:
    """A marker that a commit removes a partition file."""
    return path.with_name(f".{path.name}.{commit_id}.delete")


def live_file(staged: AnyPath) -> AnyPath:
    """The partition file a staged file (pending or deletion) stands for."""
    name = staged.name
    return staged.with_name(name[1 : name.index(".parquet.") + len(".parquet")])


def staged_files(lake: Lake, table: str, commit_id: str | None = None) -> list[AnyPath]:
    """The files staged beside a table's partitions (for one commit, or for any)."""
    root = lake.table_dir(table)
    pattern = f"date=*/.part-*.parquet.{commit_id}.*" if commit_id else "date=*/.part-*.parquet.*"
    return sorted(root.glob(pattern), key=str) if root.exists() else []


@dataclass(frozen=True)
class Staging:
    """A run's staged batches, in the lake where every worker reaches them; each batch's files
    are named `<kind>-<batch>.parquet` (kinds: raw, clean, documents and each annotation table)."""

    lake: Lake
    run_id: str

    @property
    def folder(self) -> AnyPath:
        return self.lake.staging_root / self.run_id

    def create(self) -> "Staging":
        """A new staging folder for this run; folders left by runs that died are removed (call
        it holding the lake's lock)."""
        remove_tree(self.folder.parent)
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def remove(self) -> None:
        remove_tree(self.folder.parent)

    @property
    def staged_mark(self) -> AnyPath:
        """Present while the commit of this id stages files beside the partitions, so that
        `LAKE/_staging/` exists then: `recover` looks for what a stopped writer staged only when
        it does."""
        return self.folder / "_staged"

    def mark_staged(self) -> None:
        if not self.staged_mark.exists():
            write_text(self.staged_mark, "")

    def unmark_staged(self) -> None:
        """Once the commit is applied (or stages nothing): its mark goes, and with it the folders
        left empty (a run's, with its batches, goes when the run ends)."""
        self.staged_mark.unlink(missing_ok=True)
        remove_empty_dir(self.folder)
        remove_empty_dir(self.lake.staging_root)

    def batch(self, name: str) -> "Batch":
        return Batch(self, name)

    def rejects(self, stage: str) -> AnyPath:
        """The file of the rejects a run's stage staged."""
        return self.folder / f"rejects-{stage}.parquet"

    def batches(self, kind: str) -> Iterator["Batch"]:
        """The batches that have a file of this kind, in name order."""
        for path in sorted(self.folder.glob(f"{kind}-*.parquet"), key=str):
            yield self.batch(path.stem.removeprefix(f"{kind}-"))


@dataclass(frozen=True)
class Batch:
    """One batch of a run, as its stages pass it on: the raw records, the cleaned documents, the
    documents to annotate and their annotations are files of one name, each of its own kind."""

    staging: Staging
    name: str

    def path(self, kind: str) -> AnyPath:
        return self.staging.folder / f"{kind}-{self.name}.parquet"

    def has(self, kind: str) -> bool:
        return self.path(kind).exists()

    def write(self, kind: str, table: "pa.Table") -> None:
        write_parquet(self.path(kind), table)

    def read(self, kind: str, columns: list[str] | None = None) -> "pa.Table":
        return read_parquet(self.path(kind), columns=columns)

    def rows(self, kind: str) -> int:
        return parquet_rows(self.path(kind))
