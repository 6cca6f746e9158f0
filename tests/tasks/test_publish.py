import datetime
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas import TABLES
from tasks.publish import (
    PART_FILE,
    LakeBusy,
    lake_lock,
    lake_tables,
    read_table,
    replace_rows,
    write_manifest,
)

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]


def _sentences(rows: list[tuple[str, int, datetime.date]]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"doc_id": d, "sent_id": s, "start_char": 0, "end_char": 5, "date": day} for d, s, day in rows],
        schema=SENTENCES.dataset_schema,
    )


def _keys(lake) -> list[tuple]:
    return sorted((r["doc_id"], r["sent_id"], r["date"]) for r in read_table(lake, SENTENCES).to_pylist())


def test_publish_replace_rows_upserts_by_document_across_partitions(tmp_path):
    replace_rows(tmp_path, SENTENCES, _sentences([("a", 0, D1), ("a", 1, D1), ("b", 0, D1)]), replaced=["a", "b"])
    # document a moves to D2 with one sentence; b is untouched
    written = replace_rows(tmp_path, SENTENCES, _sentences([("a", 0, D2)]), replaced=["a"], days=[D1])
    assert written == {D1: 1, D2: 1}
    assert _keys(tmp_path) == [("a", 0, D2), ("b", 0, D1)]
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"sentences/date={D1}/{PART_FILE}", f"sentences/date={D2}/{PART_FILE}"]
    assert pq.read_schema(tmp_path / files[0]).remove_metadata().equals(SENTENCES.schema)


def test_publish_replace_rows_removes_emptied_partitions(tmp_path):
    replace_rows(tmp_path, SENTENCES, _sentences([("a", 0, D1)]), replaced=["a"])
    replace_rows(tmp_path, SENTENCES, _sentences([]), replaced=["a"], days=[D1])
    assert not (tmp_path / "sentences" / f"date={D1}").exists()
    assert read_table(tmp_path, SENTENCES).num_rows == 0


def test_publish_refuses_rows_that_do_not_fit_the_schema(tmp_path):
    bad = pa.table({"doc_id": ["a"], "date": [D1]})
    with pytest.raises(KeyError):
        replace_rows(tmp_path, SENTENCES, bad, replaced=["a"])
    assert not (tmp_path / "sentences").exists()


def test_publish_manifest_lists_files_and_rows(tmp_path):
    replace_rows(tmp_path, SENTENCES, _sentences([("a", 0, D1), ("b", 0, D2)]), replaced=["a", "b"])
    manifest = write_manifest(tmp_path, SENTENCES, run_id="r1", versions={"model": "m"})
    on_disk = json.loads((tmp_path / "sentences" / "_manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["rows"] == 2 and set(manifest["files"]) == {f"date={D1}/{PART_FILE}", f"date={D2}/{PART_FILE}"}
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
