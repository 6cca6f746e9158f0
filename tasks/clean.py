"""Clean: decode, repair and normalise text, extract HTML, identify language, mark duplicates.

Every raw record comes out either as a `documents` row or as a reject with its reason.
Character offsets of later stages point into the `text` produced here.
"""

import hashlib
import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import ftfy
import pyarrow as pa
import pyarrow.compute as pc
from dateutil import parser as dateparser
from prefect import task
from prefect.cache_policies import NO_CACHE

from newslake.schemas import DOCUMENTS, PARTITION, TABLES
from newslake.tasks.ingest import RAW, Reject, decode, rejects_table
from newslake.tasks.knowledge import installed_version
from newslake.tasks.lake import Batch, Lake, read_days, read_keys
from newslake.tasks.lake.storage import AnyPath, write_parquet
from newslake.tasks.stories import WINDOW_DAYS, assign_stories, signature

CLEANED = DOCUMENTS.append(PARTITION)

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_BLANK_LINES = re.compile(r"\n\s*\n")
TITLE_WORDS = 25  # the longest title (the 2,225 BBC titles have 9 words at most)
_SENTENCE_END = re.compile(r"[.!?:;\"”’)\]]$")


@dataclass(frozen=True)
class CleanResult:
    """Documents ready for the lake (CLEANED schema) and the records that were rejected."""

    documents: pa.Table
    rejects: list[Reject]


def stable_hash(*parts: str) -> str:
    """A short, stable hex digest of the given strings (the same on every machine and run)."""
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=12).hexdigest()


def normalise_text(text: str) -> str:
    """Repair mojibake, normalise Unicode and whitespace, and rejoin hard-wrapped lines.

    Paragraphs come out separated by one blank line. A paragraph whose lines were wrapped at a
    fixed width is rejoined into one line; a text whose lines are paragraphs keeps them apart.
    """
    text = ftfy.fix_text(text, uncurl_quotes=False, normalization="NFC")
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    blocks = [[_SPACES.sub(" ", line).strip() for line in block.split("\n")] for block in _BLANK_LINES.split(text)]
    blocks = [[line for line in block if line] for block in blocks]
    lines = [line for block in blocks for line in block]
    wrapped = _is_hard_wrapped(lines)
    paragraphs: list[str] = []
    for block in blocks:
        if wrapped:
            paragraphs.append(_rejoin(block))
        else:
            paragraphs.extend(block)
    return "\n\n".join(p for p in paragraphs if p)


def _is_hard_wrapped(lines: list[str]) -> bool:
    """True when most lines stop near one width without ending a sentence: a wrapped text."""
    if len(lines) < 4:
        return False
    width = max(len(line) for line in lines)
    if width > 120:
        return False
    near_width = sum(len(line) >= 0.6 * width and not _SENTENCE_END.search(line) for line in lines)
    return near_width >= 0.5 * len(lines)


def _rejoin(lines: list[str]) -> str:
    joined = ""
    for line in lines:
        if joined.endswith("-") and not joined.endswith(" -") and line[:1].islower():
            joined = joined[:-1] + line  # a word hyphenated at the line end
        else:
            joined = f"{joined} {line}" if joined else line
    return joined


def split_title(text: str) -> tuple[str | None, str]:
    """A text file's first line is its title when a blank line follows it and it reads as a
    title: at most 25 words, and not a sentence of more than 12 words (an article saved
    without its title starts with its first paragraph)."""
    head, sep, body = text.lstrip("\ufeff").partition("\n")
    if not (sep and body.lstrip(" \t").startswith(("\n", "\r\n")) and head.strip() and body.strip()):
        return None, text
    words = len(head.split())
    if words > TITLE_WORDS or (words > 12 and _SENTENCE_END.search(head.strip())):
        return None, text
    return head.strip(), body


# A page whose article text has fewer words than this is extracted again with trafilatura's
# default settings (tables included), and the longer text kept: on the 621 pages of L3S-GN1
# that finds text in 2 more pages and lifts shingle F1 from 0.898 to 0.900 (bench/extraction.py).
FALLBACK_WORDS = 20


def extract_html(html: bytes | str) -> dict | None:
    """Main text, title, URL, date and page metadata (authors, site name, description, main
    image, tags) of a news web page, by trafilatura; None when no text.

    The same page always gives the same text: trafilatura's deduplication, which drops passages
    it has seen in earlier pages of the process, is off."""
    import trafilatura

    # trafilatura warns of each page it finds no text in; newslake makes that page a reject.
    logger = logging.getLogger("trafilatura")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        found = trafilatura.bare_extraction(
            html, with_metadata=True, include_comments=False, include_tables=False, deduplicate=False
        )
        text = (found.text if found else None) or ""
        if len(text.split()) < FALLBACK_WORDS:
            second = trafilatura.extract(html, include_comments=False) or ""
            text = second if len(second.split()) > len(text.split()) else text
    finally:
        logger.setLevel(level)
    if not text.strip():
        return None
    tags = [*(found.tags or []), *(found.categories or [])] if found else []
    return {"text": text, "tags": "; ".join(tags) if tags else None} | {
        name: getattr(found, attribute, None) if found else None
        for name, attribute in (
            ("title", "title"),
            ("url", "url"),
            ("published", "date"),
            ("authors", "author"),
            ("site_name", "sitename"),
            ("description", "description"),
            ("image", "image"),
        )
    }


# Publication times newslake takes as real: news from 1800 to a day ahead of now (time zones).
EARLIEST_PUBLISHED = datetime(1800, 1, 1, tzinfo=UTC)


def parse_published(value: str | None) -> datetime | None:
    """Parse a publication time in any common format (naive times are taken as UTC); None when
    there is none or it is not a date. A date outside EARLIEST_PUBLISHED to tomorrow (or beyond
    what a timestamp holds) is a ValueError: a record's real date is unknown then."""
    if not value or not value.strip():
        return None
    try:
        parsed = dateparser.parse(value.strip())
    except (ValueError, OverflowError):
        return None
    try:
        parsed = (parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed).astimezone(UTC)
    except OverflowError:
        raise ValueError("beyond the range of a timestamp") from None
    if not EARLIEST_PUBLISHED <= parsed <= datetime.now(UTC) + timedelta(days=1):
        raise ValueError(f"{parsed:%Y-%m-%d} is before {EARLIEST_PUBLISHED:%Y} or after tomorrow")
    return parsed


# Characters read to identify a language: about 150 words, as sure as 3,000 characters on news
# at a third of the cost (the same answer for all 2,225 BBC articles, and for 1,223 of 1,224
# news pages of the L3S corpus; the other, Nigerian Pidgin, is read as Bikol: not English either way).
LANGUAGE_SAMPLE = 1000


# A guess of another language below this probability yields to a kept language that the
# identifier ranks close behind (newswire English read as Nigerian Pidgin at 0.67, say).
SURE = 0.9
CLOSE = 0.05
# Text with fewer letters than this share of its characters is a table of figures, whose few
# words tell little: a kept language among the three first guesses is taken.
FIGURES = 0.5


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def identify_language(text: str, kept: frozenset[str] | None = None) -> tuple[str, float]:
    """ISO 639-1 code of the text's language and its probability (py3langid, on its first
    LANGUAGE_SAMPLE characters). An unsure guess, or any guess on a table of figures, yields to
    a kept language ranked close behind it."""
    sample = text[:LANGUAGE_SAMPLE]
    ranked = _identifier().rank(sample)
    best, probability = ranked[0]
    if kept is None or best in kept:
        return best, probability
    letters = sum(c.isalpha() for c in sample) / max(1, sum(not c.isspace() for c in sample))
    for lang, p in ranked[:3]:
        if lang in kept and (letters < FIGURES or (probability < SURE and p >= CLOSE)):
            return lang, p
    return best, probability


def dask_setup(worker=None) -> None:
    """Make a Dask worker that preloads this module (see `flows.cluster.local_cluster_options`)
    ready to clean: it loads the language identifier's model (half a second) as it starts, not in
    its first batch, unless it was forked from `flows.worker_template`, which loaded it already."""
    identify_language("news")


# The libraries whose versions, besides newslake's own, decide what cleaning makes of a record.
CLEANING_LIBRARIES = ("newslake", "trafilatura", "py3langid", "ftfy")


@lru_cache(maxsize=8)
def clean_settings(*, languages: frozenset[str] | None, min_words: int, max_chars: int) -> str:
    """A digest of what decides whether cleaning rejects a record: the settings and the versions
    of the code. A record rejected under the same digest is rejected again without cleaning."""
    decided_by = [sorted(languages) if languages else None, min_words, max_chars]
    decided_by += [installed_version(name) for name in CLEANING_LIBRARIES]
    return hashlib.blake2b(repr(decided_by).encode(), digest_size=8).hexdigest()


def clean(
    raw: pa.Table,
    *,
    run_id: str,
    ingested_at: datetime,
    languages: frozenset[str] | None,
    min_words: int,
    max_chars: int,
) -> CleanResult:
    """Turn RAW records into CLEANED documents (dup_of still unset) and rejects.

    `languages` lists the language codes to keep; None keeps every language. A text of more
    than `max_chars` characters is rejected (spaCy refuses longer ones by default).
    """
    rows: list[dict] = []
    rejects: list[Reject] = []
    settings = clean_settings(languages=languages, min_words=min_words, max_chars=max_chars)
    for record in raw.to_pylist():
        found = _clean_record(record, languages=languages, min_words=min_words, max_chars=max_chars)
        if isinstance(found, tuple):
            reason, detail = found
            what = (record["source"], record["origin"], reason, detail, decode(record["payload"]))
            rejects.append(Reject(*what, raw_hash=record["raw_hash"], settings=settings))
        else:
            rows.append(found | {"ingested_at": ingested_at, "run_id": run_id})
            rows[-1]["date"] = (found["published_at"] or ingested_at).date()
    return CleanResult(pa.Table.from_pylist(rows, schema=CLEANED), rejects)


def _clean_record(
    record: dict, *, languages: frozenset[str] | None, min_words: int, max_chars: int
) -> dict | tuple[str, str | None]:
    """One raw record's document row (without the run's columns), or why it is rejected."""
    title, url, published = record["title"], record["url"], record["published"]
    page: dict = {}
    if record["kind"] == "html":
        page = extract_html(record["payload"]) or {}
        if not page:
            return "no_text", "no article text found in the HTML"
        text = page["text"]
        title, url, published = title or page["title"], url or page["url"], published or page["published"]
    elif record["kind"] == "txt":
        title, text = split_title(decode(record["payload"]))
    else:
        text = decode(record["payload"])
    if len(text) > max_chars:
        return "too_long", f"{len(text):,} characters, more than {max_chars:,} (NEWSLAKE_MAX_CHARS)"
    text = normalise_text(text)
    n_words = len(text.split())
    if n_words == 0:
        return "empty_text", None
    if n_words < min_words:
        return "too_short", f"{n_words} words, fewer than {min_words}"
    lang, confidence = identify_language(text, languages)
    if languages is not None and lang not in languages:
        return f"language:{lang}", f"kept languages: {', '.join(sorted(languages))}"
    try:
        published_at = parse_published(published)
    except ValueError as exc:
        return "implausible_date", f"published {published!r}: {exc}"
    content_hash = stable_hash(" ".join(text.casefold().split()))
    return {
        "doc_id": _doc_id(record["source"], record["external_id"], url, content_hash),
        "source": record["source"],
        "external_id": record["external_id"],
        "origin": record["origin"],
        "url": url,
        "title": " ".join(ftfy.fix_text(title, uncurl_quotes=False).split()) if title else None,
        "published_at": published_at,
        "date_source": "published" if published_at else "ingested",
        "lang": lang,
        "lang_confidence": round(confidence, 4),
        "text": text,
        "n_words": n_words,
        "content_hash": content_hash,
        "dup_of": None,
        "raw_hash": record["raw_hash"],
        "story_id": None,
        "minhash": signature(text),
    } | page_metadata(record, page)


def page_metadata(record: dict, page: dict) -> dict:
    """A document's page metadata: the record's own fields, else what its web page says; authors
    are separated by `;`, tags by `;` or `,`."""
    found = {name: record.get(name) or page.get(name) for name in ("authors", "site_name", "description", "image")}
    tags = record.get("tags") or page.get("tags")
    return found | {
        "authors": [a.strip() for a in found["authors"].split(";") if a.strip()] or None if found["authors"] else None,
        "tags": [t.strip() for t in re.split(r"[;,]", tags) if t.strip()] or None if tags else None,
    }


def _doc_id(source: str, external_id: str | None, url: str | None, content_hash: str) -> str:
    """Stable id: the source's own id if any, else the URL, else the content."""
    if external_id:
        return stable_hash("id", source, external_id)
    if url:
        return stable_hash("url", url)
    return stable_hash("content", source, content_hash)


def mark_duplicates(docs: pa.Table, *, first_seen: dict[str, str]) -> tuple[pa.Table, dict[str, str]]:
    """Set dup_of to the first doc_id with the same content_hash, in input order.

    `first_seen` maps content_hash to the doc_id that holds it already (from the lake or
    earlier batches); the updated mapping is returned, the input is not changed.
    """
    seen = dict(first_seen)
    dup_of = []
    for doc_id, content_hash in zip(
        docs.column("doc_id").to_pylist(), docs.column("content_hash").to_pylist(), strict=True
    ):
        first = seen.setdefault(content_hash, doc_id)
        dup_of.append(None if first == doc_id else first)
    index = docs.schema.get_field_index("dup_of")
    return docs.set_column(index, docs.schema.field(index), pa.array(dup_of, pa.string())), seen


@dataclass(frozen=True)
class CleanOutput:
    """A cleaned batch (its `clean` and `rejects-clean` files staged), and how many of each."""

    batch: Batch
    kept: int
    rejected: int


@task(name="clean", cache_policy=NO_CACHE)
def clean_batch(
    batch: Batch,
    *,
    run_id: str,
    ingested_at: datetime,
    languages: frozenset[str] | None,
    min_words: int,
    max_chars: int,
) -> CleanOutput:
    """Clean one staged raw batch into staged documents and rejects."""
    result = clean(
        batch.read("raw").select(RAW.names).cast(RAW),
        run_id=run_id,
        ingested_at=ingested_at,
        languages=languages,
        min_words=min_words,
        max_chars=max_chars,
    )
    batch.write("clean", result.documents)
    batch.write("rejects-clean", rejects_table(result.rejects, stage="clean", run_id=run_id, day=ingested_at.date()))
    return CleanOutput(batch, len(result.documents), len(result.rejects))


def _story_neighbours(lake: Lake, days: list[date]) -> list[tuple[str, str, bytes, date]]:
    """The lake's labelled documents (doc_id, story_id, minhash, day) published near the given days."""
    if not days:
        return []
    low, high = min(days) - timedelta(days=WINDOW_DAYS), max(days) + timedelta(days=WINDOW_DAYS)
    near = [d for d in lake.partition_days("documents") if low <= d <= high]
    found = read_days(lake, TABLES["documents"], near, ["doc_id", "story_id", "minhash"]).to_pylist()
    return [
        (r["doc_id"], r["story_id"] or r["doc_id"], r["minhash"], r["date"]) for r in found if r["minhash"] is not None
    ]


def task_sizes(n: int, batch_size: int, smallest: int = 16) -> list[int]:
    """How many documents each annotation task gets: whole batches first, then the last two
    batches' worth in halves of what is left (down to about `smallest`), so that the workers run out
    of work together instead of one finishing a whole batch alone while the others wait."""
    sizes, rest = [], n
    while rest:
        if rest > 2 * batch_size:
            size = batch_size
        elif rest < 2 * smallest:
            size = rest
        else:
            size = -(-rest // 2)
        size = min(size, batch_size)
        sizes.append(size)
        rest -= size
    return sizes


@dataclass(frozen=True)
class DedupOutput:
    """The staged batches of documents to publish (new or changed, with dup_of set) and counts.

    Records whose doc_id the lake holds with the same content are `skipped`: nothing to redo.
    """

    batches: list[Batch]
    rejects: AnyPath
    new: int
    changed: int
    skipped: int
    duplicates: int
    rejected: int


@task(name="deduplicate", cache_policy=NO_CACHE)
def deduplicate(batches: list[Batch], *, lake: Lake, run_id: str, day: date, batch_size: int) -> DedupOutput:
    """Drop what the lake already holds, mark exact duplicates across batches and the lake, label
    stories, and stage the documents again in batches for annotation (see `task_sizes`).

    A record whose doc_id already came earlier in this run is the same record delivered
    twice: it becomes a `duplicate_id` reject, since a doc_id names one document.
    """
    cleaned = pa.concat_tables([b.read("clean") for b in batches]) if batches else CLEANED.empty_table()
    ids, texts = cleaned.column("doc_id").to_pylist(), cleaned.column("content_hash").to_pylist()
    keys = read_keys(lake, ["doc_id", "content_hash", "dup_of"], where={"doc_id": ids, "content_hash": texts})
    mine = pc.is_in(keys.column("doc_id"), value_set=cleaned.column("doc_id").combine_chunks())
    held = dict(zip(*keys.filter(mine).select(["doc_id", "content_hash"]).to_pydict().values(), strict=True))
    statuses, rejects = _classify(cleaned, held)
    changed = {
        i for i, status in zip(cleaned.column("doc_id").to_pylist(), statuses, strict=True) if status == "changed"
    }
    same_text = pc.is_in(keys.column("content_hash"), value_set=cleaned.column("content_hash").combine_chunks())
    originals = keys.filter(pc.and_(same_text, pc.is_null(keys.column("dup_of")))).to_pylist()
    first_seen = {r["content_hash"]: r["doc_id"] for r in originals if r["doc_id"] not in changed}
    keep = pa.array([status in ("new", "changed") for status in statuses], pa.bool_())
    documents, _ = mark_duplicates(cleaned.filter(keep), first_seen=first_seen)
    counts = Counter(statuses)
    counts["duplicates"] = len(documents) - documents.column("dup_of").null_count
    documents = _label_stories(documents, lake)
    staging = lake.staging(run_id)
    staged, start = [], 0
    for n, size in enumerate(task_sizes(len(documents), batch_size)):
        staged.append(staging.batch(f"{n:04d}"))
        staged[-1].write("documents", documents.slice(start, size))
        start += size
    write_parquet(staging.rejects("dedup"), rejects_table(rejects, stage="clean", run_id=run_id, day=day))
    del cleaned, documents
    # This process then waits for minutes while others annotate: give the run's documents back
    # (Arrow's allocator keeps freed memory otherwise: 65 MB of 90 on three copies of the BBC).
    pa.default_memory_pool().release_unused()
    return DedupOutput(
        staged,
        staging.rejects("dedup"),
        counts["new"],
        counts["changed"],
        counts["skipped"],
        counts["duplicates"],
        len(rejects),
    )


def _classify(cleaned: pa.Table, held: dict[str, str]) -> tuple[list[str], list[Reject]]:
    """Each cleaned record's status against the lake's (doc_id, content_hash) and the records
    before it in the run: new, changed, skipped (held unchanged) or rejected (a doc_id twice)."""
    ids, hashes = cleaned.column("doc_id").to_pylist(), cleaned.column("content_hash").to_pylist()
    seen_ids: set[str] = set()
    statuses, rejects = [], []
    for row, (doc_id, content_hash) in enumerate(zip(ids, hashes, strict=True)):
        if doc_id in seen_ids:
            record = cleaned.slice(row, 1).select(["source", "origin", "text"]).to_pylist()[0]
            detail = f"doc_id {doc_id} already read earlier in this run"
            rejects.append(Reject(record["source"], record["origin"], "duplicate_id", detail, record["text"]))
            statuses.append("rejected")
        elif held.get(doc_id) == content_hash:
            statuses.append("skipped")
        else:
            statuses.append("changed" if doc_id in held else "new")
        seen_ids.add(doc_id)
    return statuses, rejects


def _label_stories(documents: pa.Table, lake: Lake) -> pa.Table:
    """The documents with their `story_id`, among themselves and the lake's documents near their days."""
    stories = assign_stories(
        zip(*documents.select(["doc_id", "minhash", "date"]).to_pydict().values(), strict=True),
        _story_neighbours(lake, documents.column("date").unique().to_pylist()),
    )
    index = documents.schema.get_field_index("story_id")
    labels = pa.array([stories[d] for d in documents.column("doc_id").to_pylist()], pa.string())
    return documents.set_column(index, documents.schema.field(index), labels)
