import datetime

import pyarrow as pa

from tasks.aggregate import entity_daily, source_daily

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
