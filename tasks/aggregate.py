"""Aggregate: daily rollups computed with Polars from whole day partitions of the lake.

Rollups are recomputed for every day a run touches, from all rows of that day, so they stay
right however many runs contributed to the day.
"""

from collections.abc import Iterable
from datetime import date, timedelta

import polars as pl
import pyarrow as pa
from prefect import task
from prefect.cache_policies import NO_CACHE

from newslake.schemas import ROLLUP_TABLES, TABLES
from newslake.tasks.lake import Lake, read_days, stage_rows
from newslake.tasks.links import (
    WINDOW_DAYS,
    apply_links,
    decide_links,
    full_name_documents,
    full_name_documents_from_rollups,
    link_rows,
    lone_surnames,
)

# Digits a rollup's mean tone keeps: a float sum depends on the order Polars adds in, and a
# rollup must come out the same from the same rows.
TONE_DIGITS = 6


def _mean_tone(rows: pl.Expr | None = None) -> pl.Expr:
    return (pl.col("tone") if rows is None else rows).mean().round(TONE_DIGITS).alias("tone")


def entity_daily(entities: pa.Table) -> pa.Table:
    """Mentions and documents per entity per day, and the mean tone of its documents' sentences
    that mention it, from `entities` rows (with `date`)."""
    frame = pl.from_arrow(entities)
    result = (
        frame.group_by("date", "entity_key")
        .agg(
            pl.col("name").mode().sort().first().alias("name"),
            pl.col("label").mode().sort().first().alias("label"),
            pl.col("mentions").sum().cast(pl.Int64).alias("mentions"),
            pl.col("doc_id").n_unique().cast(pl.Int64).alias("documents"),
            _mean_tone(),
        )
        .sort("date", "mentions", "entity_key", descending=[False, True, False])
    )
    return result.to_arrow()


def cooccurrence_daily(entities: pa.Table, documents: pa.Table) -> pa.Table:
    """Pairs of entities found in the same document, per day: documents and distinct stories.

    Each pair appears once, with `entity_key` < `other_key`. `entities` needs doc_id,
    entity_key, name and date; `documents` needs doc_id and story_id. A day of tens of
    thousands of documents makes millions of pairs: the self-join runs on integer codes, in
    Polars' streaming engine, and a document holds each pair once (entities are unique per
    document), so documents are counted, not made unique.
    """
    ents = pl.from_arrow(entities).lazy().select("date", "doc_id", "entity_key", "name")
    keys = ents.group_by("entity_key").agg(pl.col("name").mode().sort().first()).sort("entity_key").with_row_index("k")
    stories = pl.from_arrow(documents).lazy().select("doc_id", "story_id")
    docs = (
        ents.select("doc_id")
        .unique()
        .join(stories, on="doc_id", how="left")
        .select("doc_id", pl.coalesce("story_id", "doc_id").rank("dense").alias("s"))
        .with_row_index("d")
    )
    slim = (
        ents.join(keys.select("entity_key", "k"), on="entity_key").join(docs, on="doc_id").select("date", "d", "s", "k")
    )
    pairs = slim.join(slim.select("d", pl.col("k").alias("other")), on="d").filter(pl.col("k") < pl.col("other"))
    counted = pairs.group_by("date", "k", "other").agg(
        pl.len().cast(pl.Int64).alias("documents"), pl.col("s").n_unique().cast(pl.Int64).alias("stories")
    )
    named = keys.select("k", "entity_key", "name")
    result = (
        counted.join(named, on="k")
        .join(named.rename({"k": "other", "entity_key": "other_key", "name": "other_name"}), on="other")
        .select("date", "entity_key", "other_key", "name", "other_name", "documents", "stories")
        .sort("date", "documents", "entity_key", "other_key", descending=[False, True, False, False])
    )
    return result.collect(engine="streaming").to_arrow()


def speaker_daily(quotes: pa.Table) -> pa.Table:
    """Quotes and documents per speaking entity per day, from `quotes` rows (with `date`); quotes
    whose speaker is not an entity (`a Cabinet Office spokeswoman`) stay in `quotes` only."""
    result = (
        pl.from_arrow(quotes)
        .filter(pl.col("speaker_key").is_not_null())
        .group_by("date", "speaker_key")
        .agg(
            pl.col("speaker").mode().sort().first(),
            pl.len().cast(pl.Int64).alias("quotes"),
            pl.col("doc_id").n_unique().cast(pl.Int64).alias("documents"),
        )
        .sort("date", "quotes", "speaker_key", descending=[False, True, False])
    )
    return result.to_arrow()


def source_daily(documents: pa.Table, mentions: pa.Table, tone: pa.Table) -> pa.Table:
    """Documents, duplicates, words, mentions and mean tone per source per day.

    `documents` needs doc_id, source, n_words, dup_of and date; `mentions` needs doc_id; `tone`
    doc_id and tone. Words, mentions and tone count unique documents only.
    """
    docs = pl.from_arrow(documents).select("date", "source", "doc_id", "n_words", "dup_of")
    per_doc = pl.from_arrow(mentions).group_by("doc_id").len("mentions")
    tones = pl.from_arrow(tone).select("doc_id", "tone")
    unique = pl.col("dup_of").is_null()
    result = (
        docs.join(per_doc, on="doc_id", how="left")
        .join(tones, on="doc_id", how="left")
        .group_by("date", "source")
        .agg(
            unique.sum().cast(pl.Int64).alias("documents"),
            (~unique).sum().cast(pl.Int64).alias("duplicates"),
            pl.col("n_words").filter(unique).sum().cast(pl.Int64).alias("words"),
            pl.col("mentions").filter(unique).fill_null(0).sum().cast(pl.Int64).alias("mentions"),
            _mean_tone(pl.col("tone").filter(unique)),
        )
        .sort("date", "source")
    )
    return result.to_arrow()


def location_daily(locations: pa.Table, tone: pa.Table) -> pa.Table:
    """Mentions, documents and the mean tone of those documents per place per day.

    `locations` needs doc_id, place_key, name, type, country, lat, lon and date; `tone` doc_id
    and tone."""
    tones = pl.from_arrow(tone).select("doc_id", "tone")
    result = (
        pl.from_arrow(locations)
        .join(tones, on="doc_id", how="left")
        .group_by("date", "place_key")
        .agg(
            pl.col("name", "type", "country", "lat", "lon").first(),
            pl.len().cast(pl.Int64).alias("mentions"),
            pl.col("doc_id").n_unique().cast(pl.Int64).alias("documents"),
            _mean_tone(pl.col("tone").filter(pl.col("doc_id").is_first_distinct())),  # each document once
        )
        .sort("date", "mentions", "place_key", descending=[False, True, False])
    )
    return result.to_arrow()


def theme_daily(themes: pa.Table, documents: pa.Table, tone: pa.Table) -> pa.Table:
    """Documents, distinct stories and the mean tone of those documents per theme per day.

    `themes` needs doc_id, theme and date; `documents` doc_id and story_id; `tone` doc_id and tone."""
    per_doc = pl.from_arrow(themes).select("date", "theme", "doc_id").unique()
    stories = pl.from_arrow(documents).select("doc_id", "story_id")
    tones = pl.from_arrow(tone).select("doc_id", "tone")
    result = (
        per_doc.join(stories, on="doc_id", how="left")
        .join(tones, on="doc_id", how="left")
        .group_by("date", "theme")
        .agg(
            pl.len().cast(pl.Int64).alias("documents"),
            pl.coalesce("story_id", "doc_id").n_unique().cast(pl.Int64).alias("stories"),
            _mean_tone(),
        )
        .sort("date", "documents", "theme", descending=[False, True, False])
    )
    return result.to_arrow()


# Rollups keyed by entity: they count a lone surname under the full name it links to
# (`tasks/links`), and a link decided for one day can change the links of the days after it.
ENTITY_ROLLUPS = ("entity_daily", "entity_links", "cooccurrence_daily", "speaker_daily")


def entity_rollups(
    entities: pl.DataFrame, quotes: pl.DataFrame, documents: pa.Table, links: pl.DataFrame
) -> dict[str, pa.Table]:
    """The rollups keyed by entity, with `links` applied; `entities` needs doc_id, entity_key,
    name, label, mentions, tone and date; `quotes` doc_id, speaker, speaker_key and date;
    `documents` doc_id and story_id."""
    linked = apply_links(entities, links)
    speakers = apply_links(quotes, links, key="speaker_key", name="speaker")
    return {
        "entity_daily": entity_daily(linked.to_arrow()),
        "entity_links": link_rows(entities, links).to_arrow(),
        "cooccurrence_daily": cooccurrence_daily(linked.unique(["date", "doc_id", "entity_key"]).to_arrow(), documents),
        "speaker_daily": speaker_daily(speakers.to_arrow()),
    }


def _decide_links(lake: Lake, days: set[date], fresh: pl.DataFrame, commit_id: str) -> tuple[pl.DataFrame, set[date]]:
    """The links of `days` (whose entities are `fresh`) and of the later days within the window,
    and those later days whose links change."""
    rolled = set(lake.partition_days("entity_daily"))
    window = timedelta(days=WINDOW_DAYS)
    later = {d for d in rolled - days if any(t < d <= t + window for t in days)}
    before = {d for d in rolled - days if min(days) - window <= d <= max(days | later)}

    def stored(name: str, columns: list[str]) -> pl.DataFrame:
        return pl.from_arrow(read_days(lake, TABLES[name], sorted(before), columns, commit_id=commit_id))

    rollup = stored("entity_daily", ["entity_key", "name", "documents"])
    old_links = stored("entity_links", ["entity_key", "canonical_key", "documents"])
    evidence = pl.concat([full_name_documents(fresh), full_name_documents_from_rollups(rollup, old_links)])
    on_later_days = pl.col("date").is_in(sorted(later))
    kept = [rollup.filter(on_later_days), old_links.filter(on_later_days)]
    candidates = pl.concat([lone_surnames(fresh), *(lone_surnames(frame) for frame in kept)])
    links = decide_links(candidates.unique(), evidence)

    def pairs(frame: pl.DataFrame) -> set:
        return set(frame.filter(on_later_days).select("date", "entity_key", "canonical_key").iter_rows())

    changed = pairs(links) ^ pairs(old_links)
    return links, {day for day, _, _ in changed}


@task(name="aggregate", cache_policy=NO_CACHE)
def rollup_days(
    *, lake: Lake, days: list[date], commit_id: str, tables: Iterable[str] = ROLLUP_TABLES
) -> dict[str, int]:
    """Stage the daily rollups of the given days, computed from the days as the commit leaves
    them; the entity rollups also of the later days whose surname links the change moves."""

    def read(name: str, columns: list[str], on: Iterable[date] = days) -> pa.Table:
        return read_days(lake, TABLES[name], on, columns, commit_id=commit_id)

    rows, staged_days = {}, {name: list(days) for name in ROLLUP_TABLES}
    if set(ENTITY_ROLLUPS) & set(tables) and days:
        columns = ["doc_id", "entity_key", "name", "label", "mentions", "tone"]
        fresh = pl.from_arrow(read("entities", columns))
        links, relinked = _decide_links(lake, set(days), fresh, commit_id)
        entities = pl.concat([fresh, pl.from_arrow(read("entities", columns, sorted(relinked)))])
        every = sorted(set(days) | relinked)
        quotes = pl.from_arrow(read("quotes", ["doc_id", "speaker", "speaker_key"], every))
        rows |= entity_rollups(entities, quotes, read("documents", ["doc_id", "story_id"], every), links)
        staged_days |= {name: every for name in ENTITY_ROLLUPS}
    if {"source_daily", "location_daily", "theme_daily"} & set(tables):
        tone = read("tone", ["doc_id", "tone"])
    if "source_daily" in tables:
        documents = read("documents", ["doc_id", "source", "n_words", "dup_of"])
        rows["source_daily"] = source_daily(documents, read("mentions", ["doc_id"]), tone)
    if "location_daily" in tables:
        columns = ["doc_id", "place_key", "name", "type", "country", "lat", "lon"]
        rows["location_daily"] = location_daily(read("locations", columns), tone)
    if "theme_daily" in tables:
        rows["theme_daily"] = theme_daily(
            read("themes", ["doc_id", "theme"]), read("documents", ["doc_id", "story_id"]), tone
        )
    for name, rollup in rows.items():
        stage_rows(lake, TABLES[name], rollup, commit_id=commit_id, days=staged_days[name])
    return {name: len(rollup) for name, rollup in rows.items()}
