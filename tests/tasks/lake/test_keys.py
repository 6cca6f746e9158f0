import datetime
import hashlib
import json
import shutil

import pyarrow as pa

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, check_lake, commit, read_keys, read_table, recover, stage_rows

DOCUMENTS = TABLES["documents"]
MARCH, APRIL = datetime.date(2025, 3, 31), datetime.date(2025, 4, 1)


def _documents(rows: list[tuple[str, str, datetime.date]]) -> pa.Table:
    """`documents` rows from (doc_id, content_hash, day)."""
    now = datetime.datetime(2025, 4, 2, tzinfo=datetime.UTC)
    required = {"source": "wire", "origin": "wire.jsonl", "date_source": "published", "lang": "en", "text": "t"}
    return pa.Table.from_pylist(
        [
            required | {"doc_id": d, "content_hash": h, "raw_hash": f"raw-{d}-{h}", "n_words": 1, "date": day}
            | {"ingested_at": now, "run_id": "r"}
            for d, h, day in rows
        ],
        schema=DOCUMENTS.dataset_schema,
    )  # fmt: skip


def _publish(lake: Lake, rows: pa.Table, commit_id: str, *, replaced=(), days=()) -> None:
    stage_rows(lake, DOCUMENTS, rows, commit_id=commit_id, replaced=replaced, days=days)
    commit(lake, commit_id, versions={})


def _index_problems(lake: Lake) -> list[str]:
    return [p for p in check_lake(lake) if "key index" in p]  # the documents here have no annotations


def _indexed(lake: Lake) -> list[dict]:
    return sorted(read_keys(lake, ["doc_id", "content_hash"]).to_pylist(), key=lambda r: r["doc_id"])


def _held(lake: Lake) -> list[dict]:
    rows = read_table(lake, DOCUMENTS, ["doc_id", "content_hash"]).to_pylist()
    return sorted(rows, key=lambda r: r["doc_id"])


def _index_files(lake: Lake) -> list[str]:
    return [p.relative_to(lake.keys_dir).as_posix() for p in lake.keys_files()]


def test_keys_follow_every_commit_of_documents_a_file_a_month_and_commit(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    _publish(lake, _documents([("a", "h1", MARCH), ("b", "h2", APRIL)]), "c1")
    assert _index_files(lake) == ["month=2025-03/part-c1.parquet", "month=2025-04/part-c1.parquet"]
    assert _indexed(lake) == _held(lake) and len(_held(lake)) == 2
    # `a` edited and moved to April: March is written again (without it), April gets a file.
    _publish(lake, _documents([("a", "h3", APRIL)]), "c2", replaced=["a"], days=[MARCH])
    assert _index_files(lake) == ["month=2025-04/part-c1.parquet", "month=2025-04/part-c2.parquet"]
    assert (
        _indexed(lake)
        == _held(lake)
        == [
            {"doc_id": "a", "content_hash": "h3", "date": APRIL},
            {"doc_id": "b", "content_hash": "h2", "date": APRIL},
        ]
    )
    assert read_keys(lake, ["doc_id"], where={"doc_id": ["b", "z"]}).to_pylist() == [{"doc_id": "b", "date": APRIL}]
    either = read_keys(lake, ["doc_id", "content_hash"], where={"doc_id": ["z"], "content_hash": ["h3"]})
    assert either.to_pylist() == [{"doc_id": "a", "content_hash": "h3", "date": APRIL}]
    assert read_keys(lake, ["doc_id"], where={"doc_id": []}).num_rows == 0
    assert _index_problems(lake) == []


def test_keys_of_a_lake_without_an_index_are_read_from_documents_until_a_commit_writes_it(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    _publish(lake, _documents([("a", "h1", MARCH)]), "c1")
    shutil.rmtree(lake.keys_dir)  # as a lake written by an older version
    assert _indexed(lake) == _held(lake) and not lake.keys_dir.exists()  # a reader writes nothing
    _publish(lake, _documents([("b", "h2", APRIL)]), "c2")
    assert lake.keys_complete.exists() and len(lake.keys_files()) == 2 and _indexed(lake) == _held(lake)


def test_keys_an_index_of_an_older_layout_is_written_again(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    _publish(lake, _documents([("a", "h1", MARCH)]), "c1")
    shutil.rmtree(lake.keys_dir)
    lake.keys_dir.mkdir()
    shutil.copy(lake.partition_files("documents")[0], lake.keys_dir / "month=2025-03.parquet")
    lake.keys_complete.write_text("")  # a file a month, as the first index was
    assert _indexed(lake) == _held(lake)
    _publish(lake, _documents([("b", "h2", MARCH)]), "c2")
    assert _index_files(lake) == ["month=2025-03/part-c2.parquet"] and _indexed(lake) == _held(lake)
    assert not (lake.keys_dir / "month=2025-03.parquet").exists()


def test_keys_a_month_of_many_commits_is_merged_by_size_tier(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    for n in range(12):
        _publish(lake, _documents([(f"d{n}", "h", MARCH)]), f"c{n:02d}")
    # ten files of one row merged into one, then two more
    assert _index_files(lake) == [
        f"month=2025-03/{name}" for name in ("part-c09-1.parquet", "part-c10.parquet", "part-c11.parquet")
    ]
    assert _indexed(lake) == _held(lake) and _index_problems(lake) == []


def test_keys_a_stopped_commit_is_finished_with_its_index_and_a_stale_index_is_found(tmp_path):
    lake = Lake.at(tmp_path / "lake")
    _publish(lake, _documents([("a", "h1", MARCH)]), "c1")
    stage_rows(lake, DOCUMENTS, _documents([("b", "h2", MARCH)]), commit_id="c2")
    lake.commit_marker("c2").parent.mkdir(parents=True, exist_ok=True)
    lake.commit_marker("c2").write_text('{"commit_id": "c2", "versions": {}}\n')  # marked, not applied
    assert recover(lake) == ["c2"]
    assert [r["doc_id"] for r in _indexed(lake)] == ["a", "b"] and _index_problems(lake) == []
    _publish(lake, _documents([("c", "h3", MARCH)]), "c3")
    lake.keys_files()[-1].unlink()  # the file of c3's keys lost
    assert _index_problems(lake)


def test_keys_a_commit_that_leaves_documents_alone_keeps_the_inputs_fingerprint(tmp_path):
    from newslake.tasks.lake import read_manifest
    from newslake.tasks.lake.keys import inputs_fingerprint

    lake = Lake.at(tmp_path / "lake")
    _publish(lake, _documents([("a", "h1", MARCH)]), "c1")
    held = read_manifest(lake, "documents")["inputs_fingerprint"]
    sentences = TABLES["sentences"]
    row = {"doc_id": "a", "sent_id": 0, "start_char": 0, "end_char": 1, "date": MARCH}
    stage_rows(lake, sentences, pa.Table.from_pylist([row], schema=sentences.dataset_schema), commit_id="c2")
    commit(lake, "c2", versions={})
    assert read_manifest(lake, "sentences")["inputs_fingerprint"] == held == inputs_fingerprint(lake)
    _publish(lake, _documents([("b", "h2", MARCH)]), "c3")
    assert read_manifest(lake, "documents")["inputs_fingerprint"] == inputs_fingerprint(lake) != held
    md5 = [hashlib.md5(line.encode()).digest() for line in ("a:h1", "b:h2")]  # the digest, spelled out
    assert inputs_fingerprint(lake) == f"{int.from_bytes(md5[0], 'little') ^ int.from_bytes(md5[1], 'little'):032x}"


def test_keys_each_commit_changes_the_inputs_fingerprint_by_what_it_adds_and_removes(tmp_path):
    """A commit reads only the documents files it adds and removes for the new fingerprint, which
    is the one computed from every document, through additions, edits, moves and removals."""
    from newslake.tasks.lake import compact, read_manifest
    from newslake.tasks.lake.keys import inputs_fingerprint

    lake = Lake.at(tmp_path / "lake")
    steps = [
        ("c1", [("a", "h1", MARCH), ("b", "h2", MARCH)], (), ()),
        ("c2", [("c", "h3", APRIL)], (), ()),
        ("c3", [("a", "h4", APRIL)], ["a"], [MARCH]),  # edited, and moved a day
        ("c4", [("b", "h2", MARCH)], ["b"], [MARCH]),  # the same again: no change
        ("c5", [], ["c"], [APRIL]),  # removed
    ]
    fingerprints = []
    for commit_id, rows, replaced, days in steps:
        _publish(lake, _documents(rows), commit_id, replaced=replaced, days=days)
        fingerprints.append(read_manifest(lake, "documents")["inputs_fingerprint"])
        assert fingerprints[-1] == inputs_fingerprint(lake), commit_id
    assert fingerprints[3] == fingerprints[2] != fingerprints[4]
    compact(lake, commit_id="c6")
    assert read_manifest(lake, "documents")["inputs_fingerprint"] == fingerprints[-1]
    md5 = [hashlib.md5(line.encode()).digest() for line in ("a:h4", "b:h2")]
    assert fingerprints[-1] == f"{int.from_bytes(md5[0], 'little') ^ int.from_bytes(md5[1], 'little'):032x}"
    assert not [p for p in check_lake(lake) if "fingerprint" in p]
    held = read_manifest(lake, "documents")
    held["inputs_fingerprint"] = "0" * 32
    lake.manifest_file("documents").write_text(json.dumps(held))
    assert [p for p in check_lake(lake) if "inputs fingerprint" in p]
