import csv
import gzip
import io
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newslake.tasks.clean import parse_published
from newslake.tasks.ingest import InputFile, discover, parse_file, to_raw_table

MAX = 1 << 20  # bytes a file may hold or expand to


def _file(tmp_path, name: str, data: bytes, source: str = "test") -> InputFile:
    path = tmp_path / name
    path.write_bytes(data)
    return InputFile(path, source)


def test_ingest_discover_walks_dirs_and_globs_and_rejects_unknown_formats(tmp_path):
    (tmp_path / "feed" / "deep").mkdir(parents=True)
    (tmp_path / "feed" / "a.txt").write_text("x")
    (tmp_path / "feed" / "deep" / "b.JSONL.gz").write_bytes(b"")
    (tmp_path / "feed" / "photo.jpg").write_bytes(b"\xff")
    (tmp_path / "feed" / ".hidden.txt").write_text("x")
    files, rejects = discover([str(tmp_path / "feed"), str(tmp_path / "feed" / "*.txt")])
    assert [f.path.relative_to(tmp_path / "feed").as_posix() for f in files] == ["a.txt", "deep/b.JSONL.gz"]
    assert {f.source for f in files} == {"feed"}
    assert [(r.reason, r.origin.endswith("photo.jpg")) for r in rejects] == [("unsupported_format", True)]


def test_ingest_discover_fails_clearly_on_a_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        discover([str(tmp_path / "nope")])


def test_ingest_jsonl_maps_fields_and_rejects_bad_lines(tmp_path):
    lines = [
        json.dumps({"id": 7, "headline": "H", "body": "Some text", "date": "2024-05-01", "link": "http://x/1"}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"title": "no text here"}),
        "",
        json.dumps({"content": "c", "source": "wire"}),
    ]
    records, rejects = parse_file(
        _file(tmp_path, "f.jsonl", "\n".join(lines).encode()),
        b"\n".join(line.encode() for line in lines),
        max_bytes=MAX,
    )
    assert [(r["external_id"], r["title"], r["url"], r["published"], r["source"]) for r in records] == [
        ("7", "H", "http://x/1", "2024-05-01", "test"),
        (None, None, None, None, "wire"),
    ]
    assert records[0]["payload"] == b"Some text"
    assert [(r.reason, r.origin.rsplit(":", 1)[1]) for r in rejects] == [
        ("malformed_record", "2"),
        ("malformed_record", "3"),
        ("no_text", "4"),
    ]
    assert rejects[0].payload == "{not json"


def test_ingest_csv_and_parquet_records(tmp_path):
    csv_bytes = b"id,title,text\n1,T,Body one\n2,U,Body two,extra\n"
    records, rejects = parse_file(_file(tmp_path, "f.csv", csv_bytes), csv_bytes, max_bytes=MAX)
    assert [r["payload"] for r in records] == [b"Body one"]
    assert [r.reason for r in rejects] == ["malformed_record"]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["a", "b"], "url": ["u1", None]}), buffer)
    records, rejects = parse_file(_file(tmp_path, "f.parquet", buffer.getvalue()), buffer.getvalue(), max_bytes=MAX)
    assert [(r["payload"], r["url"]) for r in records] == [(b"a", "u1"), (b"b", None)]
    assert rejects == []


def test_ingest_gzip_text_and_corrupt_gzip(tmp_path):
    data = gzip.compress(b"Title\n\nBody")
    records, _ = parse_file(_file(tmp_path, "a.txt.gz", data), data, max_bytes=MAX)
    assert records[0]["kind"] == "txt" and records[0]["payload"] == b"Title\n\nBody"
    records, rejects = parse_file(_file(tmp_path, "b.jsonl.gz", b"not gzip"), b"not gzip", max_bytes=MAX)
    assert records == [] and rejects[0].reason == "unreadable_file"


def test_ingest_raw_table_keeps_bytes():
    table = to_raw_table([{"source": "s", "origin": "o", "kind": "txt", "payload": b"\xa3"}])
    assert table.column("payload").to_pylist() == [b"\xa3"]
    assert table.column("title").null_count == 1


@pytest.mark.parametrize(
    ("name", "data", "reason", "detail"),
    [
        ("empty.parquet", b"", "unreadable_file", ".parquet"),
        ("junk.parquet", b"PAR1 this is not a parquet file PAR1", "unreadable_file", ".parquet"),
        ("deep.jsonl", b"[" * 100_000 + b"]" * 100_000, "malformed_record", "nested too deeply"),
        ("truncated.jsonl.gz", gzip.compress(b'{"text": "a"}\n' * 1000)[:-20], "unreadable_file", "truncated"),
        ("bomb.jsonl.gz", gzip.compress(b" " * (3 << 20)), "too_large", "expands to more than"),
    ],
)
def test_ingest_a_broken_or_oversized_file_is_one_named_reject(tmp_path, name, data, reason, detail):
    file = _file(tmp_path, name, data)
    records, rejects = parse_file(file, data, max_bytes=MAX)
    assert records == [] and [(r.reason, r.origin.split(":")[0]) for r in rejects] == [(reason, str(file.path))]
    assert detail in rejects[0].detail


def test_ingest_truncated_parquet_is_a_reject(tmp_path):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["a" * 1000] * 100}), buffer)
    data = buffer.getvalue()[: len(buffer.getvalue()) // 2]
    records, rejects = parse_file(_file(tmp_path, "half.parquet", data), data, max_bytes=MAX)
    assert records == [] and [r.reason for r in rejects] == ["unreadable_file"]


def test_ingest_csv_reads_fields_over_the_csv_module_limit_and_legacy_encodings(tmp_path):
    long = "word " * 40_000  # 200 kB, over csv's own 128 KiB field limit
    data = f"id,text\n1,{long}\n2,a \xa315.8m signing\n".encode("latin-1")
    records, rejects = parse_file(_file(tmp_path, "f.csv", data), data, max_bytes=MAX)
    assert rejects == [] and len(records[0]["payload"]) == len(long)
    assert records[1]["payload"].decode() == "a £15.8m signing"
    assert csv.field_size_limit() == 128 * 1024  # the module's limit is left as it was


def test_ingest_jsonl_in_a_legacy_encoding_keeps_its_characters(tmp_path):
    data = '{"text": "a £15.8m signing"}\n'.encode("cp1252")
    records, _ = parse_file(_file(tmp_path, "f.jsonl", data), data, max_bytes=MAX)
    assert records[0]["payload"].decode() == "a £15.8m signing"


def test_ingest_discover_rejects_what_is_not_a_file(tmp_path):
    folder = tmp_path / "feed"
    folder.mkdir()
    (folder / "a.txt").write_text("x")
    (folder / "gone.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(folder / "pipe.txt")
    files, rejects = discover([str(folder)])
    assert [f.path.name for f in files] == ["a.txt"]
    assert sorted((Path(r.origin).name, r.reason) for r in rejects) == [
        ("gone.txt", "not_a_file"),
        ("pipe.txt", "not_a_file"),
    ]


SUFFIXES = [".jsonl", ".ndjson", ".csv", ".parquet", ".txt", ".html", ".jsonl.gz", ".csv.gz", ".parquet.gz"]
values = st.one_of(st.none(), st.text(max_size=40), st.integers(), st.floats(), st.booleans(), st.lists(st.integers()))
json_rows = st.dictionaries(st.sampled_from(["id", "text", "body", "title", "date", "url", "source", "x"]), values)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_ingest_parse_file_turns_any_bytes_into_records_or_rejects_naming_the_file(data, suffix):
    file = InputFile(Path(f"/in/feed/f{suffix}"), "test")
    records, rejects = parse_file(file, data, max_bytes=MAX)
    assert all(r.reason and r.origin.split(":")[0] == str(file.path) for r in rejects)
    assert all(isinstance(r["payload"], bytes) and r["origin"].startswith(str(file.path)) for r in records)
    to_raw_table(records)  # every record fits the RAW schema


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.one_of(json_rows, st.text(max_size=30)), max_size=20))
def test_ingest_jsonl_accounts_for_every_line(rows):
    lines = [json.dumps(r) if isinstance(r, dict) else r.replace("\n", " ").replace("\r", " ") for r in rows]
    data = "\n".join(lines).encode()
    records, rejects = parse_file(InputFile(Path("/in/f.jsonl"), "test"), data, max_bytes=MAX)
    assert len(records) + len(rejects) == len([line for line in data.splitlines() if line.strip()])
    # the first of the text fields that is present decides: a non-empty string makes a record
    first = [
        next((r[k] for k in ("text", "body") if r.get(k) not in (None, "")), None) for r in rows if isinstance(r, dict)
    ]
    kept = [t for t in first if isinstance(t, str)]
    assert len(records) == len(kept)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.text(max_size=40), st.datetimes(timezones=st.timezones()).map(str)))
def test_clean_parse_published_is_a_time_none_or_a_value_error(value):
    try:
        parsed = parse_published(value)
    except ValueError:
        return
    assert parsed is None or parsed.tzinfo is not None
