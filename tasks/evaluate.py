"""Quality: precision and recall of newslake's entities, quotes, amounts and places against
hand-made gold files.

A gold file (JSON) names its document and lists canonical entities with their surface forms and
mention counts, direct quotes with their speaker and first words, scare quotes that are not
quotations, and amounts with their value and unit or currency.

An entity is right when one predicted entity carries its canonical name or one of its forms,
with its label and its mention count within one; precision counts predicted entities of the
labels the gold file uses. A quote is right when a predicted quote starts with the gold words
and has the gold speaker. An amount is right when its text, value and unit or currency match.
A place the gazetteer holds is right when its mentions resolve to its GeoNames id.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from newslake.tasks.clean import decode, normalise_text, split_title


@dataclass
class Score:
    """Counts behind precision and recall, with the misses spelt out."""

    correct: int = 0
    predicted: int = 0
    gold: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.gold if self.gold else 1.0

    def __add__(self, other: "Score") -> "Score":
        return Score(
            self.correct + other.correct,
            self.predicted + other.predicted,
            self.gold + other.gold,
            self.misses + other.misses,
        )


def _fold(text: str) -> str:
    return " ".join(text.replace("’", "'").casefold().split())


def document_text(gold_path: Path, gold: dict, search: Sequence[Path] = ()) -> str:
    """The gold file's document as the pipeline cleans a text file (title line split off), found
    beside the gold file or in one of the `search` folders."""
    for folder in (gold_path.parent, *search):
        path = folder / gold["document"]
        if path.is_file():
            return normalise_text(split_title(decode(path.read_bytes()))[1])
    places = ", ".join(str(f) for f in (gold_path.parent, *search))
    raise FileNotFoundError(f"{gold['document']} (named by {gold_path}) is not in {places}")


def score_entities(gold: dict, entities: list[dict]) -> Score:
    """Gold canonical entities against predicted entities (name, label, mentions) of one document."""
    labels = {g["label"] for g in gold["entities"]}
    predicted = [e for e in entities if e["label"] in labels]
    score = Score(predicted=len(predicted), gold=len(gold["entities"]))
    for g in gold["entities"]:
        names = {_fold(g["canonical"]), *map(_fold, g["forms"])}
        found = [e for e in predicted if _fold(e["name"]) in names]
        if len(found) > 1:
            score.misses.append(f"entity {g['canonical']} split into {[e['name'] for e in found]}")
        elif not found:
            score.misses.append(f"entity {g['canonical']} not found")
        elif found[0]["label"] != g["label"] or abs(found[0]["mentions"] - g["mentions"]) > 1:
            e = found[0]
            score.misses.append(
                f"entity {g['canonical']}: {e['label']} x{e['mentions']}, gold {g['label']} x{g['mentions']}"
            )
        else:
            score.correct += 1
    known = {_fold(n) for g in gold["entities"] for n in (g["canonical"], *g["forms"])}
    score.misses += [
        f"entity {e['name']} ({e['label']}) is not in the gold file" for e in predicted if _fold(e["name"]) not in known
    ]
    return score


def score_quotes(gold: dict, quotes: list[dict], speaker_matches) -> Score:
    """Gold quotes against predicted quotes (text, speaker); `speaker_matches(predicted, gold_name)`."""
    score = Score(predicted=len(quotes), gold=len(gold["quotes"]))
    for g in gold["quotes"]:
        found = [q for q in quotes if _fold(q["text"]).startswith(_fold(g["starts_with"]))]
        if not found:
            score.misses.append(f"quote {g['starts_with']!r} not found")
        elif not any(speaker_matches(q["speaker"], g["speaker"]) for q in found):
            score.misses.append(f"quote {g['starts_with']!r}: speaker {found[0]['speaker']!r}, gold {g['speaker']!r}")
        else:
            score.correct += 1
    for scare in gold.get("not_quotes", []):
        if any(_fold(q["text"]) == _fold(scare) for q in quotes):
            score.misses.append(f"scare quote {scare!r} reported as a quotation")
    return score


def score_amounts(gold: dict, amounts: list[dict]) -> Score:
    """Gold amounts against predicted amounts (text, value, unit, currency)."""
    score = Score(predicted=len(amounts), gold=len(gold["amounts"]))
    for g in gold["amounts"]:
        found = [a for a in amounts if _fold(g["text"]) in _fold(a["text"])]
        right = [
            a
            for a in found
            if a["value"] == g["value"] and (a["currency"] or a["unit"]) == (g.get("currency") or g.get("unit"))
        ]
        if right:
            score.correct += 1
        else:
            got = [(a["text"], a["value"], a["currency"] or a["unit"]) for a in found]
            score.misses.append(f"amount {g['text']!r}: got {got or 'nothing'}")
    return score


def score_places(gold: dict, predicted: list[dict]) -> Score:
    """Places of the gold file that the gazetteer holds: right when a predicted location with one
    of its forms has its GeoNames id; precision over the distinct places resolved to an id."""
    held = [g for g in gold.get("locations", []) if g["in_gazetteer"]]
    score = Score(predicted=len({p["geonameid"] for p in predicted if p["geonameid"]}), gold=len(held))
    for g in held:
        forms = {_fold(f) for f in g["forms"]}
        got = {p["geonameid"] for p in predicted if _fold(p["text"]) in forms}
        if got == {g["geonameid"]}:
            score.correct += 1
        else:
            score.misses.append(f"place {g['name']!r} ({g['geonameid']}): got {sorted(got, key=str) or 'nothing'}")
    return score


def score_themes(gold: dict, predicted: list[dict]) -> Score:
    """The themes a document is about: right when the document has evidence of a gold theme."""
    found = {t["theme"] for t in predicted}
    score = Score(correct=len(found & set(gold["themes"])), predicted=len(found), gold=len(gold["themes"]))
    score.misses += [f"theme {t} not found" for t in sorted(set(gold["themes"]) - found)]
    score.misses += [f"theme {t} is not in the gold file" for t in sorted(found - set(gold["themes"]))]
    return score


def score_dates(gold: dict, predicted: list[dict]) -> Score:
    """Expressions that name a point in time: right when a date row has the gold words (and the
    gold date, where the text names its year); precision over rows the gold words cover."""
    rows = {_fold(d["text"]).removesuffix("'s"): d for d in predicted}
    score = Score(gold=len(gold["dates"]), predicted=sum(1 for d in predicted if d["resolution"]))
    for g in gold["dates"]:
        got = rows.get(_fold(g["text"]))
        if got is not None and (g["resolved"] is None or str(got["resolved"]) == g["resolved"]):
            score.correct += 1
        else:
            score.misses.append(f"date {g['text']!r}: got {got and (got['text'], got['resolved'])}")
    score.predicted = max(score.predicted, score.correct)
    return score


def evaluate(gold_path: Path, *, nlp, knowledge, search: Sequence[Path] = ()) -> dict[str, Score]:
    """newslake's annotations of one gold file's document, scored."""
    import pyarrow as pa

    from newslake.tasks.annotate import annotate

    gold = json.loads(gold_path.read_text())
    text = document_text(gold_path, gold, search)
    docs = pa.table({"doc_id": ["gold"], "text": [text], "date": pa.array([None], pa.date32())})
    tables = annotate(docs, nlp=nlp, knowledge=knowledge)
    aliases = {_fold(g["canonical"]): {_fold(f) for f in g["forms"]} for g in gold["entities"]}

    def same_speaker(predicted: str | None, name: str) -> bool:
        return predicted is not None and _fold(predicted) in {_fold(name), *aliases.get(_fold(name), ())}

    return {
        "entities": score_entities(gold, tables["entities"].to_pylist()),
        "quotes": score_quotes(gold, tables["quotes"].to_pylist(), same_speaker),
        "amounts": score_amounts(gold, tables["amounts"].to_pylist()),
        **({"places": score_places(gold, tables["locations"].to_pylist())} if "locations" in gold else {}),
        **({"themes": score_themes(gold, tables["themes"].to_pylist())} if "themes" in gold else {}),
        **({"dates": score_dates(gold, tables["dates"].to_pylist())} if "dates" in gold else {}),
    }


def evaluate_textacy(gold_path: Path, *, nlp, search: Sequence[Path] = ()) -> Score:
    """textacy's direct_quotations on the same document: a speaker is right when its words are
    the gold speaker's name or one of its forms (textacy does not resolve pronouns)."""
    from textacy.extract.triples import direct_quotations

    from newslake.tasks.resolve import load_lexicon, strip_title

    gold = json.loads(gold_path.read_text())
    titles = load_lexicon().titles
    forms = {_fold(g["canonical"]): {_fold(f) for f in g["forms"]} for g in gold["entities"]}
    doc = nlp(document_text(gold_path, gold, search))
    try:
        quotes = [
            {"text": q.content.text.strip("“”\"' "), "speaker": " ".join(t.text for t in q.speaker)}
            for q in direct_quotations(doc)
        ]
    except ValueError as exc:  # it refuses texts with an odd number of marks: news continuation paragraphs
        quotes, refused = [], f"textacy refused the document: {exc}"
    else:
        refused = None

    def same_speaker(predicted: str, name: str) -> bool:
        return _fold(strip_title(predicted, titles)) in {_fold(name), *forms.get(_fold(name), ())}

    score = score_quotes(gold, quotes, same_speaker)
    score.misses[:0] = [refused] if refused else []
    return score
