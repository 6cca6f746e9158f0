"""Annotate: run the spaCy model over documents and lay out sentences, resolved entity mentions,
quotes, amounts, tone, places, themes and dates.

All offsets are character offsets into `documents.text`. The model is a setting; it is loaded
once per process and only with the components the requested outputs need.
"""

import ctypes
import ctypes.util
import gc
import hashlib
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache, partial

import pyarrow as pa
import pyarrow.compute as pc
from prefect import task
from prefect.cache_policies import NO_CACHE

from newslake.schemas import ANNOTATION_TABLES, TABLES
from newslake.tasks.amounts import extract_amounts, load_count_types
from newslake.tasks.dates import resolve_date
from newslake.tasks.ingest import Reject, rejects_table
from newslake.tasks.knowledge import PACKAGED, KnowledgeFiles
from newslake.tasks.lake import Batch
from newslake.tasks.places import Gazetteer, Place, gazetteer_fingerprint, load_gazetteer, locate_places
from newslake.tasks.quotes import extract_quotes
from newslake.tasks.resolve import Lexicon, load_lexicon, resolve_entities
from newslake.tasks.themes import Taxonomy, find_themes, load_taxonomy
from newslake.tasks.tone import ToneLexicon, WordCounts, count_words, load_tone_lexicon

# Documents spaCy parses at once: 16 parses as fast as 64 on news-length texts here and keeps
# each worker about 380 MB smaller (0.52 against 0.90 GB peak on BBC articles).
PIPE_BATCH_SIZE = 16


def dask_setup(worker=None) -> None:
    """Make a Dask worker that preloads this module ready to annotate: the packaged knowledge
    (the gazetteer takes half a second) loaded as it starts, or once in the fork server it is
    forked from (see `flows.worker_template`)."""
    load_knowledge()


async def preload_model(name: str, *, tokens: bool = False) -> None:
    """Load a model into this process's cache ahead of its first batch (a coroutine, so that
    Dask's `Client.run` can start it on every worker without waiting for it)."""
    load_model(name, tokens=tokens)


def release_models() -> None:
    """Drop the models this process loaded and hand the memory they and their batches held back
    to the system (glibc keeps freed memory for reuse otherwise)."""
    load_model.cache_clear()
    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:  # glibc only
        trim(0)


def excluded_components(*, tokens: bool) -> list[str]:
    """The pipeline components newslake leaves out unless token rows are asked for: the attribute
    ruler (coarse POS and morphology from the tagger's tags) and the lemmatizer, which needs it.
    The rules read the tagger's own tags."""
    return [] if tokens else ["attribute_ruler", "lemmatizer"]


@lru_cache(maxsize=2)
def load_model(name: str, *, tokens: bool = False):
    """Load a spaCy pipeline once per process, with only the components the outputs need."""
    import spacy

    try:
        return spacy.load(name, exclude=excluded_components(tokens=tokens))
    except OSError as exc:
        raise RuntimeError(
            f"cannot load the spaCy model {name!r}: install it as a Python package "
            f"(nothing is downloaded at run time) or choose another with --model / NEWSLAKE_MODEL"
        ) from exc


@dataclass(frozen=True)
class Knowledge:
    """Everything the rules read: names and aliases, places, themes and tone word lists."""

    lexicon: Lexicon
    gazetteer: Gazetteer
    taxonomy: Taxonomy
    tone: ToneLexicon
    count_types: dict[str, str]


def knowledge_versions(files: KnowledgeFiles = PACKAGED) -> dict[str, str]:
    """A fingerprint of each part of the knowledge, for the `runs` table: which knowledge made a
    run's rows. The gazetteer's comes from its files, without the seconds of loading it."""
    count_types = load_count_types(files.extra("count_types.csv"))
    return {
        "lexicon": load_lexicon(files.extra("aliases.csv"), files.extra("not_entities.txt")).fingerprint,
        "gazetteer": gazetteer_fingerprint(files.extra("places.csv")),
        "themes": load_taxonomy(files.extra("themes.csv")).fingerprint,
        "tone_lexicon": load_tone_lexicon(files.extra("tone.csv")).fingerprint,
        "count_types": hashlib.blake2b(repr(sorted(count_types.items())).encode(), digest_size=8).hexdigest(),
    }


def load_knowledge(files: KnowledgeFiles = PACKAGED) -> Knowledge:
    """The packaged knowledge with the user's additions (each file read once per process, and
    again once it is edited)."""
    return Knowledge(
        lexicon=load_lexicon(files.extra("aliases.csv"), files.extra("not_entities.txt")),
        gazetteer=load_gazetteer(files.extra("places.csv")),
        taxonomy=load_taxonomy(files.extra("themes.csv")),
        tone=load_tone_lexicon(files.extra("tone.csv")),
        count_types=load_count_types(files.extra("count_types.csv")),
    )


def annotate(
    docs: pa.Table, *, nlp, knowledge: Knowledge, tokens: bool = False, batch_size: int = PIPE_BATCH_SIZE
) -> dict[str, pa.Table]:
    """Annotate documents (doc_id, text, date columns) with a loaded spaCy pipeline: the annotation
    tables by name, each with its `date` partition column (tokens only when asked for)."""
    rows: dict[str, list[dict]] = {name: [] for name in ANNOTATION_TABLES}
    ids = docs.column("doc_id").to_pylist()
    dates = docs.column("date").to_pylist()
    texts = docs.column("text").to_pylist()
    for doc_id, day, doc in zip(ids, dates, nlp.pipe(texts, batch_size=batch_size), strict=True):
        for name, found in _document_rows(doc, {"doc_id": doc_id, "date": day}, knowledge, tokens=tokens).items():
            rows[name].extend(found)
    return {
        name: pa.Table.from_pylist(rows[name], schema=TABLES[name].dataset_schema)
        for name in ANNOTATION_TABLES
        if tokens or name != "tokens"
    }


def _document_rows(doc, base: dict, knowledge: Knowledge, *, tokens: bool) -> dict[str, list[dict]]:
    """One parsed document's rows of each annotation table."""
    sentences = list(doc.sents)
    starts = [s.start_char for s in sentences]
    located = partial(_located, base, starts)
    mentions = resolve_entities(doc, lexicon=knowledge.lexicon)
    counts = [count_words((t.lower_ for t in s if t.is_alpha), knowledge.tone) for s in sentences]
    rows = {
        "sentences": [
            base | {"sent_id": n, "start_char": s.start_char, "end_char": s.end_char} for n, s in enumerate(sentences)
        ],
        "mentions": [
            located(m.start_char, m.end_char)
            | {"text": m.text, "label": m.label, "entity_key": m.key, "name": m.name, "rule": m.rule}
            for m in mentions
        ],
        "entities": _entity_rows(mentions, base, starts, counts),
        "quotes": [
            located(q.start_char, q.end_char)
            | {"text": q.text, "speaker": q.speaker, "speaker_key": q.speaker_key, "cue": q.cue, "kind": q.kind}
            | {"speaker_org_key": q.speaker_org_key}
            for q in extract_quotes(doc, mentions, lexicon=knowledge.lexicon)
        ],
        "amounts": [
            located(a.start_char, a.end_char)
            | {"text": a.text, "kind": a.kind, "value": a.value, "currency": a.currency, "unit": a.unit}
            | {"count_type": a.count_type, "value_high": a.value_high}
            for a in extract_amounts(doc, knowledge.count_types)
        ],
        "tone": [base | sum(counts, WordCounts()).measures()],
        "locations": [
            located(p.start_char, p.end_char) | {"text": p.text, "rule": p.rule} | _place_columns(p.place)
            for p in locate_places(doc.text, mentions, knowledge.gazetteer)
        ],
        "themes": [
            located(t.start_char, t.end_char) | {"text": t.text, "theme": t.theme}
            for t in find_themes(doc.text, knowledge.taxonomy)
        ],
        "dates": [
            located(e.start_char, e.end_char)
            | {"text": e.text, **dict(zip(("resolved", "resolution"), resolve_date(e.text, base["date"]), strict=True))}
            for e in doc.ents
            if e.label_ == "DATE"
        ],
    }
    if tokens:
        rows["tokens"] = _token_rows(doc, base, starts)
    return rows


def _entity_rows(mentions: list, base: dict, sentence_starts: list[int], counts: list[WordCounts]) -> list[dict]:
    """One row per entity of a document: its canonical name, mentions, and the tone of the
    sentences that mention it."""
    per_key = Counter(m.key for m in mentions)
    first = {m.key: m for m in reversed(mentions)}
    sentences: dict[str, set[int]] = {}
    for m in mentions:
        sentences.setdefault(m.key, set()).add(bisect_right(sentence_starts, m.start_char) - 1)
    return [
        base
        | {
            "entity_key": key,
            "name": first[key].name,
            "label": first[key].label,
            "mentions": n,
            "tone": sum((counts[i] for i in sentences[key]), WordCounts()).tone,
        }
        for key, n in per_key.items()
    ]


def _place_columns(place: Place) -> dict:
    return {
        "place_key": place.key,
        "name": place.name,
        "type": place.type,
        "country": place.country,
        "fips": place.fips,
        "admin1": place.admin1,
        "lat": place.lat,
        "lon": place.lon,
        "geonameid": place.geonameid,
    }


def _token_rows(doc, base: dict, sentence_starts: list[int]) -> list[dict]:
    """A document's `tokens` rows: each token with its parse and its entity tag."""
    return [
        base
        | {
            "sent_id": bisect_right(sentence_starts, t.idx) - 1,
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
    ]


def _located(base: dict, sentence_starts: list[int], start_char: int, end_char: int) -> dict:
    """A row's document, date, sentence and character span."""
    sent_id = bisect_right(sentence_starts, start_char) - 1
    return base | {"sent_id": sent_id, "start_char": start_char, "end_char": end_char}


def annotate_each(
    docs: pa.Table, *, nlp, knowledge: Knowledge, tokens: bool = False
) -> tuple[dict[str, pa.Table], dict[str, str]]:
    """Annotate documents as `annotate` does; when the batch fails, annotate them one at a time,
    so that a document the model or the rules cannot handle costs only itself. Returns the
    tables of the others and, per failed doc_id, the error."""
    try:
        return annotate(docs, nlp=nlp, knowledge=knowledge, tokens=tokens), {}
    except Exception:
        pass
    parts, failed = [annotate(docs.slice(0, 0), nlp=nlp, knowledge=knowledge, tokens=tokens)], {}
    for n in range(docs.num_rows):
        one = docs.slice(n, 1)
        try:
            parts.append(annotate(one, nlp=nlp, knowledge=knowledge, tokens=tokens))
        except Exception as exc:
            failed[one.column("doc_id")[0].as_py()] = f"{type(exc).__name__}: {exc}"[:500]
    return {name: pa.concat_tables([p[name] for p in parts]) for name in parts[0]}, failed


@task(name="annotate", cache_policy=NO_CACHE)
def annotate_batch(batch: Batch, *, model: str, tokens: bool, knowledge: KnowledgeFiles) -> Batch:
    """Annotate the unique documents of one staged batch, staging a file per annotation table.

    A document whose annotation fails leaves the batch's documents (with its duplicates) for
    its `rejects-annotate` file, reason `annotation_failed`: a run publishes it as a reject, a
    backfill keeps its earlier annotations."""
    documents = batch.read("documents")
    unique = documents.filter(pc.is_null(documents.column("dup_of"))).select(["doc_id", "text", "date"])
    nlp = load_model(model, tokens=tokens)
    tables, failed = annotate_each(unique, nlp=nlp, knowledge=load_knowledge(knowledge), tokens=tokens)
    for name, table in tables.items():
        batch.write(name, table)
    if failed:
        _reject_failed(batch, documents, failed)
    return batch


def _reject_failed(batch: Batch, documents: pa.Table, failed: dict[str, str]) -> None:
    """Move the documents whose annotation failed, and their duplicates, to the batch's rejects."""
    ids = pa.array(list(failed), pa.string())
    hit = pc.or_(pc.is_in(documents.column("doc_id"), ids), pc.is_in(documents.column("dup_of"), ids).fill_null(False))
    rows = documents.filter(hit).to_pylist()
    rejects = [
        Reject(
            source=r["source"],
            origin=r["origin"],
            reason="annotation_failed",
            detail=failed.get(r["doc_id"]) or f"a duplicate of {r['dup_of']}, whose annotation failed",
            payload=r["text"],
        )
        for r in rows
    ]
    day = rows[0]["ingested_at"].date()
    batch.write("rejects-annotate", rejects_table(rejects, stage="annotate", run_id=batch.staging.run_id, day=day))
    batch.write("documents", documents.filter(pc.invert(hit)))
