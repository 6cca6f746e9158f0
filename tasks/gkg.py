"""GKG export: the lake's documents as GDELT Global Knowledge Graph 2.1 records, so that tools
built on GKG files read newslake's output.

One tab-separated line per unique document, in the codebook's 27 columns and its delimiters
(`;` between blocks, `#` or `,` within a block, `|` within a quotation). Fields newslake has no
source for stay empty (GCAM holds the word count only; related images, embeds and translation
info are empty); the sharing image is the page's main image.
Names in V1PERSONS and V1ORGANIZATIONS are lower-case, as GKG's are. Places carry FIPS country
codes as GKG's do, GeoNames ids as feature ids (GKG uses GNS and GNIS ids), ADM1 as the FIPS
country code and GeoNames' admin1 code, and no coordinates for countries and states. A record
id is `<V2.1DATE>-<doc_id>`. Quotations
keep GKG's offset, length, verb and text; their speakers, which GKG cannot carry, go in
V2EXTRASXML as `<NEWSLAKE_SPEAKERS>`, beside the page title.
"""

import html
import re
import sys
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

import pyarrow as pa

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, read_days

COLUMNS = (
    "GKGRECORDID", "V2.1DATE", "V2SOURCECOLLECTIONIDENTIFIER", "V2SOURCECOMMONNAME", "V2DOCUMENTIDENTIFIER",
    "V1COUNTS", "V2.1COUNTS", "V1THEMES", "V2ENHANCEDTHEMES", "V1LOCATIONS", "V2ENHANCEDLOCATIONS", "V1PERSONS",
    "V2ENHANCEDPERSONS", "V1ORGANIZATIONS", "V2ENHANCEDORGANIZATIONS", "V1.5TONE", "V2.1ENHANCEDDATES", "V2GCAM",
    "V2.1SHARINGIMAGE", "V2.1RELATEDIMAGES", "V2.1SOCIALIMAGEEMBEDS", "V2.1SOCIALVIDEOEMBEDS", "V2.1QUOTATIONS",
    "V2.1ALLNAMES", "V2.1AMOUNTS", "V2.1TRANSLATIONINFO", "V2EXTRASXML",
)  # fmt: skip
WEB, CITATION_ONLY = 1, 2  # V2SOURCECOLLECTIONIDENTIFIER: a URL, or a document known by another id
# GKG's location types: 1 country, 2 US state, 3 US city, 4 world city, 5 world state (ADM1).
_DATE_RESOLUTION = {"year": 1, "month": 2, "day": 3}
_TABLES = ("tone", "themes", "locations", "mentions", "quotes", "amounts", "dates")
_DOCUMENT_COLUMNS = [
    "doc_id",
    "source",
    "origin",
    "url",
    "title",
    "published_at",
    "ingested_at",
    "dup_of",
    "authors",
    "image",
]


def write_gkg(lake: Lake, out: Path | None, *, start: date | None = None, end: date | None = None) -> dict[str, int]:
    """Write GKG records to a file, to a folder as one `YYYYMMDD000000.gkg.csv` per day, or to
    standard output (`out` None); each file is written beside its place and renamed into it.
    Returns the records written per file."""
    written: dict[str, int] = {}
    if out is None:
        for _, line in gkg_records(lake, start=start, end=end):
            sys.stdout.write(line + "\n")
            written["-"] = written.get("-", 0) + 1
        return written
    folder = out.is_dir()
    files: dict[Path, TextIO] = {}  # each output file, by the name it is renamed to when complete
    try:
        for day, line in gkg_records(lake, start=start, end=end):
            path = out / f"{day:%Y%m%d}000000.gkg.csv" if folder else out
            if path not in files:
                files[path] = _unfinished(path).open("w", encoding="utf-8", newline="\n")
            files[path].write(line + "\n")
            written[str(path)] = written.get(str(path), 0) + 1
    except BaseException:
        for path, handle in files.items():
            handle.close()
            _unfinished(path).unlink(missing_ok=True)
        raise
    for path, handle in files.items():
        handle.close()
        _unfinished(path).replace(path)
    if not files and not folder:
        out.write_text("", encoding="utf-8")
        written[str(out)] = 0
    return written


def _unfinished(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp")


def gkg_records(lake: Lake, *, start: date | None = None, end: date | None = None) -> Iterator[tuple[date, str]]:
    """Each unique document of the lake's days from `start` to `end` as a GKG 2.1 line (without
    its newline), with its day; a day at a time, so memory holds one day."""
    for day in lake.partition_days("documents"):
        if (start and day < start) or (end and day > end):
            continue
        rows = {name: _by_document(read_days(lake, TABLES[name], [day], TABLES[name].schema.names)) for name in _TABLES}
        documents = read_days(lake, TABLES["documents"], [day], _DOCUMENT_COLUMNS).to_pylist()
        for doc in sorted((d for d in documents if d["dup_of"] is None), key=lambda d: d["doc_id"]):
            yield day, "\t".join(gkg_fields(doc, {name: rows[name].get(doc["doc_id"], []) for name in _TABLES}))


def _by_document(table: pa.Table) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for row in table.to_pylist():
        found.setdefault(row["doc_id"], []).append(row)
    return found


def gkg_fields(doc: dict, rows: dict[str, list[dict]]) -> list[str]:
    """The 27 fields of one document's GKG record, from its row of `documents` and its rows of
    each annotation table."""
    when = doc["published_at"] or doc["ingested_at"]
    stamp = f"{when:%Y%m%d%H%M%S}" if isinstance(when, datetime) else f"{doc['date']:%Y%m%d}000000"
    mentions = sorted(rows["mentions"], key=lambda m: m["start_char"])
    people = [m for m in mentions if m["label"] == "PERSON"]
    orgs = [m for m in mentions if m["label"] == "ORG"]
    counts = [a for a in rows["amounts"] if a.get("count_type")]
    tone = rows["tone"][0] if rows["tone"] else None
    fields = [
        f"{stamp}-{doc['doc_id']}",
        stamp,
        str(WEB if doc["url"] else CITATION_ONLY),
        _clean(doc["source"]),
        _clean(doc["url"] or doc["origin"]),
        ";".join(_count(a, with_offset=False) for a in counts),
        ";".join(_count(a, with_offset=True) for a in counts),
        ";".join(dict.fromkeys(t["theme"] for t in rows["themes"])),
        ";".join(f"{t['theme']},{t['start_char']}" for t in rows["themes"]),
        ";".join(dict.fromkeys(_location(p, with_offset=False) for p in rows["locations"])),
        ";".join(_location(p, with_offset=True) for p in rows["locations"]),
        ";".join(dict.fromkeys(_name(m).lower() for m in people)),
        ";".join(f"{_name(m)},{m['start_char']}" for m in people),
        ";".join(dict.fromkeys(_name(m).lower() for m in orgs)),
        ";".join(f"{_name(m)},{m['start_char']}" for m in orgs),
        _tone(tone),
        ";".join(_date(d) for d in rows["dates"] if d["resolved"] is not None),
        f"wc:{tone['word_count']}" if tone else "",
        _clean(doc.get("image") or ""),
        "",
        "",
        "",
        "#".join(_quotation(q) for q in rows["quotes"]),
        ";".join(f"{_name(m)},{m['start_char']}" for m in mentions),
        ";".join(
            f"{a['value']:g},{_clean(a['unit'] or a['currency'] or a['kind'], ',;')},{a['start_char']}"
            for a in rows["amounts"]
            if a["value"] is not None
        ),
        "",
        _extras(doc, rows["quotes"]),
    ]
    return fields


def _clean(text: str, also: str = "") -> str:
    """Text safe in a field: no tab or line break, and none of the delimiters given."""
    return re.sub(f"[\t\r\n{re.escape(also)}]+", " ", text).strip()


def _name(mention: dict) -> str:
    return _clean(mention["name"] or mention["text"], ",;#")


def _count(amount: dict, *, with_offset: bool) -> str:
    block = [
        amount["count_type"],
        f"{amount['value']:g}",
        _clean(amount["unit"] or "", "#;"),
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]
    return "#".join([*block, str(amount["start_char"])] if with_offset else block)


def _location(place: dict, *, with_offset: bool) -> str:
    """A V1 or V2 location block: type, name, FIPS country, ADM1, (ADM2,) lat, lon, feature id."""
    kind = {"country": 1, "state": 2 if place["country"] == "US" else 5}.get(place["type"])
    kind = kind or (3 if place["country"] == "US" else 4)
    fips = place["fips"] or ""
    adm1 = f"{fips}{place['admin1']}" if place["admin1"] and fips else fips
    lat, lon = (
        ("" if place["lat"] is None else f"{place['lat']:g}"),
        ("" if place["lon"] is None else f"{place['lon']:g}"),
    )
    feature = str(place["geonameid"] or (fips if place["type"] == "country" else ""))
    name = _clean(place["name"], "#;")
    if with_offset:
        return "#".join([str(kind), name, fips, adm1, "", lat, lon, feature, str(place["start_char"])])
    return "#".join([str(kind), name, fips, adm1, lat, lon, feature])


def _quotation(quote: dict) -> str:
    """A V2.1QUOTATIONS block: offset|length|verb|quote."""
    length = quote["end_char"] - quote["start_char"]
    return f"{quote['start_char']}|{length}|{_clean(quote['cue'] or '', '|#')}|{_clean(quote['text'], '|#')}"


def _tone(tone: dict | None) -> str:
    if tone is None or tone["tone"] is None:
        return ""
    keys = ("tone", "positive", "negative", "polarity", "activity_density", "self_group_density")
    return ",".join([*(f"{tone[k]:.6g}" for k in keys), str(tone["word_count"])])


def _date(row: dict) -> str:
    """A V2.1ENHANCEDDATES block: resolution#month#day#year#offset (0 for what the date lacks)."""
    resolved, resolution = row["resolved"], row["resolution"]
    month = resolved.month if resolution in ("month", "day") else 0
    day = resolved.day if resolution == "day" else 0
    return f"{_DATE_RESOLUTION[resolution]}#{month}#{day}#{resolved.year}#{row['start_char']}"


def _extras(doc: dict, quotes: list[dict]) -> str:
    title = f"<PAGE_TITLE>{html.escape(_clean(doc['title']))}</PAGE_TITLE>" if doc["title"] else ""
    if doc.get("authors"):
        title += f"<PAGE_AUTHORS>{html.escape(_clean(', '.join(doc['authors'])))}</PAGE_AUTHORS>"
    speakers = "".join(
        f'<QUOTE offset="{q["start_char"]}" speaker="{html.escape(_clean(q["speaker"]))}"'
        f' speaker_key="{html.escape(q["speaker_key"] or "")}"'
        f' speaker_org_key="{html.escape(q.get("speaker_org_key") or "")}"/>'
        for q in quotes
    )
    return title + (f"<NEWSLAKE_SPEAKERS>{speakers}</NEWSLAKE_SPEAKERS>" if speakers else "")
