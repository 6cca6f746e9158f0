import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newslake.tasks.ingest import InputFile, discover, missing_inputs, parse_file, to_raw_table


def _file(tmp_path, name: str, data: bytes, source: str = "test") -> InputFile:
    path = tmp_path / name
    path.write_bytes(data)
    return InputFile(path, source, name)


def test_ingest_discover_walks_dirs_and_globs_and_rejects_unknown_formats(tmp_path):
    (tmp_path / "feed" / "deep").mkdir(parents=True)
    (tmp_path / "feed" / "a.txt").write_text("x")
    (tmp_path / "feed" / "deep" / "b.JSONL.gz").write_bytes(b"")
    (tmp_path / "feed" / "photo.jpg").write_bytes(b"\xff")
    (tmp_path / "feed" / ".hidden.txt").write_text("x")
    files, rejects = discover([str(tmp_path / "feed"), str(tmp_path / "feed" / "*.txt")])
    assert [f.relative for f in files] == ["a.txt", "deep/b.JSONL.gz"]
    assert {f.source for f in files} == {"feed"}
    assert [(r.reason, r.origin.endswith("photo.jpg")) for r in rejects] == [("unsupported_format", True)]


def test_ingest_discover_fails_clearly_on_a_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="input not found"):
        discover([str(tmp_path / "nope")])
    assert missing_inputs([str(tmp_path / "nope"), str(tmp_path)]) == [str(tmp_path / "nope")]


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
        _file(tmp_path, "f.jsonl", "\n".join(lines).encode()), b"\n".join(line.encode() for line in lines)
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
    records, rejects = parse_file(_file(tmp_path, "f.csv", csv_bytes), csv_bytes)
    assert [r["payload"] for r in records] == [b"Body one"]
    assert [r.reason for r in rejects] == ["malformed_record"]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["a", "b"], "url": ["u1", None]}), buffer)
    records, rejects = parse_file(_file(tmp_path, "f.parquet", buffer.getvalue()), buffer.getvalue())
    assert [(r["payload"], r["url"]) for r in records] == [(b"a", "u1"), (b"b", None)]
    assert rejects == []


def test_ingest_gzip_text_and_corrupt_gzip(tmp_path):
    data = gzip.compress(b"Title\n\nBody")
    records, _ = parse_file(_file(tmp_path, "a.txt.gz", data), data)
    assert records[0]["kind"] == "txt" and records[0]["payload"] == b"Title\n\nBody"
    records, rejects = parse_file(_file(tmp_path, "b.jsonl.gz", b"not gzip"), b"not gzip")
    assert records == [] and rejects[0].reason == "unreadable_file"


def test_ingest_raw_table_keeps_bytes():
    table = to_raw_table([{"source": "s", "origin": "o", "kind": "txt", "payload": b"\xa3"}])
    assert table.column("payload").to_pylist() == [b"\xa3"]
    assert table.column("title").null_count == 1
