import datetime

import polars as pl

from newslake.tasks.aggregate import entity_rollups
from newslake.tasks.links import (
    WINDOW_DAYS,
    decide_links,
    full_name_documents,
    full_name_documents_from_rollups,
    lone_surnames,
)

DAY = datetime.date(1987, 3, 20)


def _entities(rows: list[tuple[int, str, str, str]]) -> pl.DataFrame:
    """Entity rows (days after DAY, doc_id, entity_key, name), one mention each."""
    return pl.DataFrame(
        {
            "doc_id": [r[1] for r in rows],
            "entity_key": [r[2] for r in rows],
            "name": [r[3] for r in rows],
            "label": ["PERSON" for _ in rows],
            "mentions": pl.Series([1 for _ in rows], dtype=pl.Int32),
            "tone": [0.0 for _ in rows],
            "date": [DAY + datetime.timedelta(days=r[0]) for r in rows],
        }
    )


def _links(entities: pl.DataFrame) -> pl.DataFrame:
    return decide_links(lone_surnames(entities), full_name_documents(entities))


def _pairs(links: pl.DataFrame) -> set[tuple[int, str, str]]:
    return {((d - DAY).days, s, f) for d, s, f in links.select("date", "entity_key", "canonical_key").iter_rows()}


def test_links_a_lone_surname_to_the_full_name_that_dominates_it_near_in_time():
    entities = _entities(
        [(0, f"d{i}", "person:ronald reagan", "Ronald Reagan") for i in range(4)]
        + [(0, "n1", "person:nancy reagan", "Nancy Reagan")]
        + [(2, "s1", "person:reagan", "Reagan"), (2, "s2", "person:reagan", "Reagan")]
    )
    links = _links(entities)
    assert _pairs(links) == {(2, "person:reagan", "person:ronald reagan")}
    assert links["canonical_name"].to_list() == ["Ronald Reagan"] and links["evidence"].to_list() == [4]


def test_links_leave_a_surname_apart_when_a_rival_full_name_shares_it():
    entities = _entities(
        [(0, f"j{i}", "person:james baker", "James Baker") for i in range(4)]
        + [(0, f"h{i}", "person:howard baker", "Howard Baker") for i in range(3)]
        + [(1, "s1", "person:baker", "Baker")]
    )
    assert _links(entities).is_empty()


def test_links_need_enough_evidence_on_the_day_or_the_window_before_it():
    few = _entities([(0, f"d{i}", "person:ronald reagan", "Ronald Reagan") for i in range(2)])
    assert _links(pl.concat([few, _entities([(1, "s", "person:reagan", "Reagan")])])).is_empty()
    # Evidence after the day does not count, nor evidence older than the window.
    later = _entities([(5, f"d{i}", "person:ronald reagan", "Ronald Reagan") for i in range(5)])
    assert _links(pl.concat([later, _entities([(1, "s", "person:reagan", "Reagan")])])).is_empty()
    old = _entities([(0, f"d{i}", "person:ronald reagan", "Ronald Reagan") for i in range(5)])
    surname = _entities(
        [(WINDOW_DAYS + 1, "s", "person:reagan", "Reagan"), (WINDOW_DAYS, "t", "person:reagan", "Reagan")]
    )
    assert _pairs(_links(pl.concat([old, surname]))) == {(WINDOW_DAYS, "person:reagan", "person:ronald reagan")}


def test_links_read_surnames_past_suffixes_and_never_link_other_labels_or_full_names():
    entities = _entities(
        [(0, f"d{i}", "person:martin luther king jr", "Martin Luther King Jr") for i in range(5)]
        + [(0, "s", "person:king", "King"), (0, "o", "org:king", "King"), (0, "f", "person:b.b. king", "B.B. King")]
    )
    assert _pairs(_links(entities)) == {(0, "person:king", "person:martin luther king jr")}


def test_links_evidence_from_rollups_leaves_out_the_documents_of_linked_surnames():
    entity_daily = pl.DataFrame(
        {"date": [DAY, DAY], "entity_key": ["person:ronald reagan", "gpe:us"], "name": ["Ronald Reagan", "US"]}
        | {"documents": pl.Series([7, 9], dtype=pl.Int64)}
    )
    entity_links = pl.DataFrame(
        {"date": [DAY], "entity_key": ["person:reagan"], "canonical_key": ["person:ronald reagan"]}
        | {"documents": pl.Series([3], dtype=pl.Int64)}
    )
    evidence = full_name_documents_from_rollups(entity_daily, entity_links)
    assert evidence.select("entity_key", "surname", "documents").rows() == [("person:ronald reagan", "reagan", 4)]


def test_links_entity_rollups_count_a_linked_surname_under_its_full_name():
    entities = _entities(
        [(0, f"d{i}", "person:ronald reagan", "Ronald Reagan") for i in range(3)]
        + [(0, "s", "person:reagan", "Reagan"), (0, "s", "gpe:iran", "Iran"), (0, "d0", "gpe:iran", "Iran")]
    )
    quotes = pl.DataFrame(
        {"doc_id": ["s", "d1"], "speaker": ["Reagan", "Ronald Reagan"], "speaker_key": ["person:reagan", None]}
        | {"date": [DAY, DAY]}
    )
    documents = pl.DataFrame({"doc_id": ["d0", "d1", "d2", "s"], "story_id": [None] * 4}).to_arrow()
    rows = entity_rollups(entities, quotes, documents, _links(entities))
    daily = {r["entity_key"]: (r["name"], r["mentions"], r["documents"]) for r in rows["entity_daily"].to_pylist()}
    assert daily == {"person:ronald reagan": ("Ronald Reagan", 4, 4), "gpe:iran": ("Iran", 2, 2)}
    [link] = rows["entity_links"].to_pylist()
    assert (link["entity_key"], link["canonical_key"], link["rule"], link["documents"]) == (
        "person:reagan",
        "person:ronald reagan",
        "surname_in_lake",
        1,
    )
    pairs = {(r["entity_key"], r["other_key"], r["documents"]) for r in rows["cooccurrence_daily"].to_pylist()}
    assert pairs == {("gpe:iran", "person:ronald reagan", 2)}
    speakers = [(r["speaker_key"], r["speaker"], r["quotes"]) for r in rows["speaker_daily"].to_pylist()]
    assert speakers == [("person:ronald reagan", "Ronald Reagan", 1)]
