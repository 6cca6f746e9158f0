import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newslake.schemas import TABLES, Table
from newslake.tasks.lake import Lake, commit, read_manifest, read_partition, read_table, stage_rows

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]
VERSIONS = {"model": "m"}


def test_partitions_replaces_documents_across_partitions(tmp_path, sentences, publish, keys, files):
    publish(tmp_path, sentences([("a", 1, D1), ("a", 0, D1), ("b", 0, D1)]), "c1", replaced=["a", "b"])
    # document a moves to D2 with one sentence; b is untouched
    staged = publish(tmp_path, sentences([("a", 0, D2)]), "c2", replaced=["a"], days=[D1])
    assert staged == [D1, D2]
    assert keys(tmp_path) == [("a", 0, D2), ("b", 0, D1)]
    assert [f for f in files(tmp_path) if f.startswith("sentences/")] == [
        "sentences/_manifest.json",
        f"sentences/date={D1}/part-c1.parquet",  # rewritten without a's rows
        f"sentences/date={D2}/part-c2.parquet",  # added
    ]
    assert pq.read_schema(tmp_path / f"sentences/date={D1}/part-c1.parquet").remove_metadata().equals(SENTENCES.schema)
    assert read_manifest(Lake.at(tmp_path), "sentences")["last_commit"] == "c2"


def test_partitions_rows_are_sorted_by_key_and_unchanged_partitions_are_not_rewritten(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("b", 0, D1), ("a", 1, D1), ("a", 0, D1)]), "c1", replaced=["a", "b"])
    assert [(r["doc_id"], r["sent_id"]) for r in read_partition(Lake.at(tmp_path), SENTENCES, D1).to_pylist()] == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
    ]
    path = tmp_path / f"sentences/date={D1}/part-c1.parquet"
    before = path.stat().st_mtime_ns
    assert (
        stage_rows(
            Lake.at(tmp_path), SENTENCES, sentences([("a", 0, D1), ("a", 1, D1)]), commit_id="c2", replaced=["a"]
        )
        == []
    )
    commit(Lake.at(tmp_path), "c2", versions=VERSIONS)
    assert path.stat().st_mtime_ns == before


def test_partitions_removes_emptied_partitions(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("a", 0, D1)]), "c1", replaced=["a"])
    publish(tmp_path, sentences([]), "c2", replaced=["a"], days=[D1])
    assert not (tmp_path / "sentences" / f"date={D1}").exists()
    assert read_table(Lake.at(tmp_path), SENTENCES).num_rows == 0


def test_partitions_refuses_rows_that_do_not_fit_the_schema(tmp_path):
    with pytest.raises(KeyError):
        stage_rows(
            Lake.at(tmp_path), SENTENCES, pa.table({"doc_id": ["a"], "date": [D1]}), commit_id="c", replaced=["a"]
        )
    assert not (tmp_path / "sentences").exists()


def test_partitions_reads_old_partitions_after_an_additive_schema_change(tmp_path):
    version_2 = Table(
        "notes",
        pa.schema([pa.field("doc_id", pa.string(), nullable=False), ("note", pa.string())]),
        ("doc_id",),
        "doc_id",
    )
    path = tmp_path / f"notes/date={D1}/part-c1.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": pa.array(["a"])}), path)  # written before `note` existed
    old = read_partition(Lake.at(tmp_path), version_2, D1)
    assert old.schema == version_2.schema and old.column("note").to_pylist() == [None]


def test_partitions_a_commit_adds_a_file_and_rewrites_only_files_with_replaced_rows(
    tmp_path, sentences, publish, files
):
    publish(tmp_path, sentences([("a", 0, D1)]), "c1", replaced=["a"])
    publish(tmp_path, sentences([("b", 0, D1)]), "c2", replaced=["b"])
    first, second = tmp_path / f"sentences/date={D1}/part-c1.parquet", tmp_path / f"sentences/date={D1}/part-c2.parquet"
    assert first.exists() and second.exists()
    untouched = first.stat().st_mtime_ns
    publish(tmp_path, sentences([("b", 0, D1), ("b", 1, D1)]), "c3", replaced=["b"])  # b edited: its file only
    assert first.stat().st_mtime_ns == untouched
    assert [r["doc_id"] for r in pq.read_table(second).to_pylist()] == ["b", "b"]
    assert [(r["doc_id"], r["sent_id"]) for r in read_partition(Lake.at(tmp_path), SENTENCES, D1).to_pylist()] == [
        ("a", 0),
        ("b", 0),
        ("b", 1),
    ]
    assert read_manifest(Lake.at(tmp_path), "sentences")["files"] == {
        f"date={D1}/part-c1.parquet": 1,
        f"date={D1}/part-c2.parquet": 2,
    }
    publish(tmp_path, sentences([]), "c4", replaced=["a"], days=[D1])  # a's file goes with its last row
    assert not first.exists() and [f for f in files(tmp_path) if f.startswith(f"sentences/date={D1}")] == [
        f"sentences/date={D1}/part-c2.parquet"
    ]
