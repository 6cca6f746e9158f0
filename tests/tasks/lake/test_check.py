import datetime

import pyarrow as pa
import pyarrow.parquet as pq

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, check_lake

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)
SENTENCES = TABLES["sentences"]


def test_check_check_finds_what_makes_a_lake_unsound(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    assert check_lake(Lake.at(tmp_path)) == []
    d1, d2 = (tmp_path / f"sentences/date={day}/part-c1.parquet" for day in (D1, D2))
    pq.write_table(sentences([("a", 0, D1), ("a", 0, D1)]).drop(["date"]).cast(SENTENCES.schema), d1)
    d2.unlink()
    stray = tmp_path / "sentences/date=2025-03-03/part-c9.parquet"
    stray.parent.mkdir()
    pq.write_table(pa.table({"doc_id": ["c"], "sent_id": pa.array([0], pa.int64())}), stray)
    (tmp_path / "_commits").mkdir()
    (tmp_path / "_commits" / "c9.json").write_text("{}")
    problems = check_lake(Lake.at(tmp_path))
    assert problems[0] == "commit c9 is not finished: the next run completes it"
    assert any(p.startswith("sentences: date=2025-03-03/part-c9.parquet is not in the manifest") for p in problems)
    assert f"sentences: date={D2}/part-c1.parquet is in the manifest but missing" in problems
    assert f"sentences: date={D1}/part-c1.parquet has 2 rows, the manifest says 1" in problems
    assert "sentences: date=2025-03-03/part-c9.parquet column sent_id int64 is not in the schema" in problems
    assert "sentences: date=2025-03-03/part-c9.parquet lacks the required column start_char" in problems
    assert "sentences: 2 rows repeat a key ('doc_id', 'sent_id')" in problems


def test_check_names_stray_and_unreadable_files_and_a_broken_manifest(tmp_path, sentences, publish):
    publish(tmp_path, sentences([("a", 0, D1), ("b", 0, D2)]), "c1", replaced=["a", "b"])
    d1, d2 = (tmp_path / f"sentences/date={day}/part-c1.parquet" for day in (D1, D2))
    (d1.parent / "part-c1 (copy).parquet").write_bytes(d1.read_bytes())  # a copy a plain reader would count twice
    (d1.parent / "rows.parquet").write_bytes(d1.read_bytes())
    d2.write_bytes(d2.read_bytes()[:40])  # truncated
    (tmp_path / "quotes" / "_manifest.json").write_text("{not json")
    problems = check_lake(Lake.at(tmp_path))
    assert any("stray file date=2025-03-01/rows.parquet" in p for p in problems), problems
    assert any("date=2025-03-01/part-c1 (copy).parquet is not in the manifest; a reader" in p for p in problems)
    assert any(f"date={D2}/part-c1.parquet is not a readable Parquet file" in p and "backfill" in p for p in problems)
    assert any("quotes: _manifest.json is not JSON" in p for p in problems), problems


def test_check_a_lake_where_nothing_was_committed_is_sound(tmp_path):
    (tmp_path / "_staging" / "r1").mkdir(parents=True)  # a first run killed before its commit
    assert check_lake(Lake.at(tmp_path)) == []
