"""Ingest: turn input files into raw records, and anything unreadable into rejects.

Formats are told by extension: .txt, .jsonl/.ndjson, .csv, .parquet, .html/.htm, and the
.gz of each. Decoding and text extraction are left to `clean`; here records keep their bytes.
"""

import csv
import dataclasses
import glob
import hashlib
import io
import itertools
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from newslake.schemas import PARTITION, REJECTS, TABLES
from newslake.tasks.lake import Batch, Lake, read_keys, read_table
from newslake.tasks.lake.keys import keys_complete
from newslake.tasks.lake.storage import AnyPath, write_parquet

RAW = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("external_id", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("url", pa.string()),
        pa.field("published", pa.string()),
        pa.field("authors", pa.string()),
        pa.field("site_name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("image", pa.string()),
        pa.field("tags", pa.string()),
        pa.field("payload", pa.large_binary(), nullable=False),
        pa.field("raw_hash", pa.string()),
    ]
)

TEXT_FORMATS = {".txt": "txt", ".html": "html", ".htm": "html"}
RECORD_FORMATS = {".jsonl", ".ndjson", ".csv", ".parquet"}
SUPPORTED = set(TEXT_FORMATS) | RECORD_FORMATS
LOOKUP_RECORDS = 5000  # records read between two questions to the lake's key index

FIELDS = {
    "text": ("text", "body", "content", "article", "html"),
    "title": ("title", "headline"),
    "url": ("url", "link"),
    "published": ("published_at", "date", "published", "pubdate", "datetime"),
    "source": ("source", "outlet", "publisher"),
    "external_id": ("id", "doc_id", "guid", "uuid"),
    "authors": ("authors", "author", "byline", "creator"),
    "site_name": ("site_name", "sitename", "site"),
    "description": ("description", "summary", "dek"),
    "image": ("image", "image_url", "top_image"),
    "tags": ("tags", "keywords", "categories"),
}


@dataclass(frozen=True)
class InputFile:
    """One file to read, with the source it belongs to."""

    path: Path
    source: str

    @property
    def file_id(self) -> str:
        """The id of a record that is a whole file: its absolute path. Two files are the same
        record only where they are the same file (read again, perhaps edited); the same name
        under two folders (`day1/bbc/001.txt`, `day2/bbc/001.txt`) is two records."""
        return self.path.resolve().as_posix()


@dataclass(frozen=True)
class Reject:
    """An input that could not become a record, with the reason and what was read."""

    source: str
    origin: str
    reason: str
    detail: str | None
    payload: str | None
    raw_hash: str | None = None  # the record's, when the input is one
    settings: str | None = None  # the clean settings that decided it, when they did


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM), falling back to Windows-1252 and then Latin-1.

    Legacy news text is overwhelmingly Western European; statistical detectors guess wrong on
    short texts (one took a Latin-1 pound sign for Shift-JIS), so the fallback is explicit.
    """
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            pass
    return data.decode("latin-1")


def discover(inputs: list[str], *, source: str | None = None) -> tuple[list[InputFile], list[Reject]]:
    """Expand files, directories (recursively) and globs into input files, in a stable order.

    Hidden files and folders are skipped; files of unknown format, entries that are not files
    (a dangling link, a pipe) and folders that cannot be read become rejects. An input that
    matches nothing is an error: the user most likely mistyped it.
    """
    files: list[InputFile] = []
    rejects: list[Reject] = []
    for given in inputs:
        matches = [Path(m) for m in sorted(glob.glob(given, recursive=True))] or [Path(given)]
        if not any(m.exists() or m.is_symlink() for m in matches):
            raise FileNotFoundError(f"input not found: {given!r} (give a file, a directory or a glob)")
        for match in matches:
            if match.is_dir():
                root, name = match, source or match.resolve().name
                candidates = _walk(match, name, rejects)
            else:
                root, name = match.parent, source or match.resolve().parent.name
                candidates = [match]
            for path in candidates:
                relative = path.relative_to(root).as_posix()
                if any(part.startswith(".") for part in Path(relative).parts):
                    continue
                if not path.is_file():
                    rejects.append(Reject(name, str(path), "not_a_file", _what(path), None))
                elif _format(path) in SUPPORTED:
                    files.append(InputFile(path, name))
                else:
                    rejects.append(Reject(name, str(path), "unsupported_format", f"extension {path.suffix!r}", None))
    unique = {f.path.resolve(): f for f in files}
    return list(unique.values()), rejects


def _walk(folder: Path, source: str, rejects: list[Reject]) -> list[Path]:
    """Every entry under a folder that is not a folder, in path order; folders that cannot be
    read become `unreadable_file` rejects."""

    def unreadable(error: OSError) -> None:
        if not any(part.startswith(".") for part in Path(error.filename).relative_to(folder).parts):
            rejects.append(Reject(source, str(error.filename), "unreadable_file", f"folder: {error.strerror}", None))

    found = []
    for top, dirs, names in os.walk(folder, onerror=unreadable):
        dirs.sort()
        found += [Path(top) / n for n in names]
    return sorted(found)


def _what(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return f"a link to {os.readlink(path)}, which does not exist"
    return "not a regular file (a pipe, a socket or a device)"


def _format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


class TooLarge(ValueError):
    """A file that is, or expands to, more than a run allows."""


def gunzip(data: bytes, *, limit: int) -> bytes:
    """The content of gzip data (every member), refusing to expand it beyond `limit` bytes."""
    out, rest = bytearray(), data
    while rest:
        stream = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out += stream.decompress(rest, limit + 1 - len(out))
        if len(out) > limit:
            raise TooLarge(f"expands to more than {limit:,} bytes")
        if not stream.eof:
            if stream.unconsumed_tail:
                raise TooLarge(f"expands to more than {limit:,} bytes")
            raise EOFError("the gzip data ends before its end marker (a truncated file)")
        rest = stream.unused_data
    return bytes(out)


def parse_file(file: InputFile, data: bytes, *, max_bytes: int) -> tuple[list[dict], list[Reject]]:
    """Parse the bytes of one input file into raw records (RAW rows) and rejects. A file that
    cannot be read as its format, or expands beyond `max_bytes`, is one reject naming it."""
    origin = str(file.path)
    try:
        if file.path.suffix.lower() == ".gz":
            data = gunzip(data, limit=max_bytes)
    except TooLarge as exc:
        return [], [Reject(file.source, origin, "too_large", f"gzip: {exc}", None)]
    except (OSError, EOFError, zlib.error) as exc:
        return [], [Reject(file.source, origin, "unreadable_file", f"gzip: {exc}", _show(data[:10_000]))]
    fmt = _format(file.path)
    if fmt in TEXT_FORMATS:
        record = {"source": file.source, "external_id": file.file_id, "origin": origin}
        return [record | {"kind": TEXT_FORMATS[fmt], "payload": data}], []
    try:
        rows = list(_structured_rows(fmt, data, max_field=max_bytes))
    except Exception as exc:  # a broken container (not a broken row) makes the whole file unreadable
        detail = f"{fmt}: {type(exc).__name__}: {exc}"
        return [], [Reject(file.source, origin, "unreadable_file", detail, _show(data[:10_000]))]
    records, rejects = [], []
    for n, row in rows:
        where = f"{origin}:{n}"
        if isinstance(row, Reject):
            rejects.append(Reject(file.source, where, row.reason, row.detail, row.payload))
            continue
        record = _map_fields(row, file.source, where)
        if isinstance(record, Reject):
            rejects.append(record)
        else:
            records.append(record)
    return records, rejects


def _structured_rows(fmt: str, data: bytes, *, max_field: int) -> Iterator[tuple[int, dict | Reject]]:
    if fmt in (".jsonl", ".ndjson"):
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(decode(line))
            except json.JSONDecodeError as exc:
                yield n, Reject("", "", "malformed_record", f"json: {exc}", _show(line))
                continue
            except RecursionError:
                yield n, Reject("", "", "malformed_record", "json: nested too deeply", _show(line[:10_000]))
                continue
            if isinstance(row, dict):
                yield n, row
            else:
                yield n, Reject("", "", "malformed_record", "json line is not an object", _show(line))
    elif fmt == ".csv":
        reader = csv.DictReader(io.StringIO(decode(data), newline=""))
        limit = csv.field_size_limit(max_field)  # the csv module's own limit is 128 KiB
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    yield reader.line_num, Reject("", "", "malformed_record", "csv row has extra cells", _show(row))
                else:
                    yield reader.line_num, row
        finally:
            csv.field_size_limit(limit)
    elif fmt == ".parquet":
        table = pq.read_table(io.BytesIO(data))
        for n, row in enumerate(table.to_pylist(), start=1):
            yield n, row


def _map_fields(row: dict, source: str, origin: str) -> dict | Reject:
    """Map a structured record's common field names onto RAW columns."""
    lowered = {str(k).strip().lower(): v for k, v in row.items()}
    found = {
        field: next((lowered[name] for name in names if lowered.get(name) not in (None, "")), None)
        for field, names in FIELDS.items()
    }
    text = found.pop("text")
    if text is None:
        return Reject(source, origin, "no_text", f"none of the fields {', '.join(FIELDS['text'])}", _show(row))
    if not isinstance(text, str):
        return Reject(source, origin, "malformed_record", "text field is not a string", _show(row))
    kind = "html" if "html" in lowered and lowered["html"] == text else "record"
    record = {
        k: None if v is None else "; ".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in found.items()
    }
    record["source"] = record["source"] or source
    return record | {"origin": origin, "kind": kind, "payload": text.encode("utf-8")}


def _show(payload: object) -> str:
    """The raw payload as text, for a reject row: bytes that are not UTF-8 are escaped, not lost."""
    if isinstance(payload, bytes):
        return payload.decode("utf-8", errors="backslashreplace")
    if isinstance(payload, dict):
        return json.dumps(payload, default=str, ensure_ascii=False)
    return str(payload)


def record_hash(record: dict) -> str:
    """A digest of everything a raw record holds, its identity included: equal digests mean
    the same record, delivered again unchanged."""
    digest = hashlib.blake2b(digest_size=12)
    for field in ("source", "external_id", "url", "title", "published", "kind"):
        digest.update(f"{record.get(field) or ''}\x1f".encode())
    digest.update(record["payload"])
    return digest.hexdigest()


def to_raw_table(records: list[dict]) -> pa.Table:
    """Build a RAW table from record dicts (missing optional fields become nulls)."""
    columns = {f.name: [r.get(f.name) for r in records] for f in RAW}
    return pa.Table.from_pydict(columns, schema=RAW)


def rejects_table(rejects: list[Reject], *, stage: str, run_id: str, day: date) -> pa.Table:
    """REJECTS rows (with their `date` partition, the run's day) for a list of rejects; what is
    not a record gets a digest of what was read as its `raw_hash`."""
    rows = [{"run_id": run_id, "stage": stage, "date": day} | dataclasses.asdict(r) for r in rejects]
    for row in rows:
        if row["raw_hash"] is None:
            digest = hashlib.blake2b(f"{row['origin']}\x1f{row['payload'] or ''}".encode(), digest_size=12)
            row["raw_hash"] = digest.hexdigest()
    return pa.Table.from_pylist(rows, schema=REJECTS.append(PARTITION))


@dataclass(frozen=True)
class IngestOutput:
    """The raw batches ingest staged, where it staged its rejects (those of reading, and the
    records rejected before under the same settings), and how many inputs it read."""

    batches: list[Batch]
    rejects: list[AnyPath]
    files: int
    records: int
    rejected: int
    skipped: int

    def summary(self) -> str:
        return (
            f"read {self.files} files: {self.records} records to process, {self.skipped} unchanged since an"
            f" earlier run, {self.rejected} rejected"
        )


@task(name="ingest", cache_policy=NO_CACHE)
def ingest_inputs(
    inputs: list[str],
    *,
    lake: Lake,
    source: str | None,
    run_id: str,
    day: date,
    batch_size: int,
    max_bytes: int,
    settings: str,
) -> IngestOutput:
    """Read every input file into raw record batches staged as Parquet.

    A record the lake already holds as a document, unchanged (same `raw_hash`), is counted as
    skipped and goes no further: a re-run on the same inputs costs a read of the files. One the
    lake holds as a reject of cleaning under the same clean `settings` is a reject again, with
    its reason, without being cleaned again.
    """
    files, rejects = discover(inputs, source=source)
    staging = lake.staging(run_id)
    batches: list[Batch] = []
    batch: list[dict] = []
    again: list[Reject] = []
    records = skipped = 0

    def flush() -> None:
        batches.append(staging.batch(f"{len(batches):05d}"))
        batches[-1].write("raw", to_raw_table(batch))
        batch.clear()

    for record, held, rejected in _against_lake(_read_records(files, rejects, max_bytes=max_bytes), lake, settings):
        if held:
            skipped += 1
        elif rejected is not None:
            again.append(dataclasses.replace(rejected, source=record["source"], payload=decode(record["payload"])))
        else:
            records += 1
            batch.append(record)
            if len(batch) >= batch_size:
                flush()
    if batch:
        flush()
    write_parquet(staging.rejects("ingest"), rejects_table(rejects, stage="ingest", run_id=run_id, day=day))
    write_parquet(staging.rejects("known"), rejects_table(again, stage="clean", run_id=run_id, day=day))
    paths = [staging.rejects("ingest"), staging.rejects("known")]
    return IngestOutput(batches, paths, len(files), records, len(rejects) + len(again), skipped)


def anything_new(inputs: list[str], *, lake: Lake, source: str | None, max_bytes: int, settings: str) -> bool:
    """Whether the inputs hold a record that `ingest_inputs` would clean, read (a few thousand
    records at a time) up to the first one: a run that finds none has nothing to clean or annotate."""
    files, _ = discover(inputs, source=source)
    records = _read_records(files, [], max_bytes=max_bytes)
    return any(not held and rejected is None for _, held, rejected in _against_lake(records, lake, settings))


def _against_lake(records: Iterator[dict], lake: Lake, settings: str) -> Iterator[tuple[dict, bool, Reject | None]]:
    """Each record, whether the lake holds it as a document (same `raw_hash`), and the reject of
    cleaning the lake holds of it under these clean settings, if any. The lake's key index is
    asked about `LOOKUP_RECORDS` records at a time, so that what this holds in memory grows with
    them, not with the lake. A lake with no index yet (written by an older version, until its
    next commit) is read once, from its documents."""
    rejected_before = _known_rejects(lake, settings)
    every = None if keys_complete(lake) else set(read_keys(lake, ["raw_hash"]).column("raw_hash").to_pylist())
    while chunk := list(itertools.islice(records, LOOKUP_RECORDS)):
        hashes = [record["raw_hash"] for record in chunk]
        held = every if every is not None else _held_hashes(lake, hashes)
        for record in chunk:
            yield record, record["raw_hash"] in held, rejected_before.get(record["raw_hash"])


def _held_hashes(lake: Lake, hashes: list[str]) -> set[str]:
    return set(read_keys(lake, ["raw_hash"], where={"raw_hash": hashes}).column("raw_hash").to_pylist())


def _known_rejects(lake: Lake, settings: str) -> dict[str, Reject]:
    """The records the lake holds as rejects of cleaning under these clean settings, by `raw_hash`."""
    columns = ["source", "origin", "reason", "detail", "raw_hash", "settings"]
    rows = read_table(lake, TABLES["rejects"], columns).filter(pc.field("settings") == settings)
    return {r["raw_hash"]: Reject(**r, payload=None) for r in rows.drop_columns("date").to_pylist()}


def _read_records(files: list[InputFile], rejects: list[Reject], *, max_bytes: int) -> Iterator[dict]:
    """The records of `files` in order, each with its `raw_hash`; what cannot be read or parsed,
    and files over `max_bytes`, are added to `rejects`."""
    for file in files:
        try:
            if (size := file.path.stat().st_size) > max_bytes:
                detail = f"{size:,} bytes, more than {max_bytes:,} (raise NEWSLAKE_MAX_FILE_MB to read it)"
                rejects.append(Reject(file.source, str(file.path), "too_large", detail, None))
                continue
            data = file.path.read_bytes()
        except OSError as exc:
            rejects.append(Reject(file.source, str(file.path), "unreadable_file", str(exc), None))
            continue
        found, rejected = parse_file(file, data, max_bytes=max_bytes)
        rejects.extend(rejected)
        for record in found:
            record["raw_hash"] = record_hash(record)
            yield record
