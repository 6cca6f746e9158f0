import datetime

import pyarrow as pa

from newslake.tasks.aggregate import cooccurrence_daily, entity_daily, source_daily, speaker_daily

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)


def test_aggregate_entity_daily_counts_mentions_and_documents_per_day():
    entities = pa.table(
        {
            "doc_id": ["a", "b", "c", "a"],
            "entity_key": ["gpe:uk", "gpe:uk", "gpe:uk", "person:lee"],
            "name": ["UK", "UK", "UK", "Lee"],
            "label": ["GPE", "GPE", "GPE", "PERSON"],
            "mentions": pa.array([3, 1, 2, 1], pa.int32()),
            "date": [D1, D1, D2, D1],
        }
    )
    rows = entity_daily(entities).to_pylist()
    assert [(r["date"], r["entity_key"], r["mentions"], r["documents"]) for r in rows] == [
        (D1, "gpe:uk", 4, 2),
        (D1, "person:lee", 1, 1),
        (D2, "gpe:uk", 2, 1),
    ]


def test_aggregate_source_daily_counts_unique_documents_only():
    documents = pa.table(
        {
            "doc_id": ["a", "b", "c"],
            "source": ["wire", "wire", "wire"],
            "n_words": pa.array([100, 100, 50], pa.int32()),
            "dup_of": [None, "a", None],
            "date": [D1, D1, D1],
        }
    )
    mentions = pa.table({"doc_id": ["a", "a", "c"]})
    assert source_daily(documents, mentions).to_pylist() == [
        {"date": D1, "source": "wire", "documents": 2, "duplicates": 1, "words": 150, "mentions": 3}
    ]


def test_aggregate_cooccurrence_daily_counts_pairs_once_with_documents_and_stories():
    entities = pa.table(
        {
            "doc_id": ["a", "a", "a", "b", "b", "c", "c"],
            "entity_key": ["gpe:uk", "person:lee", "org:nato", "gpe:uk", "person:lee", "gpe:uk", "person:lee"],
            "name": ["UK", "Lee", "NATO", "UK", "Lee", "UK", "Lee"],
            "date": [D1, D1, D1, D1, D1, D2, D2],
        }
    )
    documents = pa.table({"doc_id": ["a", "b", "c"], "story_id": ["a", "a", None]})
    rows = cooccurrence_daily(entities, documents).to_pylist()
    assert [(r["date"], r["entity_key"], r["other_key"], r["documents"], r["stories"]) for r in rows] == [
        (D1, "gpe:uk", "person:lee", 2, 1),  # b is a version of story a
        (D1, "gpe:uk", "org:nato", 1, 1),
        (D1, "org:nato", "person:lee", 1, 1),
        (D2, "gpe:uk", "person:lee", 1, 1),
    ]
    assert rows[0]["name"] == "UK" and rows[0]["other_name"] == "Lee"


def test_aggregate_speaker_daily_counts_quotes_and_documents_of_entities():
    quotes = pa.table(
        {
            "doc_id": ["a", "a", "b", "b"],
            "speaker": ["Ann Lee", "Ann Lee", "Ann Lee", "a spokeswoman"],
            "speaker_key": ["person:ann lee", "person:ann lee", "person:ann lee", None],
            "date": [D1, D1, D1, D1],
        }
    )
    rows = speaker_daily(quotes).to_pylist()
    assert [(r["speaker_key"], r["speaker"], r["quotes"], r["documents"]) for r in rows] == [
        ("person:ann lee", "Ann Lee", 3, 2)
    ]
