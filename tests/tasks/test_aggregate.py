import datetime

import pyarrow as pa

from newslake.tasks.aggregate import (
    cooccurrence_daily,
    entity_daily,
    location_daily,
    source_daily,
    speaker_daily,
    theme_daily,
)

D1, D2 = datetime.date(2025, 3, 1), datetime.date(2025, 3, 2)


def test_aggregate_entity_daily_counts_mentions_and_documents_per_day():
    entities = pa.table(
        {
            "doc_id": ["a", "b", "c", "a"],
            "entity_key": ["gpe:uk", "gpe:uk", "gpe:uk", "person:lee"],
            "name": ["UK", "UK", "UK", "Lee"],
            "label": ["GPE", "GPE", "GPE", "PERSON"],
            "mentions": pa.array([3, 1, 2, 1], pa.int32()),
            "tone": [-2.0, 4.0, None, 1.0],
            "date": [D1, D1, D2, D1],
        }
    )
    rows = entity_daily(entities).to_pylist()
    assert [(r["date"], r["entity_key"], r["mentions"], r["documents"], r["tone"]) for r in rows] == [
        (D1, "gpe:uk", 4, 2, 1.0),
        (D1, "person:lee", 1, 1, 1.0),
        (D2, "gpe:uk", 2, 1, None),
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
    tone = pa.table({"doc_id": ["a", "b", "c"], "tone": [2.0, -9.0, -1.0]})  # b is a duplicate: not counted
    assert source_daily(documents, mentions, tone).to_pylist() == [
        {"date": D1, "source": "wire", "documents": 2, "duplicates": 1, "words": 150, "mentions": 3, "tone": 0.5}
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


def test_aggregate_location_daily_counts_mentions_documents_and_their_tone():
    locations = pa.table(
        {
            "doc_id": ["a", "a", "b", "b"],
            "place_key": ["geonames:703448", "geonames:703448", "geonames:703448", "region:eastern europe"],
            "name": ["Kyiv", "Kyiv", "Kyiv", "Eastern Europe"],
            "type": ["city", "city", "city", "region"],
            "country": ["UA", "UA", "UA", None],
            "lat": [50.45, 50.45, 50.45, None],
            "lon": [30.52, 30.52, 30.52, None],
            "date": [D1] * 4,
        }
    )
    tone = pa.table({"doc_id": ["a", "b"], "tone": [-3.0, 1.0]})
    rows = location_daily(locations, tone).to_pylist()
    assert [(r["place_key"], r["name"], r["mentions"], r["documents"], r["tone"]) for r in rows] == [
        ("geonames:703448", "Kyiv", 3, 2, -1.0),
        ("region:eastern europe", "Eastern Europe", 1, 1, 1.0),
    ]
    assert rows[0]["lat"] == 50.45 and rows[1]["lat"] is None


def test_aggregate_theme_daily_counts_documents_once_and_stories():
    themes = pa.table({"doc_id": ["a", "a", "b", "c"], "theme": ["ELECTION"] * 4, "date": [D1] * 4})
    documents = pa.table({"doc_id": ["a", "b", "c"], "story_id": ["a", "a", None]})
    tone = pa.table({"doc_id": ["a", "b", "c"], "tone": [1.0, 2.0, 6.0]})
    assert theme_daily(themes, documents, tone).to_pylist() == [
        {"date": D1, "theme": "ELECTION", "documents": 3, "stories": 2, "tone": 3.0}
    ]
