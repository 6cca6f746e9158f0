"""Each table folder's `_manifest.json`: its files with their rows, total rows, schema version and
columns, the inputs fingerprint, the last commit and the code and model versions."""

import json
from datetime import UTC, datetime

from newslake.schemas import SCHEMA_VERSION, TABLES, Table
from newslake.tasks.lake.layout import Lake, relative_name
from newslake.tasks.lake.storage import parquet_rows, write_text


def write_manifest(
    lake: Lake,
    table: Table,
    *,
    commit_id: str,
    versions: dict[str, str] | None,
    fingerprint: str | None,
    changed: set[str] | None = None,
) -> dict:
    """Rewrite a table's manifest from the files on disk: files, rows, schema and versions. With
    `changed` (files a commit wrote or removed, as the manifest names them), only those are read
    again; the others keep their rows from the manifest. Without `versions` or `fingerprint`
    (a compaction), the manifest keeps those it had (`keys.inputs_fingerprint` makes one)."""
    try:
        held = read_manifest(lake, table.name)
    except ValueError:
        held = None
    if held is None or changed is None:
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
        "inputs_fingerprint": fingerprint or (held or {}).get("inputs_fingerprint"),
        "last_commit": commit_id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions if versions is not None else (held or {}).get("versions", {}),
    }
    write_text(lake.manifest_file(table.name), json.dumps(manifest, indent=1) + "\n")
    return manifest


def read_manifest(lake: Lake, name: str) -> dict | None:
    """A table's manifest, or None when the table has none."""
    path = lake.manifest_file(name)
    return json.loads(path.read_text()) if path.exists() else None


def lake_tables(lake: Lake) -> list[Table]:
    """The tables the lake holds (a manifest, or partitions), in contract order: every declared
    table once a commit has been made, none before."""
    return [t for t in TABLES.values() if lake.manifest_file(t.name).exists() or lake.partition_files(t.name)]
