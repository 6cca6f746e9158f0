import datetime
import json

import pyarrow as pa
import pytest

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, lake_tables, read_manifest

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
VERSIONS = {"model": "m"}


def test_manifests_manifest_lists_files_rows_and_inputs(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    manifest = read_manifest(Lake.at(tmp_path), "sentences")
    assert manifest["rows"] == 2 and set(manifest["files"]) == {
        f"date={D1}/part-c1.parquet",
        f"date={D2}/part-c1.parquet",
    }
    assert manifest["versions"] == VERSIONS and len(manifest["inputs_fingerprint"]) == 32
    assert [t.name for t in lake_tables(Lake.at(tmp_path))] == list(TABLES)  # every declared table, from the first
    assert read_manifest(Lake.at(tmp_path), "tokens")["rows"] == 0


def test_manifests_a_commit_reads_again_only_the_files_it_changed(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    lake = Lake.at(tmp_path)
    held = read_manifest(lake, "sentences")
    held["files"][f"date={D1}/part-c1.parquet"] = 99  # what the manifest says of a file a commit leaves alone stays
    lake.manifest_file("sentences").write_text(json.dumps(held))
    publish(tmp_path, sentences([("b", 0, D2), ("b", 1, D2)]), "c2", replaced=["b"])
    files = read_manifest(lake, "sentences")["files"]
    assert files == {f"date={D1}/part-c1.parquet": 99, f"date={D2}/part-c1.parquet": 2}
    publish(tmp_path, sentences([]), "c3", replaced=["b"], days=[D2])  # the day's partition goes
    assert read_manifest(lake, "sentences")["files"] == {f"date={D1}/part-c1.parquet": 99}


@pytest.mark.parametrize("older", ["a manifest without the list", "a manifest of another schema"])
def test_manifests_name_the_files_of_another_schema_which_queries_then_read_by_name(tmp_path, older):
    from newslake.tasks.lake import check_lake, commit, stage_rows
    from newslake.tasks.lake.query import connect
    from newslake.tasks.lake.storage import write_parquet

    lake, tone = Lake.at(tmp_path), TABLES["tone"]

    def add(commit_id: str, doc_id: str, day: datetime.date) -> None:
        row = {"doc_id": doc_id, "tone": 1.0, "positive": 2.0, "word_count": 9, "date": day}
        stage_rows(lake, tone, pa.Table.from_pylist([row], schema=tone.dataset_schema), commit_id=commit_id)
        commit(lake, commit_id, versions=VERSIONS)

    def view() -> str:
        return connect(lake).sql("SELECT sql FROM duckdb_views() WHERE view_name = 'tone'").fetchall()[0][0]

    add("c1", "a", D1)
    assert read_manifest(lake, "tone")["other_schema_files"] == []
    assert "union_by_name" not in view()  # every file has the declared columns: no footer is read to start
    # A file an older version wrote, without the later columns, listed by a manifest that names no such files.
    name = "date=2025-02-28/part-old.parquet"
    lake.partition_dir("tone", datetime.date(2025, 2, 28)).mkdir()
    write_parquet(
        lake.table_dir("tone") / name,
        pa.table({"doc_id": ["b"], "tone": [-1.0], "word_count": pa.array([3], pa.int32())}),
    )
    held = read_manifest(lake, "tone")
    if older == "a manifest without the list":
        del held["other_schema_files"]
    else:  # as a later version's first commit finds a manifest of the schema before
        del held["schema"]["positive"]
    held["files"][name] = 1
    lake.manifest_file("tone").write_text(json.dumps(held))
    add("c2", "c", D2)  # the next commit reads every file again
    assert read_manifest(lake, "tone")["other_schema_files"] == [name]
    assert "union_by_name = true" in view()
    rows = connect(lake).sql("SELECT doc_id, tone, positive FROM tone ORDER BY doc_id").fetchall()
    assert rows == [("a", 1.0, 2.0), ("b", -1.0, None), ("c", 1.0, 2.0)]
    assert check_lake(lake) == []
    held = read_manifest(lake, "tone")
    held["other_schema_files"] = []
    lake.manifest_file("tone").write_text(json.dumps(held))
    assert [p for p in check_lake(lake) if "has other columns than the declared ones" in p and name in p]
