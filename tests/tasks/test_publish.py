import datetime
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import TABLES, Table
from tasks.publish import (
    COMMITS,
    PART_FILE,
    LakeBusy,
    check_lake,
    commit,
    lake_lock,
    lake_tables,
    read_manifest,
    read_partition,
    read_table,
    recover,
    stage_rows,
)

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]
VERSIONS = {"model": "m"}


def _sentences(rows: list[tuple[str, int, datetime.date]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"doc_id": d, "sent_id": s, "start_char": 0, "end_char": 5, "date": day} for d, s, day in rows],
        schema=SENTENCES.dataset_schema,
    )


def _keys(lake) -> list[tuple]:
    return sorted((r["doc_id"], r["sent_id"], r["date"]) for r in read_table(lake, SENTENCES).to_pylist())


def _files(lake) -> list[str]:
    return sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())


def _publish(lake, rows, commit_id, **kwargs) -> dict:
    staged = stage_rows(lake, SENTENCES, rows, commit_id=commit_id, **kwargs)
    commit(lake, commit_id, versions=VERSIONS)
    return staged


def test_publish_replaces_documents_across_partitions(tmp_path):
    _publish(tmp_path, _sentences([("a", 1, D1), ("a", 0, D1), ("b", 0, D1)]), "c1", replaced=["a", "b"])
    # document a moves to D2 with one sentence; b is untouched
    staged = _publish(tmp_path, _sentences([("a", 0, D2)]), "c2", replaced=["a"], days=[D1])
    assert staged == {D1: 1, D2: 1}
    assert _keys(tmp_path) == [("a", 0, D2), ("b", 0, D1)]
    assert _files(tmp_path) == [
        "sentences/_manifest.json",
        f"sentences/date={D1}/{PART_FILE}",
        f"sentences/date={D2}/{PART_FILE}",
    ]
    assert pq.read_schema(tmp_path / f"sentences/date={D1}/{PART_FILE}").remove_metadata().equals(SENTENCES.schema)
    assert read_manifest(tmp_path, "sentences")["last_commit"] == "c2"


def test_publish_rows_are_sorted_by_key_and_unchanged_partitions_are_not_rewritten(tmp_path):
    _publish(tmp_path, _sentences([("b", 0, D1), ("a", 1, D1), ("a", 0, D1)]), "c1", replaced=["a", "b"])
    assert [(r["doc_id"], r["sent_id"]) for r in read_partition(tmp_path, SENTENCES, D1).to_pylist()] == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
    ]
    path = tmp_path / f"sentences/date={D1}/{PART_FILE}"
    before = path.stat().st_mtime_ns
    assert (
        stage_rows(tmp_path, SENTENCES, _sentences([("a", 0, D1), ("a", 1, D1)]), commit_id="c2", replaced=["a"]) == {}
    )
    commit(tmp_path, "c2", versions=VERSIONS)
    assert path.stat().st_mtime_ns == before


def test_publish_removes_emptied_partitions(tmp_path):
    _publish(tmp_path, _sentences([("a", 0, D1)]), "c1", replaced=["a"])
    _publish(tmp_path, _sentences([]), "c2", replaced=["a"], days=[D1])
    assert not (tmp_path / "sentences" / f"date={D1}").exists()
    assert read_table(tmp_path, SENTENCES).num_rows == 0


def test_publish_refuses_rows_that_do_not_fit_the_schema(tmp_path):
    with pytest.raises(KeyError):
        stage_rows(tmp_path, SENTENCES, pa.table({"doc_id": ["a"], "date": [D1]}), commit_id="c", replaced=["a"])
    assert not (tmp_path / "sentences").exists()


def test_publish_nothing_is_visible_before_commit_and_recover_drops_uncommitted_work(tmp_path):
    _publish(tmp_path, _sentences([("a", 0, D1)]), "c1", replaced=["a"])
    before = _files(tmp_path)
    stage_rows(tmp_path, SENTENCES, _sentences([("b", 0, D1), ("c", 0, D2)]), commit_id="c2", replaced=["b", "c"])
    assert _keys(tmp_path) == [("a", 0, D1)]  # a reader sees the old lake
    assert recover(tmp_path) == []  # the run stopped before its commit: its staged files go
    assert _files(tmp_path) == before


def test_publish_recover_finishes_a_commit_that_stopped_half_way(tmp_path):
    _publish(tmp_path, _sentences([("a", 0, D1)]), "c1", replaced=["a"])
    stage_rows(
        tmp_path, SENTENCES, _sentences([("a", 0, D2), ("b", 0, D2)]), commit_id="c2", replaced=["a", "b"], days=[D1]
    )
    marker = tmp_path / COMMITS / "c2.json"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"commit_id": "c2", "versions": VERSIONS}))
    # the process died after the marker and after the first rename, before the rest
    pending = sorted(tmp_path.glob("sentences/date=*/.*.pending"))
    os.replace(pending[0], pending[0].with_name(PART_FILE))
    assert recover(tmp_path) == ["c2"]
    assert _keys(tmp_path) == [("a", 0, D2), ("b", 0, D2)]
    assert not marker.exists() and not list(tmp_path.rglob(".*"))
    assert read_manifest(tmp_path, "sentences")["rows"] == 2


def test_publish_reads_old_partitions_after_an_additive_schema_change(tmp_path):
    version_2 = Table(
        "notes",
        pa.schema([pa.field("doc_id", pa.string(), nullable=False), ("note", pa.string())]),
        ("doc_id",),
        "doc_id",
    )
    path = tmp_path / f"notes/date={D1}/{PART_FILE}"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.table({"doc_id": pa.array(["a"])}), path)  # written before `note` existed
    old = read_partition(tmp_path, version_2, D1)
    assert old.schema == version_2.schema and old.column("note").to_pylist() == [None]


def test_publish_manifest_lists_files_rows_and_inputs(tmp_path):
    _publish(tmp_path, _sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    manifest = read_manifest(tmp_path, "sentences")
    assert manifest["rows"] == 2 and set(manifest["files"]) == {f"date={D1}/{PART_FILE}", f"date={D2}/{PART_FILE}"}
    assert manifest["versions"] == VERSIONS and len(manifest["inputs_fingerprint"]) == 24
    assert [t.name for t in lake_tables(tmp_path)] == ["sentences"]


def test_publish_lock_refuses_a_live_holder_and_recovers_a_stale_one(tmp_path):
    with lake_lock(tmp_path, "first"), pytest.raises(LakeBusy, match="in use by run first"), lake_lock(tmp_path, "x"):
        pass
    assert not (tmp_path / "_lock").exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / "_lock").write_text(
        json.dumps({"run_id": "killed", "pid": int(dead.stdout), "host": os.uname().nodename})
    )
    with lake_lock(tmp_path, "second"):
        assert json.loads((tmp_path / "_lock").read_text())["run_id"] == "second"


def test_publish_check_finds_what_makes_a_lake_unsound(tmp_path):
    _publish(tmp_path, _sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    assert check_lake(tmp_path) == []
    d1, d2 = (tmp_path / f"sentences/date={day}/{PART_FILE}" for day in (D1, D2))
    pq.write_table(_sentences([("a", 0, D1), ("a", 0, D1)]).drop(["date"]).cast(SENTENCES.schema), d1)
    d2.unlink()
    stray = tmp_path / "sentences/date=2025-03-03" / PART_FILE
    stray.parent.mkdir()
    pq.write_table(pa.table({"doc_id": ["c"], "sent_id": pa.array([0], pa.int64())}), stray)
    (tmp_path / COMMITS).mkdir()
    (tmp_path / COMMITS / "c9.json").write_text("{}")
    problems = check_lake(tmp_path)
    assert problems[0] == "commit c9 is not finished: the next run completes it"
    assert "sentences: date=2025-03-03/part-0.parquet is not in the manifest" in problems
    assert f"sentences: date={D2}/part-0.parquet is in the manifest but missing" in problems
    assert f"sentences: date={D1}/part-0.parquet has 2 rows, the manifest says 1" in problems
    assert "sentences: date=2025-03-03/part-0.parquet column sent_id int64 is not in the schema" in problems
    assert "sentences: date=2025-03-03/part-0.parquet lacks the required column start_char" in problems
    assert "sentences: 2 rows repeat a key ('doc_id', 'sent_id')" in problems


def test_publish_recover_rewrites_manifests_when_the_renames_were_all_done(tmp_path):
    stage_rows(tmp_path, SENTENCES, _sentences([("a", 0, D1)]), commit_id="c1", replaced=["a"])
    marker = tmp_path / COMMITS / "c1.json"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"commit_id": "c1", "versions": VERSIONS}))
    for pending in tmp_path.glob("sentences/date=*/.*.pending"):
        os.replace(pending, pending.with_name(PART_FILE))  # every rename done, then the process died
    assert check_lake(tmp_path)[:2] == [
        "commit c1 is not finished: the next run completes it",
        "sentences: no _manifest.json",
    ]
    assert recover(tmp_path) == ["c1"]
    assert check_lake(tmp_path) == []
