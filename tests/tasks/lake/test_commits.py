import datetime
import json
import os

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, check_lake, read_manifest, recover, stage_rows
from newslake.tasks.lake.layout import live_file

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]
VERSIONS = {"model": "m"}


def test_commits_nothing_is_visible_before_commit_and_recover_drops_what_was_staged(
    tmp_path, sentences, publish, keys, files
):
    publish(tmp_path, sentences([("a", 0, D1)]), "c1", replaced=["a"])
    before = files(tmp_path)
    stage_rows(
        Lake.at(tmp_path), SENTENCES, sentences([("b", 0, D1), ("c", 0, D2)]), commit_id="c2", replaced=["b", "c"]
    )
    assert keys(tmp_path) == [("a", 0, D1)]  # a reader sees the old lake
    assert recover(Lake.at(tmp_path)) == []  # the run stopped before its commit: its staged files go
    assert files(tmp_path) == before


def test_commits_recover_finishes_a_commit_that_stopped_half_way(tmp_path, sentences, publish, keys):
    publish(tmp_path, sentences([("a", 0, D1)]), "c1", replaced=["a"])
    stage_rows(
        Lake.at(tmp_path),
        SENTENCES,
        sentences([("a", 0, D2), ("b", 0, D2)]),
        commit_id="c2",
        replaced=["a", "b"],
        days=[D1],
    )
    marker = tmp_path / "_commits" / "c2.json"
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"commit_id": "c2", "versions": VERSIONS}))
    # the process died after the marker and after the first rename, before the rest
    pending = sorted(tmp_path.glob("sentences/date=*/.*.pending"))
    os.replace(pending[0], live_file(pending[0]))
    assert recover(Lake.at(tmp_path)) == ["c2"]
    assert keys(tmp_path) == [("a", 0, D2), ("b", 0, D2)]
    assert not marker.exists() and not list(tmp_path.rglob(".*"))
    assert read_manifest(Lake.at(tmp_path), "sentences")["rows"] == 2


def test_commits_recover_rewrites_manifests_when_the_renames_were_all_done(tmp_path, sentences):
    stage_rows(Lake.at(tmp_path), SENTENCES, sentences([("a", 0, D1)]), commit_id="c1", replaced=["a"])
    marker = tmp_path / "_commits" / "c1.json"
    marker.parent.mkdir()
    marker.write_text(json.dumps({"commit_id": "c1", "versions": VERSIONS}))
    for pending in tmp_path.glob("sentences/date=*/.*.pending"):
        os.replace(pending, live_file(pending))  # every rename done, then the process died
    assert check_lake(Lake.at(tmp_path))[:2] == [
        "commit c1 is not finished: the next run completes it",
        "sentences: no _manifest.json",
    ]
    assert recover(Lake.at(tmp_path)) == ["c1"]
    assert check_lake(Lake.at(tmp_path)) == []
