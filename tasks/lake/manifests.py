"""Each table folder's `_manifest.json`: its files with their rows, the files whose columns are
not the declared ones, total rows, schema version and columns, the inputs fingerprint, the last
commit and the code and model versions."""

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from newslake.tasks.lake.layout import Lake, relative_name
from newslake.tasks.lake.storage import AnyPath, footer, write_text

if TYPE_CHECKING:  # the schemas import PyArrow, which reading a manifest (for a query) does without
    from newslake.schemas import Table


def write_manifest(
    lake: Lake,
    table: "Table",
    *,
    commit_id: str,
    versions: dict[str, str] | None,
    fingerprint: str | None,
    changed: set[str] | None = None,
) -> dict:
    """Rewrite a table's manifest from the files on disk: files, rows, schema and versions. With
    `changed` (files a commit wrote or removed, as the manifest names them), only those are read
    again; the others keep their rows from the manifest. Without `versions` or `fingerprint`
    (a compaction), the manifest keeps those it had (`keys.inputs_fingerprint` makes one).

    `other_schema_files` names the files whose columns are not the declared ones (written by
    another schema version), which readers must union by name. A manifest written before it was
    kept, or for another schema of the table, is replaced by one read from every file."""
    from newslake.schemas import SCHEMA_VERSION

    try:
        held = read_manifest(lake, table.name)
    except ValueError:
        held = None
    schema = {f.name: str(f.type) for f in table.dataset_schema}
    if held is None or changed is None or "other_schema_files" not in held or held.get("schema") != schema:
        found = {relative_name(p): _file_facts(table, p) for p in lake.partition_files(table.name)}
        files = {name: rows for name, (rows, _) in found.items()}
        other = [name for name, (_, differs) in found.items() if differs]
    else:
        files = {name: rows for name, rows in held["files"].items() if name not in changed}
        other = [name for name in held["other_schema_files"] if name not in changed]
        for name in sorted(changed):
            path = lake.table_dir(table.name) / name
            if path.exists():
                files[name], differs = _file_facts(table, path)
                if differs:
                    other.append(name)
        files = dict(sorted(files.items()))
    manifest = {
        "table": table.name,
        "schema_version": SCHEMA_VERSION,
        "schema": schema,
        "partitioning": "hive: date=YYYY-MM-DD",
        "rows": sum(files.values()),
        "files": files,
        "other_schema_files": sorted(other),
        "inputs_fingerprint": fingerprint or (held or {}).get("inputs_fingerprint"),
        "last_commit": commit_id,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": versions if versions is not None else (held or {}).get("versions", {}),
    }
    write_text(lake.manifest_file(table.name), json.dumps(manifest, indent=1) + "\n")
    return manifest


def _file_facts(table: "Table", path: AnyPath) -> tuple[int, bool]:
    """A partition file's rows, and whether its columns are other than the table's declared ones."""
    meta = footer(path)
    return meta.num_rows, meta.schema.to_arrow_schema().names != table.schema.names


def read_manifest(lake: Lake, name: str) -> dict | None:
    """A table's manifest, or None when the table has none."""
    path = lake.manifest_file(name)
    return json.loads(path.read_text()) if path.exists() else None


def lake_tables(lake: Lake) -> list["Table"]:
    """The tables the lake holds (a manifest, or partitions), in contract order: every declared
    table once a commit has been made, none before."""
    from newslake.schemas import TABLES

    held = set(lake.table_names())
    return [t for t in TABLES.values() if t.name in held]
