import datetime

import pyarrow as pa
import pytest

from newslake.tasks.annotate import annotate, load_knowledge
from newslake.tasks.tone import WordCounts, count_words, load_tone_lexicon

TONE = load_tone_lexicon()


def test_tone_measures_are_percentages_of_the_words():
    words = ["we", "welcomed", "the", "peace", "deal", "but", "the", "war", "killed", "many"]
    counts = count_words(words, TONE)
    assert (counts.words, counts.positive, counts.negative, counts.pronouns) == (
        10,
        2,
        2,
        1,
    )  # welcomed peace / war killed
    measures = counts.measures()
    assert measures["positive"] == 20.0 and measures["negative"] == 20.0 and measures["tone"] == 0.0
    assert measures["polarity"] == 40.0 and measures["self_group_density"] == 10.0
    assert measures["activity_density"] == 10.0  # killed
    assert WordCounts().measures()["tone"] is None  # no words, no tone


def test_tone_a_user_lexicon_adds_and_overrides_words(tmp_path):
    extra = tmp_path / "tone.csv"
    extra.write_text("word,valence\nceasefire,2.0\nwar,0\nsortie,activity\nyall,pronoun\n")
    lexicon = load_tone_lexicon(str(extra))
    counts = count_words(["ceasefire", "war", "sortie", "yall"], lexicon)
    assert (counts.positive, counts.negative, counts.activity, counts.pronouns) == (1, 0, 1, 1)
    assert lexicon.fingerprint != TONE.fingerprint
    extra.write_text("word,valence\nwar,very bad\n")
    with pytest.raises(ValueError, match="not a number"):
        load_tone_lexicon(str(extra))


def test_tone_of_clearly_negative_and_clearly_positive_news_has_opposite_signs(nlp):
    texts = [
        "At least forty people were killed and hundreds injured when a bomb exploded in a crowded market. "
        "Hospitals struggled with the wounded, and grieving families accused the government of failing to "
        "prevent the attack, the deadliest in years.",
        "The village celebrated as its football team won the cup for the first time. Cheering fans thanked "
        "the players for a wonderful season, and the proud coach praised their courage and brilliant spirit.",
    ]
    docs = pa.table({"doc_id": ["bad", "good"], "text": texts, "date": [datetime.date(2025, 3, 1)] * 2})
    result = annotate(docs, nlp=nlp, knowledge=load_knowledge())
    tone = {r["doc_id"]: r for r in result["tone"].to_pylist()}
    assert tone["bad"]["tone"] < -3 < 3 < tone["good"]["tone"]
    assert tone["bad"]["word_count"] == len([t for t in nlp(texts[0]) if t.is_alpha])
    entities = {r["name"]: r["tone"] for r in result["entities"].to_pylist()}
    assert all(t is not None for t in entities.values())
