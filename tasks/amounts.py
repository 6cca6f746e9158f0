"""Extract amounts from a parsed document: money with a value and an ISO currency, counts with
the thing counted, percentages and other quantities, from the model's numeric entities."""

import re
from dataclasses import dataclass, replace

from newslake.tasks.knowledge import cached_by_file, csv_rows, packaged_and_extra

AMOUNT_LABELS = {"MONEY": "money", "PERCENT": "percent", "CARDINAL": "count", "QUANTITY": "quantity"}
# Currency marks before the number, longest first, and currency words after it.
SYMBOLS = {
    "US$": "USD", "A$": "AUD", "C$": "CAD", "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "R$": "BRL",
    "$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW",
}  # fmt: skip
WORDS = {
    "pound": "GBP", "pounds": "GBP", "sterling": "GBP", "dollar": "USD", "dollars": "USD", "euro": "EUR",
    "euros": "EUR", "yen": "JPY", "yuan": "CNY", "renminbi": "CNY", "rupee": "INR", "rupees": "INR",
    "rouble": "RUB", "roubles": "RUB", "ruble": "RUB", "rubles": "RUB", "franc": "CHF", "francs": "CHF",
    # wire abbreviations
    "dlr": "USD", "dlrs": "USD", "stg": "GBP", "marks": "DEM", "lire": "ITL", "guilders": "NLG",
}  # fmt: skip
CODES = {"USD", "GBP", "EUR", "JPY", "CNY", "CHF", "INR", "AUD", "CAD", "RUB"}
SUBUNITS = {
    "p": ("GBP", 0.01), "pence": ("GBP", 0.01), "cent": ("USD", 0.01), "cents": ("USD", 0.01), "cts": ("USD", 0.01),
}  # fmt: skip
PERCENT_WORDS = {"percent", "pct"}
# Words that make the number before them an amount, whatever the model saw (wire copy's style).
WIRE_WORDS = {"mln", "bln", "dlr", "dlrs", "cts", "pct", "stg"}
SCALES = {
    "hundred": 1e2, "thousand": 1e3, "k": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "millions": 1e6,
    "bn": 1e9, "billion": 1e9, "billions": 1e9, "tn": 1e12, "trillion": 1e12, "dozen": 12, "mln": 1e6,
    "bln": 1e9,
}  # fmt: skip
_SMALL = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety"
NUMBER_WORDS = {w: n for n, w in enumerate([*_SMALL.split(), "seventeen", "eighteen", "nineteen"])} | {
    w: 20 + 10 * n for n, w in enumerate(_TENS.split())
}
# The tagger's tags for common and proper nouns, what a count can count.
NOUN_TAGS = {"NN", "NNS", "NNP", "NNPS"}
# Nouns a number can modify without counting anything.
NOT_COUNTED = {"times", "time", "per", "percent", "%", "of", "to", "and", "or"}
# Words between a number and what it counts that say nothing about the thing (`50 more buses`).
QUANTIFIERS = {"more", "other", "additional", "extra", "further", "new", "fewer", "less"}
# What may follow a number in one amount: its scale, currency, subunit or percent sign.
_AFTER_NUMBER = {*SCALES, *WORDS, *SUBUNITS, *PERCENT_WORDS}
_RANGE = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(?:to|-|–)\s*(\d[\d,]*(?:\.\d+)?)")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
_TOKENS = re.compile(r"\d[\d,]*(?:\.\d+)?|[^\W\d_]+|[^\s\w]", re.UNICODE)


@dataclass(frozen=True)
class Amount:
    """An amount: its span and raw text, what kind it is, its numeric value and its currency or unit."""

    start_char: int
    end_char: int
    text: str
    kind: str
    value: float | None
    currency: str | None
    unit: str | None
    count_type: str | None = None
    value_high: float | None = None  # a range's high end (`30 to 50 mln dlrs`)


def parse_value(text: str) -> tuple[float | None, str | None]:
    """The number an amount's text states and the currency it names (`£100 million` -> 1e8, GBP)."""
    value: float | None = None
    currency: str | None = None
    scale = 1.0
    words = _TOKENS.findall(text.replace("per cent", "percent"))
    for symbol, code in SYMBOLS.items():
        if symbol in text:
            currency = code
            break
    for previous, word in zip(["", *words], words, strict=False):
        lower = word.lower()
        if _NUMBER.fullmatch(word):
            value = float(word.replace(",", ""))
        elif lower in NUMBER_WORDS:
            value = (value or 0) + NUMBER_WORDS[lower]
        elif lower in SCALES and (value is not None or previous.lower() in ("a", "an")):
            value = value if value is not None else 1.0  # `a trillion pounds`, `a dozen`
            scale *= SCALES[lower]
        elif lower in WORDS or word in CODES:
            currency = currency or WORDS.get(lower, word)
        elif lower in SUBUNITS and value is not None:
            currency, unit_scale = SUBUNITS[lower]
            scale *= unit_scale
    return (round(value * scale, 6) if value is not None else None), currency


@cached_by_file
def load_count_types(extra: str | None = None) -> dict[str, str]:
    """The packaged types of counts (word -> type, as `killed` -> KILL), with a user's CSV
    (columns word,type) on top."""
    texts = packaged_and_extra(
        "count_types.csv", extra, what="count types file", expected="a CSV file with columns word,type"
    )
    types = {}
    for text in texts:
        for line, row in csv_rows(text, required=("word", "type"), what="a count types file"):
            if not row["word"] or not re.fullmatch(r"[A-Z][A-Z_]*", row["type"]):
                raise ValueError(f"count types line {line}: needs a word and a type in capitals: {row}")
            types[row["word"].casefold()] = row["type"]
    return types


def extract_amounts(doc, count_types: dict[str, str] | None = None) -> list[Amount]:
    """Every money amount, percentage, quantity and count of a noun in the document; a count
    takes its type (KILL, ARREST, PROTEST, ...) from `count_types` when a word of it governs what
    is counted. Wire style counts too (`15 mln dlrs`, `37 pct`, `12 cts`), a range is one amount
    from `value` to `value_high`, and money with no currency takes the currency of the money
    before it in its sentence (`1.5 billion dlrs, and its rival 8.3 billion`)."""
    found: list[Amount] = []
    for ent in _numbers(doc):
        kind = AMOUNT_LABELS.get(ent.label_, "count")
        if ent.end < len(doc) and doc[ent.end].text == "-" and not ent[-1].whitespace_:
            continue  # `one-off`, `two-year`: part of a word, not an amount
        span = _with_currency(doc, ent)
        value, currency = parse_value(span.text)
        unit = count_type = None
        if currency is not None:
            kind = "money"
        elif kind == "percent" or (span[-1].lower_ in PERCENT_WORDS):
            kind, unit = "percent", "percent"
        elif kind == "count":
            counted = _counted(doc, ent)
            if counted is None or value is None:
                continue
            span, unit = doc[span.start : counted.end], counted.text
            count_type = _count_type(counted[-1], count_types or {})
        elif kind == "quantity":
            unit = ent[-1].text
        low, high = _range(span.text, value)
        found.append(Amount(span.start_char, span.end_char, span.text, kind, low, currency, unit, count_type, high))
    return _inherit_currency(doc, found)


def _numbers(doc) -> list:
    """The model's numeric entities, and numbers it left out before a wire word (`Shr 14 cts`)."""
    spans = [e for e in doc.ents if e.label_ in AMOUNT_LABELS]
    covered = {i for e in doc.ents for i in range(e.start, e.end)}
    for token in doc[:-1]:
        if token.i not in covered and token.like_num and doc[token.i + 1].lower_ in WIRE_WORDS:
            spans.append(doc.char_span(token.idx, token.idx + len(token), label="CARDINAL"))
    return sorted(spans, key=lambda s: s.start)


def _range(text: str, value: float | None) -> tuple[float | None, float | None]:
    """An amount's low and high values: (`value`, None), or both ends of a range (`30 to 50 mln`)."""
    found = _RANGE.search(text)
    if value is None or found is None or not float(found[2].replace(",", "")):
        return value, None
    scale = value / float(found[2].replace(",", ""))
    return float(found[1].replace(",", "")) * scale, value


def _inherit_currency(doc, amounts: list[Amount]) -> list[Amount]:
    """Money without a currency takes the currency of the money before it in its sentence."""
    result, last = [], {}
    for a in amounts:
        sentence = doc.char_span(a.start_char, a.end_char, alignment_mode="expand").sent.start
        if a.kind == "money" and a.currency is None and sentence in last:
            a = replace(a, currency=last[sentence])
        if a.kind == "money" and a.currency:
            last[sentence] = a.currency
        result.append(a)
    return result


def _count_type(noun, count_types: dict[str, str]) -> str | None:
    """The type of a count from the counted noun (`protesters`), a participle before it (`wounded
    soldiers`) or the verb it is the object or subject of (`killed seven people`, `were killed`)."""
    words = [noun, *(t for t in noun.children if t.dep_ == "amod")]
    if noun.dep_ in ("dobj", "nsubjpass", "nsubj", "pobj") and noun.head.tag_.startswith("VB"):
        words.append(noun.head)
    if noun.dep_ == "nsubj" and noun.head.lower_ in ("were", "are", "was", "is", "remain", "remained"):
        words += [t for t in noun.head.children if t.dep_ in ("acomp", "attr")]  # `five people are missing`
    return next((count_types[w.lower_] for w in words if w.lower_ in count_types), None)


def _with_currency(doc, ent):
    """The entity with the currency mark and scale the model often leaves out (`£` `600` `m`)."""
    start, end = ent.start, ent.end
    while start > 0 and (doc[start - 1].text in SYMBOLS or doc[start - 1].text in CODES):
        start -= 1
    if start > 0 and doc[start].text == "$" and doc[start - 1].text in ("US", "A", "C", "NZ", "HK", "S", "R"):
        start -= 1
    while end < len(doc) and doc[end].lower_ in _AFTER_NUMBER:
        if doc[end].lower_ == "p" and doc[end - 1].whitespace_:
            break  # `80p`, not `80 p`
        end += 1
    return doc[start:end]


def _counted(doc, ent):
    """The noun phrase a cardinal number counts (`120 [armoured vehicles]`), if it directly follows it."""
    number = ent[-1]
    head = number.head
    if number.dep_ != "nummod" or head.tag_ not in NOUN_TAGS or head.i < ent.end:
        return None
    if head.lower_ in NOT_COUNTED or not all(head in t.ancestors for t in doc[ent.end : head.i]):
        return None
    start = ent.end
    while start < head.i and doc[start].lower_ in QUANTIFIERS:
        start += 1
    return doc[start : head.i + 1]
