"""`newslake check`: what makes a lake unsound."""

import polars as pl
import pyarrow as pa

from newslake.schemas import ANNOTATION_TABLES, PARTITION, TABLES, Table
from newslake.tasks.lake.commits import pending_commits
from newslake.tasks.lake.keys import KEY_COLUMNS, inputs_fingerprint, is_fingerprint, keys_complete, read_keys
from newslake.tasks.lake.layout import Lake, partition_day, relative_name
from newslake.tasks.lake.manifests import read_manifest
from newslake.tasks.lake.partitions import read_table
from newslake.tasks.lake.storage import footer, read_parquet, schema_of


def check_lake(lake: Lake) -> list[str]:
    """Problems that make the lake unsound; an empty list when it is sound.

    Every file is listed in its table's manifest with the right row count, every file's schema
    is the declared one (or an older one missing only nullable columns), no key is repeated,
    every annotation belongs to a document of the same day, and no commit is half applied.
    """
    problems = [f"commit {c} is not finished: the next run completes it" for c in pending_commits(lake)]
    documents = read_table(lake, TABLES["documents"], ["doc_id", "dup_of"]) if lake.has_rows("documents") else None
    for table in TABLES.values():
        if not lake.has_table(table.name):
            continue
        found = _check_files(lake, table)
        problems += found
        if any("is not a readable Parquet file" in p for p in found):
            continue  # its keys cannot be read
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
    if documents is not None:
        problems += _check_annotated(lake, pl.from_arrow(documents))
    return problems + _check_key_index(lake) + _check_fingerprint(lake)


def _check_key_index(lake: Lake) -> list[str]:
    """The documents' key index holds the keys of the documents' partitions, no more, no less."""
    if not keys_complete(lake):
        return []
    indexed = pl.from_arrow(read_keys(lake, KEY_COLUMNS))
    held = pl.from_arrow(read_table(lake, TABLES["documents"], KEY_COLUMNS))
    if indexed.sort("date", "doc_id").equals(held.sort("date", "doc_id")):
        return []
    return [f"the key index {lake.keys_dir} does not match documents: remove that folder, the next run writes it again"]


def _check_fingerprint(lake: Lake) -> list[str]:
    """The inputs fingerprint in the documents manifest is that of the documents (each commit
    changes it by what it adds and removes, so an error would last)."""
    try:
        kept = (read_manifest(lake, "documents") or {}).get("inputs_fingerprint")
    except ValueError:  # reported with the table's files
        return []
    if not is_fingerprint(kept) or kept == (found := inputs_fingerprint(lake)):
        return []
    return [
        f"documents: the manifest's inputs fingerprint {kept} is not that of the documents ({found}); remove "
        "inputs_fingerprint from documents/_manifest.json and the next commit computes it again"
    ]


def _check_annotated(lake: Lake, documents: pl.DataFrame) -> list[str]:
    """Every unique document has sentences, and mentions exactly when it has entities: a day
    whose annotation partition was lost shows as documents without them."""
    unique = documents.filter(pl.col("dup_of").is_null()).select("doc_id", "date")
    held = {
        name: pl.from_arrow(read_table(lake, TABLES[name], ["doc_id"])).unique()
        for name in ("sentences", "mentions", "entities")
    }
    lacking = {"sentences": unique.join(held["sentences"], on=["doc_id", "date"], how="anti")}
    for name, other in (("mentions", "entities"), ("entities", "mentions")):
        lacking[name] = held[other].join(held[name], on=["doc_id", "date"], how="anti")
    problems = []
    for name, missing in lacking.items():
        for day, n in missing.group_by("date").len().sort("date").iter_rows():
            problems.append(
                f"{name}: {n} documents of {day} have no rows (a lost partition?); rebuild the day with "
                f"`newslake backfill --start {day} --end {day}`"
            )
    return problems


def _read_keys(lake: Lake, table: Table) -> pl.DataFrame:
    """The key columns and date of every row, from the files that have them."""
    parts = []
    for path in lake.partition_files(table.name):
        if set(table.key) <= set(schema_of(path).names):
            keys = pl.from_arrow(read_parquet(path, columns=list(table.key)))
            parts.append(keys.with_columns(pl.lit(partition_day(path)).alias("date")))
    if not parts:
        return pl.from_arrow(pa.schema([table.schema.field(k) for k in table.key]).append(PARTITION).empty_table())
    return pl.concat(parts, how="vertical_relaxed")


def _check_files(lake: Lake, table: Table) -> list[str]:
    on_disk = {relative_name(p): p for p in lake.partition_files(table.name)}
    problems = [
        f"{table.name}: stray file {p.relative_to(lake.table_dir(table.name))}: a reader of "
        f"{table.name}/**/*.parquet reads it as rows of the table; move it out of the lake"
        for p in sorted(lake.table_dir(table.name).rglob("*.parquet"), key=str)
        if relative_name(p) not in on_disk or p.parent.parent != lake.table_dir(table.name)
    ]
    stray = "a reader of **/*.parquet reads it as rows of the table: if no commit wrote it, move it out of the lake"
    try:
        manifest = read_manifest(lake, table.name)
    except ValueError as exc:
        return [
            *problems,
            f"{table.name}: _manifest.json is not JSON ({exc}); the next commit to the table rewrites it",
        ]
    if manifest is None:
        return [*problems, f"{table.name}: no _manifest.json"] if on_disk else problems
    problems += [
        f"{table.name}: {f} is not in the manifest; {stray}" for f in sorted(set(on_disk) - set(manifest["files"]))
    ]
    problems += [
        f"{table.name}: {f} is in the manifest but missing" for f in sorted(set(manifest["files"]) - set(on_disk))
    ]
    for relative, path in on_disk.items():
        try:
            meta = footer(path)
        except (OSError, ValueError) as exc:  # Arrow's errors for a truncated or foreign file
            problems.append(
                f"{table.name}: {relative} is not a readable Parquet file ({exc}); restore it, or rebuild "
                f"the day with `newslake backfill --start {partition_day(path)} --end {partition_day(path)}`"
            )
            continue
        if relative in manifest["files"] and manifest["files"][relative] != meta.num_rows:
            problems.append(
                f"{table.name}: {relative} has {meta.num_rows} rows, the manifest says {manifest['files'][relative]}"
            )
        schema = meta.schema.to_arrow_schema()
        problems += _check_schema(table, relative, schema)
        if schema.names != table.schema.names and relative not in manifest.get("other_schema_files", [relative]):
            problems.append(
                f"{table.name}: {relative} has other columns than the declared ones, which the manifest does "
                "not say (queries would not read it by column name); remove other_schema_files from the "
                "manifest and the next commit to the table reads every file again"
            )
    return problems


def _check_schema(table: Table, relative: str, schema: pa.Schema) -> list[str]:
    """A file's columns against the declared ones: none unknown or of another type, none required missing."""
    problems = []
    for field in schema:
        declared = table.schema.field(field.name) if field.name in table.schema.names else None
        if declared is None or declared.type != field.type:
            problems.append(f"{table.name}: {relative} column {field.name} {field.type} is not in the schema")
    for field in table.schema:
        if field.name not in schema.names and not field.nullable:
            problems.append(f"{table.name}: {relative} lacks the required column {field.name}")
    return problems
