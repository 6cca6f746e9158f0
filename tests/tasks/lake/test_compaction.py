import datetime

import duckdb

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, check_lake, compact, read_manifest, read_table
from newslake.tasks.lake.tiers import merges

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]


def test_compaction_merges_a_tier_once_it_holds_fanout_files():
    assert merges({f"f{n}": 100 for n in range(9)}) == []
    assert merges({f"f{n}": 100 for n in range(10)}) == [[f"f{n}" for n in range(10)]]
    # a file ten times larger is in the next tier, and waits
    assert merges({"big": 1000, **{f"f{n}": 100 + n for n in range(10)}}) == [[f"f{n}" for n in range(10)]]
    assert merges({f"f{n}": 1 for n in range(3)}, fanout=3) == [["f0", "f1", "f2"]]


def test_compaction_merges_a_day_fed_by_many_commits_and_changes_no_row(tmp_path, sentences, publish, keys):
    for n in range(12):
        publish(tmp_path, sentences([(f"d{n:02d}", 0, D1), (f"d{n:02d}", 1, D1)]), f"c{n:02d}", replaced=[f"d{n:02d}"])
    publish(tmp_path, sentences([("e", 0, D2)]), "c99", replaced=["e"])
    lake = Lake.at(tmp_path)
    before = keys(tmp_path)
    fingerprint = read_manifest(lake, "sentences")["inputs_fingerprint"]
    assert len(lake.partition_files("sentences", D1)) == 12
    tiered = compact(lake, commit_id="k1", days=[D1])
    assert (tiered.merged, tiered.written, tiered.partitions) == (12, 1, 1)  # the whole tier
    assert [p.name for p in lake.partition_files("sentences", D1)] == ["part-k1.parquet"]
    assert keys(tmp_path) == before
    publish(tmp_path, sentences([("f", 0, D1)]), "c100", replaced=["f"])
    before = keys(tmp_path)
    assert compact(lake, commit_id="k2", days=[D1]).merged == 0  # two files of different tiers
    full = compact(lake, commit_id="k2", full=True)
    assert full.summary() == "compact: 2 files merged into 1 in 1 partitions"
    assert [p.name for p in lake.partition_files("sentences", D1)] == ["part-k2.parquet"]
    assert keys(tmp_path) == before and check_lake(lake) == []
    manifest = read_manifest(lake, "sentences")
    assert (
        manifest["rows"] == 26
        and manifest["inputs_fingerprint"] == fingerprint
        and manifest["versions"] == {"model": "m"}
    )
    plain = duckdb.sql(f"SELECT count(*) FROM read_parquet('{tmp_path}/sentences/**/*.parquet')").fetchall()[0][0]
    assert plain == 26 == read_table(lake, SENTENCES).num_rows
    assert compact(lake, commit_id="k3", full=True).summary() == "compact: nothing to merge"


def test_compaction_a_merge_stopped_after_its_marker_is_finished_with_the_manifests_whole(
    tmp_path, sentences, publish, keys, monkeypatch
):
    import json

    from newslake.tasks.lake import compaction, recover
    from newslake.tasks.lake.keys import inputs_fingerprint

    for n in range(2):
        publish(tmp_path, sentences([(f"d{n}", 0, D1)]), f"c{n}", replaced=[f"d{n}"])
    lake, before = Lake.at(tmp_path), keys(tmp_path)

    def marked_only(lake, commit_id, *, versions, compaction):  # the process died after the marker
        lake.commit_marker(commit_id).parent.mkdir(exist_ok=True)
        marker = {"commit_id": commit_id, "versions": versions, "compaction": compaction}
        lake.commit_marker(commit_id).write_text(json.dumps(marker))

    monkeypatch.setattr(compaction, "commit", marked_only)
    compact(lake, commit_id="k1", full=True)
    assert recover(lake) == ["k1"]
    assert keys(tmp_path) == before and [p.name for p in lake.partition_files("sentences", D1)] == ["part-k1.parquet"]
    manifest = read_manifest(lake, "sentences")
    assert manifest["versions"] == {"model": "m"} and manifest["inputs_fingerprint"] == inputs_fingerprint(lake)
    assert check_lake(lake) == [] and not (tmp_path / "_staging").exists()
