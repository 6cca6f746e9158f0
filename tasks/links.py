"""Link a lone surname, across documents, to the one full name that owns it in the lake.

Within a document, `resolve` names a surname after a full name the same document gives. A
document that gives only the surname ("Reagan said ...") keeps the surname's key
(`person:reagan`) in its annotations, and keeps it for good: a key never changes once a
document is annotated. The entity rollups count such a key under the full name that dominates
the surname in the lake near its day (rule `surname_in_lake`):

- evidence: the documents of the day and of the `WINDOW_DAYS` before it that name a person in
  full whose last name is the surname (`Ronald Reagan`, `Nancy Reagan`);
- link: one full name holds at least `MIN_DOCUMENTS` of them and at least `DOMINANCE` of them
  all. With no evidence, or with a rival (`Howard Baker` and `James Baker` in the same weeks),
  the surname stays apart.

A day's links depend on that day and earlier ones only, so a new day never changes the rollups
of the days before it; a day written later than its successors re-decides their links, and the
rollups of every day whose links change are recomputed in the same commit. The table
`entity_links` holds each day's links, so that annotations can be read resolved too.
"""

import polars as pl

RULE = "surname_in_lake"
WINDOW_DAYS = 30
MIN_DOCUMENTS = 3
DOMINANCE = 0.8
# Words after a surname that are not the surname: `person:martin luther king jr`.
SUFFIXES = ("jr", "jr.", "sr", "sr.", "ii", "iii", "iv")

_PERSON = "person:"


def _words(key: str = "entity_key") -> pl.Expr:
    return (
        pl.col(key)
        .str.strip_prefix(_PERSON)
        .str.split(" ")
        .list.eval(pl.element().filter(~pl.element().is_in(SUFFIXES)))
    )


def _surname_of_full_name(key: str = "entity_key") -> pl.Expr:
    """The last name of a person key of two words or more; null for any other key."""
    return pl.when(pl.col(key).str.starts_with(_PERSON) & (_words(key).list.len() >= 2)).then(_words(key).list.last())


def _lone_surname(key: str = "entity_key") -> pl.Expr:
    """The one word of a one-word person key; null for any other key."""
    one_word = pl.col(key).str.starts_with(_PERSON) & ~pl.col(key).str.contains(" ")
    return pl.when(one_word).then(pl.col(key).str.strip_prefix(_PERSON))


def full_name_documents(entities: pl.DataFrame) -> pl.DataFrame:
    """Per day, the documents that name each person in full, with the surname: the evidence.
    `entities` needs date, doc_id, entity_key and name."""
    return (
        entities.with_columns(_surname_of_full_name().alias("surname"))
        .filter(pl.col("surname").is_not_null())
        .group_by("date", "entity_key", "surname")
        .agg(pl.col("name").mode().sort().first(), pl.col("doc_id").n_unique().cast(pl.Int64).alias("documents"))
        .select("date", "entity_key", "surname", "name", "documents")
    )


def full_name_documents_from_rollups(entity_daily: pl.DataFrame, entity_links: pl.DataFrame) -> pl.DataFrame:
    """The evidence of days already rolled up: a full name's documents in `entity_daily` less
    those of the surnames linked to it (a document that names someone in full has no lone
    surname of that person: `resolve` names it after the full name)."""
    linked = entity_links.group_by("date", pl.col("canonical_key").alias("entity_key")).agg(
        pl.col("documents").sum().alias("linked")
    )
    return (
        entity_daily.with_columns(_surname_of_full_name().alias("surname"))
        .filter(pl.col("surname").is_not_null())
        .join(linked, on=["date", "entity_key"], how="left")
        .with_columns(pl.col("documents") - pl.col("linked").fill_null(0))
        .select("date", "entity_key", "surname", "name", "documents")
    )


def lone_surnames(frame: pl.DataFrame, key: str = "entity_key") -> pl.DataFrame:
    """The one-word person keys of each day in `frame` (date and `key`), with their surname."""
    return (
        frame.select("date", pl.col(key).alias("entity_key"))
        .with_columns(_lone_surname().alias("surname"))
        .filter(pl.col("surname").is_not_null())
        .unique()
    )


def decide_links(candidates: pl.DataFrame, evidence: pl.DataFrame) -> pl.DataFrame:
    """The full name each candidate surname (date, entity_key, surname) counts under on its day,
    from `evidence` (date, entity_key, surname, name, documents): date, entity_key,
    canonical_key, canonical_name and evidence (the full name's documents in the window)."""
    seen = evidence.select(
        pl.col("date").alias("seen"),
        pl.col("entity_key").alias("canonical_key"),
        pl.col("name").alias("canonical_name"),
        "surname",
        "documents",
    )
    near = candidates.join(seen, on="surname").filter(
        pl.col("seen").is_between(pl.col("date") - pl.duration(days=WINDOW_DAYS), pl.col("date"))
    )
    per_name = near.group_by("date", "entity_key", "canonical_key").agg(
        pl.col("canonical_name").sort_by("seen").last(), pl.col("documents").sum().alias("evidence")
    )
    total = pl.col("evidence").sum().over("date", "entity_key")
    return (
        per_name.filter((pl.col("evidence") >= MIN_DOCUMENTS) & (pl.col("evidence") >= DOMINANCE * total))
        .select("date", "entity_key", "canonical_key", "canonical_name", pl.col("evidence").cast(pl.Int64))
        .sort("date", "entity_key")
    )


def apply_links(
    frame: pl.DataFrame, links: pl.DataFrame, *, key: str = "entity_key", name: str = "name"
) -> pl.DataFrame:
    """`frame` (with date) with each linked key, and its name, replaced by its full name's."""
    linked = links.select("date", pl.col("entity_key").alias(key), "canonical_key", "canonical_name")
    return (
        frame.join(linked, on=["date", key], how="left")
        .with_columns(pl.coalesce("canonical_key", key).alias(key), pl.coalesce("canonical_name", name).alias(name))
        .drop("canonical_key", "canonical_name")
    )


def link_rows(entities: pl.DataFrame, links: pl.DataFrame) -> pl.DataFrame:
    """The `entity_links` rows: each link with the rule, and the mentions and documents of the
    surname on its day. `entities` needs date, doc_id, entity_key and mentions."""
    counts = entities.group_by("date", "entity_key").agg(
        pl.col("mentions").sum().cast(pl.Int64), pl.col("doc_id").n_unique().cast(pl.Int64).alias("documents")
    )
    return links.join(counts, on=["date", "entity_key"]).with_columns(pl.lit(RULE).alias("rule"))
