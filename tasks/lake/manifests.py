"""Each table folder's `_manifest.json`: its files with their rows, total rows, schema version and
columns, the inputs fingerprint, the last commit and the code and model versions."""

import hashlib
import json
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from newslake.schemas import SCHEMA_VERSION, TABLES, Table
from newslake.tasks.lake.keys import read_keys
from newslake.tasks.lake.layout import Lake, relative_name
from newslake.tasks.lake.storage import parquet_rows, write_text


def write_manifest(
    lake: Lake,
    table: Table,
    *,
    commit_id: str,
    versions: dict[str, str] | None,
    fingerprint: str | None = None,
    changed: set[str] | None = None,
) -> dict:
    """Rewrite a table's manifest from the files on disk: files, rows, schema and versions. With
    `changed` (files a commit wrote or removed, as the manifest names them), only those are read
    again; the others keep their rows from the manifest. Without `versions` or `fingerprint`
    (a compaction), the manifest keeps those it had."""
    try:
        held = read_manifest(lake, table.name) if changed is not None else None
    except ValueError:
        held = None
    if held is None:
        files = {relative_name(p): parquet_rows(p) for p in lake.partition_files(table.name)}
    else:
        files = {name: rows for name, rows in held["files"].items() if name not in changed}
        for name in changed:
            path = lake.table_dir(table.name) / name
            if path.exists():
                files[name] = parquet_rows(path)
        files = dict(sorted(files.items()))
    manifest = {
        "table": table.name,
        "schema_version": SCHEMA_VERSION,
        "schema": {f.name: str(f.type) for f in table.dataset_schema},
        "partitioning": "hive: date=YYYY-MM-DD",
        "rows": sum(files.values()),
        "files": files,
        "inputs_fingerprint": fingerprint or (held or {}).get("inputs_fingerprint") or inputs_fingerprint(lake),
        "last_commit": commit_id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions if versions is not None else (held or {}).get("versions", {}),
    }
    write_text(lake.manifest_file(table.name), json.dumps(manifest, indent=1) + "\n")
    return manifest


def inputs_fingerprint(lake: Lake) -> str:
    """A digest of the documents the lake was derived from: every (doc_id, content_hash), a line
    each, in doc_id order."""
    docs = read_keys(lake, ["doc_id", "content_hash"]).sort_by("doc_id")
    joined = pc.binary_join_element_wise(docs.column("doc_id"), docs.column("content_hash"), ":")
    lines = pc.binary_join_element_wise(joined, "", "\n")  # "doc_id:content_hash\n"
    digest = hashlib.blake2b(digest_size=12)
    for chunk in lines.chunks:  # the lines' bytes as Arrow holds them, without a Python string each
        _, offsets, data = chunk.buffers()
        bounds = pa.Array.from_buffers(pa.int32(), len(chunk) + 1, [None, offsets], offset=chunk.offset)
        digest.update(memoryview(data)[bounds[0].as_py() : bounds[-1].as_py()])
    return digest.hexdigest()


def read_manifest(lake: Lake, name: str) -> dict | None:
    """A table's manifest, or None when the table has none."""
    path = lake.manifest_file(name)
    return json.loads(path.read_text()) if path.exists() else None


def lake_tables(lake: Lake) -> list[Table]:
    """The tables the lake holds (a manifest, or partitions), in contract order: every declared
    table once a commit has been made, none before."""
    return [t for t in TABLES.values() if lake.manifest_file(t.name).exists() or lake.partition_files(t.name)]
