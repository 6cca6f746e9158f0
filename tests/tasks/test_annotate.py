import datetime
import json

import pyarrow as pa
import pytest
import spacy

from tasks.annotate import annotate, entity_key, normalise_name
from tasks.clean import normalise_text
from tests.conftest import shared

DAY = datetime.date(2025, 3, 1)


@pytest.fixture
def ruler_nlp():
    """A blank pipeline whose entities come from fixed patterns: the layout is the point here."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns(
        [
            {"label": "PERSON", "pattern": "Ann Lee"},
            {"label": "PERSON", "pattern": "Lee"},
            {"label": "GPE", "pattern": [{"LOWER": "the"}, {"TEXT": "Netherlands"}]},
            {"label": "GPE", "pattern": "Netherlands"},
            {"label": "DATE", "pattern": "Monday"},
        ]
    )
    return nlp


def _docs(*texts: str) -> pa.Table:
    return pa.table({"doc_id": [f"d{n}" for n in range(len(texts))], "text": list(texts), "date": [DAY] * len(texts)})


def test_annotate_entity_key_ignores_articles_possessives_and_case():
    assert normalise_name("the Netherlands’s") == "Netherlands"
    assert entity_key("GPE", "the  Netherlands") == entity_key("GPE", "NETHERLANDS") == "gpe:netherlands"
    assert entity_key("ORG", "Nato") != entity_key("GPE", "Nato")


def test_annotate_offsets_point_into_the_text(ruler_nlp):
    text = "Ann Lee flew to the Netherlands on Monday. Lee said it was cold. Netherlands is flat."
    result = annotate(_docs(text), nlp=ruler_nlp)
    mentions = result.mentions.to_pylist()
    assert [(m["text"], m["sent_id"], m["entity_key"]) for m in mentions] == [
        ("Ann Lee", 0, "person:ann lee"),
        ("the Netherlands", 0, "gpe:netherlands"),
        ("Lee", 1, "person:lee"),
        ("Netherlands", 2, "gpe:netherlands"),
    ]
    assert all(text[m["start_char"] : m["end_char"]] == m["text"] for m in mentions)
    sentences = result.sentences.to_pylist()
    assert [text[s["start_char"] : s["end_char"]] for s in sentences][1] == "Lee said it was cold."
    entities = {e["entity_key"]: (e["name"], e["mentions"]) for e in result.entities.to_pylist()}
    assert entities["gpe:netherlands"] == ("Netherlands", 2)
    assert "date:monday" not in entities  # numeric and time labels are not entities
    assert result.tokens is None and set(result.tables()) == {"sentences", "mentions", "entities"}


def test_annotate_tokens_on_request(ruler_nlp):
    result = annotate(_docs("Ann Lee left.", "Lee stayed."), nlp=ruler_nlp, tokens=True)
    tokens = result.tokens.to_pylist()
    assert [(t["doc_id"], t["i"], t["text"], t["ent_type"]) for t in tokens[:3]] == [
        ("d0", 0, "Ann", "PERSON"),
        ("d0", 1, "Lee", "PERSON"),
        ("d0", 2, "left", ""),
    ]
    assert result.tokens.column("date").to_pylist() == [DAY] * len(tokens)


def test_annotate_empty_batch(ruler_nlp):
    result = annotate(_docs(), nlp=ruler_nlp, tokens=True)
    assert [t.num_rows for t in result.tables().values()] == [0, 0, 0, 0]


def test_annotate_seed_article_finds_gold_entities(nlp):
    """The real model on the seed article: at least 12 of the 14 gold entities by surface form."""
    text = normalise_text(shared("seed/nato_article.txt").read_text())
    gold = json.loads(shared("seed/gold.json").read_text())
    result = annotate(_docs(text), nlp=nlp)
    surfaces = set(result.mentions.column("text").to_pylist())
    found = [g["canonical"] for g in gold["entities"] if surfaces & set(g["forms"])]
    assert len(found) >= 12, f"found only {found}"
