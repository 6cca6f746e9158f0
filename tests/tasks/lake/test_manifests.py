import datetime
import json

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
