"""The dataset contract: one Arrow schema per lake table, its partitioning and its version.

Files hold the columns below; the partition column `date` lives in the Hive path
(`<table>/date=YYYY-MM-DD/`) and readers get it back with hive partitioning.
"""

from dataclasses import dataclass

import pyarrow as pa

# Schema changes are additive: a new version only adds nullable columns, so partitions written
# by older versions stay readable next to new ones (DuckDB union_by_name, Polars, and newslake
# itself, which reads a missing column as nulls).
#   1: first version
#   2: runs.kind, runs.new, runs.changed, runs.skipped
#   3: documents.raw_hash
#   4: mentions.name, mentions.rule, documents.story_id, documents.minhash; tables quotes, amounts, speaker_daily,
#      cooccurrence_daily
#   5: entities.tone, entity_daily.tone, source_daily.tone, amounts.count_type, amounts.value_high,
#      quotes.speaker_org_key, documents.authors, site_name, description, image, tags, lang_confidence;
#      tables tone, locations, themes, dates, location_daily, theme_daily
#   6: table entity_links; rejects.raw_hash, rejects.settings
SCHEMA_VERSION = 6

PARTITION = pa.field("date", pa.date32(), nullable=False)

_TS = pa.timestamp("us", tz="UTC")

DOCUMENTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("external_id", pa.string()),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("published_at", _TS),
        pa.field("date_source", pa.string(), nullable=False),
        pa.field("lang", pa.string(), nullable=False),
        pa.field("lang_confidence", pa.float64()),  # the language identifier's probability of `lang`
        pa.field("text", pa.large_string(), nullable=False),
        pa.field("n_words", pa.int32(), nullable=False),
        pa.field("content_hash", pa.string(), nullable=False),
        pa.field("dup_of", pa.string()),
        pa.field("ingested_at", _TS, nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("raw_hash", pa.string()),
        pa.field("story_id", pa.string()),
        pa.field("minhash", pa.binary()),
        # Page metadata: from a web page (trafilatura) or a structured record's own fields.
        pa.field("authors", pa.list_(pa.string())),
        pa.field("site_name", pa.string()),
        pa.field("description", pa.string()),
        pa.field("image", pa.string()),
        pa.field("tags", pa.list_(pa.string())),
    ]
)

# A version of a document that a later run replaced (its file or record changed): the row as it
# was, with the run that replaced it.
REPLACED_DOCUMENTS = pa.schema(
    [*DOCUMENTS, pa.field("replaced_by", pa.string(), nullable=False), pa.field("replaced_at", _TS, nullable=False)]
)

SENTENCES = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
    ]
)

MENTIONS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("entity_key", pa.string(), nullable=False),
        pa.field("name", pa.string()),
        pa.field("rule", pa.string()),
    ]
)

QUOTES = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("speaker", pa.string(), nullable=False),
        pa.field("speaker_key", pa.string()),
        pa.field("cue", pa.string()),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("speaker_org_key", pa.string()),  # the organisation an unnamed speaker speaks for
    ]
)

AMOUNTS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("unit", pa.string()),
        pa.field("count_type", pa.string()),  # what a count of people or things is of: KILL, ARREST, PROTEST, ...
        pa.field("value_high", pa.float64()),  # a range's high end; `value` is its low end
    ]
)

ENTITIES = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("entity_key", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("mentions", pa.int32(), nullable=False),
        pa.field("tone", pa.float64()),  # the tone of the sentences that mention it
    ]
)

# GKG's V1.5TONE fields: each a percentage of the document's words (see docs/tables.md).
TONE = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("tone", pa.float64()),
        pa.field("positive", pa.float64()),
        pa.field("negative", pa.float64()),
        pa.field("polarity", pa.float64()),
        pa.field("activity_density", pa.float64()),
        pa.field("self_group_density", pa.float64()),
        pa.field("word_count", pa.int32(), nullable=False),
    ]
)

LOCATIONS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("place_key", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("country", pa.string()),  # ISO 3166 alpha-2
        pa.field("fips", pa.string()),  # FIPS 10-4, GKG's country codes
        pa.field("admin1", pa.string()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("geonameid", pa.int64()),
        pa.field("rule", pa.string(), nullable=False),
    ]
)

THEMES = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("theme", pa.string(), nullable=False),
    ]
)

DATES = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("end_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("resolved", pa.date32()),
        pa.field("resolution", pa.string()),  # day, month or year; null when not a point in time
    ]
)

TOKENS = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("sent_id", pa.int32(), nullable=False),
        pa.field("i", pa.int32(), nullable=False),
        pa.field("start_char", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("lemma", pa.string(), nullable=False),
        pa.field("pos", pa.string(), nullable=False),
        pa.field("tag", pa.string(), nullable=False),
        pa.field("dep", pa.string(), nullable=False),
        pa.field("head", pa.int32(), nullable=False),
        pa.field("ent_type", pa.string(), nullable=False),
        pa.field("ent_iob", pa.string(), nullable=False),
    ]
)

ENTITY_DAILY = pa.schema(
    [
        pa.field("entity_key", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("mentions", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("tone", pa.float64()),
    ]
)

# A lone surname counted, on its day, under the full name that owns it in the lake (`tasks/links`).
ENTITY_LINKS = pa.schema(
    [
        pa.field("entity_key", pa.string(), nullable=False),
        pa.field("canonical_key", pa.string(), nullable=False),
        pa.field("canonical_name", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("mentions", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("evidence", pa.int64(), nullable=False),  # documents naming the full name in the window
    ]
)

COOCCURRENCE_DAILY = pa.schema(
    [
        pa.field("entity_key", pa.string(), nullable=False),
        pa.field("other_key", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("other_name", pa.string(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("stories", pa.int64(), nullable=False),
    ]
)

SPEAKER_DAILY = pa.schema(
    [
        pa.field("speaker_key", pa.string(), nullable=False),
        pa.field("speaker", pa.string(), nullable=False),
        pa.field("quotes", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
    ]
)

SOURCE_DAILY = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("words", pa.int64(), nullable=False),
        pa.field("mentions", pa.int64(), nullable=False),
        pa.field("tone", pa.float64()),
    ]
)

LOCATION_DAILY = pa.schema(
    [
        pa.field("place_key", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("type", pa.string(), nullable=False),
        pa.field("country", pa.string()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("mentions", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("tone", pa.float64()),
    ]
)

THEME_DAILY = pa.schema(
    [
        pa.field("theme", pa.string(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("stories", pa.int64(), nullable=False),
        pa.field("tone", pa.float64()),
    ]
)

REJECTS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("origin", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("payload", pa.large_string()),
        pa.field("raw_hash", pa.string()),  # the record's raw_hash; for what is not a record, a digest of what was read
        pa.field("settings", pa.string()),  # the clean settings that rejected a record (see clean.clean_settings)
    ]
)

_COUNTS = pa.map_(pa.string(), pa.int64())

RUNS = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("started_at", _TS, nullable=False),
        pa.field("finished_at", _TS, nullable=False),
        pa.field("parameters", pa.string(), nullable=False),
        pa.field("inputs", pa.int64(), nullable=False),
        pa.field("documents", pa.int64(), nullable=False),
        pa.field("new", pa.int64()),
        pa.field("changed", pa.int64()),
        pa.field("skipped", pa.int64()),
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("rejects", pa.int64(), nullable=False),
        pa.field("rejects_by_reason", _COUNTS, nullable=False),
        pa.field("rows", _COUNTS, nullable=False),
        pa.field("seconds", pa.map_(pa.string(), pa.float64()), nullable=False),
        pa.field("versions", pa.map_(pa.string(), pa.string()), nullable=False),
        pa.field("kind", pa.string()),
    ]
)


@dataclass(frozen=True)
class Table:
    """A lake table: its file schema, the columns that identify a row within a partition, and
    the column whose values a run replaces as a unit (none: a run rewrites whole partitions)."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...]
    replace_by: str | None

    @property
    def dataset_schema(self) -> pa.Schema:
        """The schema a reader sees: the file columns plus the Hive partition column."""
        return self.schema.append(PARTITION)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("documents", DOCUMENTS, ("doc_id",), "doc_id"),
        Table("sentences", SENTENCES, ("doc_id", "sent_id"), "doc_id"),
        Table("mentions", MENTIONS, ("doc_id", "start_char", "end_char"), "doc_id"),
        Table("entities", ENTITIES, ("doc_id", "entity_key"), "doc_id"),
        Table("quotes", QUOTES, ("doc_id", "start_char"), "doc_id"),
        Table("amounts", AMOUNTS, ("doc_id", "start_char"), "doc_id"),
        Table("tone", TONE, ("doc_id",), "doc_id"),
        Table("locations", LOCATIONS, ("doc_id", "start_char"), "doc_id"),
        Table("themes", THEMES, ("doc_id", "start_char", "theme"), "doc_id"),
        Table("dates", DATES, ("doc_id", "start_char"), "doc_id"),
        Table("tokens", TOKENS, ("doc_id", "i"), "doc_id"),
        Table("entity_daily", ENTITY_DAILY, ("entity_key",), None),
        Table("entity_links", ENTITY_LINKS, ("entity_key",), None),
        Table("cooccurrence_daily", COOCCURRENCE_DAILY, ("entity_key", "other_key"), None),
        Table("speaker_daily", SPEAKER_DAILY, ("speaker_key",), None),
        Table("source_daily", SOURCE_DAILY, ("source",), None),
        Table("location_daily", LOCATION_DAILY, ("place_key",), None),
        Table("theme_daily", THEME_DAILY, ("theme",), None),
        Table("rejects", REJECTS, ("origin",), "origin"),
        Table("replaced_documents", REPLACED_DOCUMENTS, ("replaced_by", "doc_id"), "replaced_by"),
        Table("runs", RUNS, ("run_id",), "run_id"),
    )
}

# Tables derived from documents by annotation, in the order a run publishes them.
ANNOTATION_TABLES = (
    "sentences",
    "mentions",
    "entities",
    "quotes",
    "amounts",
    "tone",
    "locations",
    "themes",
    "dates",
    "tokens",
)
ROLLUP_TABLES = (
    "entity_daily",
    "entity_links",
    "cooccurrence_daily",
    "speaker_daily",
    "source_daily",
    "location_daily",
    "theme_daily",
)
