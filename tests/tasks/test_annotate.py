import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import spacy

from newslake.flows.parameters import default_model
from newslake.schemas import ANNOTATION_TABLES
from newslake.tasks.annotate import annotate, annotate_batch, annotate_each, load_knowledge, load_model
from newslake.tasks.evaluate import evaluate
from newslake.tasks.knowledge import PACKAGED
from newslake.tasks.lake import Lake

BBC_GOLD = sorted((Path(__file__).parent.parent / "gold").glob("*.json"))

KNOWLEDGE = load_knowledge()

DAY = datetime.date(2025, 3, 1)


@pytest.fixture
def ruler_nlp(ruler):
    """Entities from fixed patterns: the layout is the point here."""
    return ruler(
        ("PERSON", "Ann Lee"),
        ("PERSON", "Lee"),
        ("GPE", [{"LOWER": "the"}, {"TEXT": "Netherlands"}]),
        ("GPE", "Netherlands"),
        ("DATE", "Monday"),
    )


def _docs(*texts: str) -> pa.Table:
    return pa.table({"doc_id": [f"d{n}" for n in range(len(texts))], "text": list(texts), "date": [DAY] * len(texts)})


def test_annotate_offsets_point_into_the_text(ruler_nlp):
    text = "Ann Lee flew to the Netherlands on Monday. Lee said it was cold. Netherlands is flat."
    result = annotate(_docs(text), nlp=ruler_nlp, knowledge=KNOWLEDGE)
    mentions = result["mentions"].to_pylist()
    assert [(m["text"], m["sent_id"], m["entity_key"], m["rule"]) for m in mentions] == [
        ("Ann Lee", 0, "person:ann lee", "model"),
        ("the Netherlands", 0, "gpe:netherlands", "model"),
        ("Lee", 1, "person:ann lee", "name_part"),
        ("Netherlands", 2, "gpe:netherlands", "model"),
    ]
    assert all(text[m["start_char"] : m["end_char"]] == m["text"] for m in mentions)
    sentences = result["sentences"].to_pylist()
    assert [text[s["start_char"] : s["end_char"]] for s in sentences][1] == "Lee said it was cold."
    entities = {e["entity_key"]: (e["name"], e["mentions"]) for e in result["entities"].to_pylist()}
    assert entities == {"person:ann lee": ("Ann Lee", 2), "gpe:netherlands": ("Netherlands", 2)}
    assert set(result) == set(ANNOTATION_TABLES) - {"tokens"}  # tokens only on request


def test_annotate_tokens_on_request(ruler_nlp):
    result = annotate(_docs("Ann Lee left.", "Lee stayed."), nlp=ruler_nlp, knowledge=KNOWLEDGE, tokens=True)
    tokens = result["tokens"].to_pylist()
    assert [(t["doc_id"], t["i"], t["text"], t["ent_type"]) for t in tokens[:3]] == [
        ("d0", 0, "Ann", "PERSON"),
        ("d0", 1, "Lee", "PERSON"),
        ("d0", 2, "left", ""),
    ]
    assert result["tokens"].column("date").to_pylist() == [DAY] * len(tokens)


def test_annotate_empty_batch(ruler_nlp):
    result = annotate(_docs(), nlp=ruler_nlp, knowledge=KNOWLEDGE, tokens=True)
    assert [t.num_rows for t in result.values()] == [0] * len(ANNOTATION_TABLES)


def test_annotate_model_runs_the_attribute_ruler_and_lemmatizer_only_for_token_rows(nlp):
    """The rules read the tagger's tags; coarse POS and lemmas are only in token rows."""
    assert {"tagger", "parser", "ner"} <= set(nlp.pipe_names)
    assert not {"attribute_ruler", "lemmatizer"} & set(nlp.pipe_names)
    assert {"attribute_ruler", "lemmatizer"} <= set(load_model(default_model(), tokens=True).pipe_names)


def test_annotate_seed_article_meets_the_gold(shared, nlp):
    """The real model on the seed article: 13 of 14 canonical entities with their mention counts
    within one and none split in two, all 9 quotes with their speakers and no scare quote, all
    3 amounts with value and unit."""
    scores = evaluate(shared("seed/gold.json"), nlp=nlp, knowledge=KNOWLEDGE, search=[shared(".")])
    assert scores["entities"].correct >= 13, scores["entities"].misses
    assert not [m for m in scores["entities"].misses if "split" in m]
    assert scores["quotes"].correct == 9 and not scores["quotes"].misses, scores["quotes"].misses
    assert scores["amounts"].correct == 3, scores["amounts"].misses


@pytest.mark.parametrize("gold", BBC_GOLD, ids=lambda p: p.stem)
def test_annotate_bbc_articles_meet_their_hand_made_gold(shared, nlp, gold):
    """Hand-annotated BBC politics articles: recall and precision no lower than measured when
    they were added (entities 0.75, quotes 0.85, amounts 1.0 per article at worst)."""
    shared("corpora/bbc")
    scores = evaluate(gold, nlp=nlp, knowledge=KNOWLEDGE, search=[shared(".")])
    assert scores["entities"].recall >= 0.75 and scores["entities"].precision >= 0.65, scores["entities"].misses
    assert scores["quotes"].recall >= 0.85 and scores["quotes"].precision >= 0.85, scores["quotes"].misses
    assert scores["amounts"].recall == 1.0 and scores["amounts"].precision == 1.0, scores["amounts"].misses


@spacy.Language.component("fails_on_boom")
def _fails_on_boom(doc):
    """A component that breaks on one kind of text, as a model or a rule may."""
    if "BOOM" in doc.text:
        raise ValueError("cannot handle BOOM")
    return doc


def test_annotate_each_one_failing_document_costs_only_itself(ruler):
    nlp = ruler(("PERSON", "Ann Lee"))
    nlp.add_pipe("fails_on_boom")
    tables, failed = annotate_each(
        _docs("Ann Lee left.", "BOOM went Ann Lee.", "Ann Lee came back."), nlp=nlp, knowledge=KNOWLEDGE
    )
    assert failed == {"d1": "ValueError: cannot handle BOOM"}
    assert tables["mentions"].column("doc_id").to_pylist() == ["d0", "d2"]
    assert set(tables["sentences"].column("doc_id").to_pylist()) == {"d0", "d2"}


def test_annotate_batch_turns_a_failed_document_and_its_duplicate_into_rejects(ruler, tmp_path):
    nlp = ruler(("PERSON", "Ann Lee"))
    nlp.add_pipe("fails_on_boom")
    nlp.to_disk(tmp_path / "model")
    batch = Lake.at(tmp_path / "lake").staging("r1").create().batch("0000")
    when = datetime.datetime(2025, 3, 1, 9, tzinfo=datetime.UTC)
    texts = ["Ann Lee left.", "BOOM went Ann Lee.", "BOOM went Ann Lee."]
    batch.write(
        "documents",
        pa.table(
            {
                "doc_id": ["d0", "d1", "d2"],
                "text": texts,
                "date": [DAY] * 3,
                "dup_of": [None, None, "d1"],
                "source": ["s"] * 3,
                "origin": ["a.txt", "b.txt", "c.txt"],
                "ingested_at": [when] * 3,
            }
        ),
    )
    annotate_batch.fn(batch, model=str(tmp_path / "model"), tokens=False, knowledge=PACKAGED)
    assert batch.read("documents").column("doc_id").to_pylist() == ["d0"]
    rejects = batch.read("rejects-annotate").to_pylist()
    assert [(r["origin"], r["reason"], r["stage"]) for r in rejects] == [
        ("b.txt", "annotation_failed", "annotate"),
        ("c.txt", "annotation_failed", "annotate"),
    ]
    assert "cannot handle BOOM" in rejects[0]["detail"] and rejects[1]["payload"] == texts[2]
    assert batch.read("mentions").column("doc_id").to_pylist() == ["d0"]
