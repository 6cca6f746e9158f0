"""Files on a local disk or an object store, written whole: the lake's only I/O primitives.

Locally a file is written to a temporary name, flushed and renamed into place; on object storage
it is one upload, which appears only complete. Either way a reader sees a file whole or not at all.

PyArrow and the object-store libraries are imported by the functions that use them, so that a
query of a local lake (`newslake sql`) starts without them.
"""

import os
import shutil
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

if TYPE_CHECKING:
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq
    from upath import UPath

ROW_GROUP_ROWS = 128 * 1024

AnyPath: TypeAlias = "Path | UPath"


def as_path(location: str | os.PathLike) -> AnyPath:
    """A location as a path: a local one, or a remote one for an fsspec URL such as s3://bucket/prefix
    (endpoint and credentials from the usual AWS_* environment variables)."""
    if isinstance(location, Path) or (isinstance(location, str) and ":" not in location.split("/", 1)[0]):
        return Path(location)  # no scheme: a local path, without a look at fsspec
    from upath import UPath

    path = UPath(location)
    return Path(path.path) if path.protocol in ("", "file", "local") else path


def is_local(path: AnyPath) -> bool:
    """Whether a path is on this machine's file system (where renames are atomic)."""
    return isinstance(path, Path)


def _arrow_location(path: AnyPath) -> "tuple[str, fsspec.AbstractFileSystem | None]":
    return (str(path), None) if is_local(path) else (path.path, path.fs)


def read_parquet(path: AnyPath, columns: list[str] | None = None) -> "pa.Table":
    """A Parquet file, local or remote."""
    import pyarrow.parquet as pq

    where, filesystem = _arrow_location(path)
    return pq.read_table(where, columns=columns, filesystem=filesystem)


def schema_of(path: AnyPath) -> "pa.Schema":
    """A Parquet file's schema, from its footer."""
    import pyarrow.parquet as pq

    where, filesystem = _arrow_location(path)
    return pq.read_schema(where, filesystem=filesystem)


def parquet_rows(path: AnyPath) -> int:
    """The rows of a Parquet file, from its footer."""
    return footer(path).num_rows


def footer(path: AnyPath) -> "pq.FileMetaData":
    """A Parquet file's footer: its rows and schema."""
    import pyarrow.parquet as pq

    where, filesystem = _arrow_location(path)
    return pq.read_metadata(where, filesystem=filesystem)


def write_parquet(path: AnyPath, table: "pa.Table") -> None:
    """Write a staged batch (not durable: a stopped run's staging is thrown away)."""
    import pyarrow.parquet as pq

    if is_local(path):
        pq.write_table(table, path)
    else:
        with path.open("wb") as f:
            pq.write_table(table, f)


def write_durable(path: AnyPath, write: Callable[[BinaryIO], object]) -> None:
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
    fsync_dir(path.parent)


def write_durable_parquet(path: AnyPath, table: "pa.Table") -> None:
    """Write a partition file whole and durably (zstd)."""
    import pyarrow.parquet as pq

    write_durable(path, lambda f: pq.write_table(table, f, compression="zstd", row_group_size=ROW_GROUP_ROWS))


def write_text(path: AnyPath, text: str) -> None:
    """Write a small text file (marker, manifest, progress) whole and durably."""
    write_durable(path, lambda f: f.write(text.encode()))


def fsync_dir(path: AnyPath) -> None:
    """Make a local folder's renames durable (object storage has no folders)."""
    if not is_local(path):
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(staged: AnyPath, final: AnyPath) -> None:
    """Put a staged file in place of the live one: a rename here, a server-side copy (then the
    staged object's removal) on object storage. Either way a reader sees one file or the other."""
    if is_local(staged):
        os.replace(staged, final)
    else:
        staged.fs.mv(staged.path, final.path)


def remove_tree(path: AnyPath) -> None:
    """Remove a folder and everything under it, if it is there."""
    if is_local(path):
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.fs.rm(path.path, recursive=True)


def remove_empty_dir(path: AnyPath) -> None:
    """Remove a folder left empty (object storage has no folders to remove)."""
    if is_local(path):
        with suppress(OSError):
            path.rmdir()


def create_exclusive(path: AnyPath, body: bytes) -> bool:
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
        return False  # the store refused the conditional write: the file exists
    return True
