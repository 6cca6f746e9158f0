"""Resolve entity mentions within a document to canonical entities.

The model's spans are the starting point; a small set of ordered rules then fills gaps, names
each mention's canonical entity and corrects labels where the document disagrees with the model.
Each mention records the rule that decided it:

- `model`: the model's span, label and name (without title, leading article or possessive);
- `alias`: the alias table named it (and fixed its label), or found a span the model missed;
- `honorific`: the model gave another label to a name after Mr, Mrs, Ms, Miss or Mx;
- `label_vote`: the same name carries another label more often in the document (ties: the
  label of its first mention);
- `name_part`: a surname or first name of a full name given elsewhere in the document;
- `propagated`: an untagged repeat of a name the document tags elsewhere.

World knowledge (aliases, titles, cue verbs) lives in `tasks/lexicon/`, extendable by the user.
"""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from newslake.tasks.knowledge import cached_by_file, csv_rows, packaged_and_extra

# Named entities; numeric labels (DATE, MONEY, CARDINAL, ...) are not entities to resolve.
ENTITY_LABELS = frozenset(
    {"PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE"}
)
# Titles that only people carry: a name after one is a person's, whatever the model says.
HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx"})
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"[’']s?$")


@dataclass(frozen=True)
class Lexicon:
    """The data the rules use: aliases (casefolded form to canonical name and label), titles, cue
    verbs, and the words that are never entities."""

    aliases: dict[str, tuple[str, str]]
    forms: tuple[str, ...]
    titles: frozenset[str]
    cue_verbs: frozenset[str]
    fingerprint: str
    not_entities: frozenset[str]

    @property
    def form_pattern(self) -> re.Pattern | None:
        """One case-sensitive pattern matching any alias form as whole words, longest first."""
        return _form_pattern(self.forms)


@lru_cache(maxsize=4)
def _form_pattern(forms: tuple[str, ...]) -> re.Pattern | None:
    if not forms:
        return None
    alternatives = "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


@cached_by_file
def load_lexicon(extra_aliases: str | None = None, extra_not_entities: str | None = None) -> Lexicon:
    """The packaged lexicon, with the rows of a user's alias CSV (alias,canonical,label) and the
    lines of a user's list of words that are never entities added on top."""
    folder = files("newslake.tasks") / "lexicon"
    tables = packaged_and_extra(
        "aliases.csv", extra_aliases, what="alias table", expected="a CSV file with columns alias,canonical,label"
    )
    aliases: dict[str, tuple[str, str]] = {}
    forms: list[str] = []
    for text in tables:
        for line, row in csv_rows(text, required=("alias", "canonical", "label"), what="an alias table"):
            if not all(row.get(column) for column in ("alias", "canonical", "label")):
                raise ValueError(f"line {line} needs an alias, a canonical name and a label: {row}")
            label = row["label"].upper()
            if label not in ENTITY_LABELS:
                raise ValueError(f"alias {row['alias']!r} has label {label!r}; use one of {sorted(ENTITY_LABELS)}")
            aliases[row["alias"].casefold()] = (row["canonical"], label)
            forms.append(row["alias"])
    cues, names = (folder / "cue_verbs.txt").read_text(), (folder / "titles.txt").read_text()
    cue_verbs = {form.casefold() for line in _lines(cues) for form in line.split()}
    titles = {t.casefold().rstrip(".") for t in _lines(names)}
    never = packaged_and_extra(
        "not_entities.txt",
        extra_not_entities,
        what="never-entities list",
        expected="a text file, a word or phrase a line",
    )
    not_entities = {" ".join(line.casefold().split()) for text in never for line in _lines(text)}
    fingerprint = hashlib.blake2b("\0".join([*tables, cues, names, *never]).encode(), digest_size=8).hexdigest()
    return Lexicon(
        aliases,
        tuple(dict.fromkeys(forms)),
        frozenset(titles),
        frozenset(cue_verbs),
        fingerprint,
        frozenset(not_entities),
    )


@dataclass
class Mention:
    """One entity mention: its span (tokens and characters), label, canonical name and the deciding rule."""

    start: int
    end: int
    start_char: int
    end_char: int
    text: str
    label: str
    name: str = ""
    rule: str = "model"

    @property
    def key(self) -> str:
        return entity_key(self.label, self.name)


def entity_key(label: str, name: str) -> str:
    """A corpus-wide key for an entity: its label and its normalised name, e.g. `gpe:ukraine`."""
    return f"{label.lower()}:{' '.join(normalise_name(name).casefold().split())}"


def normalise_name(surface: str) -> str:
    """A mention's surface form without a leading article or a trailing possessive."""
    return _POSSESSIVE.sub("", _LEADING_THE.sub("", " ".join(surface.split()))).strip() or surface


def strip_title(name: str, titles: frozenset[str]) -> str:
    """A person's name without the titles in front of it (`PM Boris Johnson` -> `Boris Johnson`)."""
    words = name.split()
    while len(words) > 1:
        for size in (3, 2, 1):
            if len(words) > size and " ".join(words[:size]).casefold().rstrip(".") in titles:
                words = words[size:]
                break
        else:
            break
    return " ".join(words)


def resolve_entities(doc, *, lexicon: Lexicon) -> list[Mention]:
    """The document's entity mentions, each with a canonical name, a label and the rule that decided them."""
    mentions = [
        _mention(e, e.label_) for e in doc.ents if e.label_ in ENTITY_LABELS and not _never_entity(e.text, lexicon)
    ]
    taken = [(e.start_char, e.end_char) for e in doc.ents]
    body = doc.text  # spaCy builds it anew from the tokens at every access
    mentions += _alias_spans(doc, body, lexicon, taken)
    for m in mentions:
        m.name = _base_name(m, lexicon)
        known = lexicon.aliases.get(normalise_name(m.text).casefold()) or lexicon.aliases.get(m.name.casefold())
        if known and known != (m.name, m.label):
            m.name, m.label, m.rule = known[0], known[1], "alias"
    _vote_labels([m for m in mentions if m.rule != "alias"])
    _link_name_parts(mentions)
    mentions += _propagate(doc, body, mentions, taken)
    return sorted(mentions, key=lambda m: m.start_char)


def _never_entity(text: str, lexicon: Lexicon) -> bool:
    """A mention made only of words that are never entities (`cts`, `Shr Net`, `Revs`)."""
    words = [w.strip(".,;:") for w in text.casefold().split()]
    return all(w in lexicon.not_entities or not w for w in words) or " ".join(words) in lexicon.not_entities


def _mention(span, label: str, **resolved) -> Mention:
    return Mention(span.start, span.end, span.start_char, span.end_char, span.text, label, **resolved)


def _base_name(m: Mention, lexicon: Lexicon) -> str:
    name = normalise_name(m.text)
    if m.label != "PERSON" and name.split()[0].casefold().rstrip(".") in HONORIFICS and len(name.split()) > 1:
        m.label, m.rule = "PERSON", "honorific"  # `Mr Ebbers` tagged ORG
    if m.label == "PERSON":
        name = strip_title(name, lexicon.titles)
    elif m.label == "NORP" and len(name) > 3 and name.endswith("s") and not name.endswith("ss"):
        name = name[:-1]  # Ukrainians -> Ukrainian: one group, singular
    return name


def _overlaps(start: int, end: int, taken: list[tuple[int, int]]) -> bool:
    return any(start < e and s < end for s, e in taken)


def _alias_spans(doc, body: str, lexicon: Lexicon, taken: list[tuple[int, int]]) -> list[Mention]:
    """Alias forms in the text that the model left untagged (`Sunday Telegraph`)."""
    pattern = lexicon.form_pattern
    found = []
    for match in pattern.finditer(body) if pattern else ():
        span = doc.char_span(match.start(), match.end())
        if span is None or _overlaps(match.start(), match.end(), taken):
            continue
        _, label = lexicon.aliases[match.group().casefold()]
        found.append(_mention(span, label, rule="alias"))
        taken.append((match.start(), match.end()))
    return found


def _vote_labels(mentions: list[Mention]) -> None:
    """Give every mention of a name the label the document gives it most (ties: its first mention's)."""
    groups: dict[str, list[Mention]] = {}
    for m in mentions:
        groups.setdefault(m.name.casefold(), []).append(m)
    for group in groups.values():
        votes = Counter(m.label for m in group)
        if len(votes) < 2:
            continue
        first = min(group, key=lambda m: m.start_char).label
        winner = max(votes, key=lambda label: (votes[label], label == first))
        for m in group:
            if m.label != winner:
                m.label, m.rule = winner, "label_vote"


def _link_name_parts(mentions: list[Mention]) -> None:
    """Name a lone surname or first name after the full name it belongs to, among the people
    named before it (else after it). A surname is better evidence than a first name and goes to
    the nearest full name with it; a first name that several people share goes to the one named
    most often in full (`name_part_salient`), or, on a tie, stays unresolved (`ambiguous_name_part`)."""
    full = [m for m in mentions if m.label == "PERSON" and len(m.name.split()) >= 2]
    salience = Counter(f.name for f in full)
    for m in mentions:
        words = m.name.split()
        if len(words) != 1 or m.rule == "alias":
            continue
        by_surname = [f for f in full if f.name.split()[-1] == words[0]]
        owners = by_surname or [f for f in full if f.name.split()[0] == words[0]]
        before = [f for f in owners if f.start_char < m.start_char]
        owners = before or owners
        if not owners:
            continue
        names = sorted({f.name for f in owners}, key=lambda name: (-salience[name], name))
        if len(names) == 1 or by_surname:
            nearest = max(before, key=lambda f: f.start_char) if before else min(owners, key=lambda f: f.start_char)
            m.name, m.label, m.rule = nearest.name, "PERSON", "name_part"
        elif salience[names[0]] > salience[names[1]]:
            m.name, m.label, m.rule = names[0], "PERSON", "name_part_salient"
        else:
            m.label, m.rule = "PERSON", "ambiguous_name_part"


def _propagate(doc, body: str, mentions: list[Mention], taken: list[tuple[int, int]]) -> list[Mention]:
    """Untagged repeats of a tagged surface form, as mentions of the same entity (`in Kyiv` missed once)."""
    by_text: dict[str, Mention] = {}
    for m in mentions:
        text = normalise_name(m.text)
        if len(text) >= 2 and text[0].isupper() and (len(text) >= 3 or text.isupper()):
            by_text.setdefault(text, m)
    if not by_text:
        return []
    forms = "|".join(re.escape(t) for t in sorted(by_text, key=len, reverse=True))
    found = []
    for match in re.finditer(rf"(?<![\w.])(?:{forms})(?!\w)", body):
        span = doc.char_span(match.start(), match.end())
        if span is None or _overlaps(match.start(), match.end(), taken):
            continue
        source = by_text[match.group()]
        found.append(_mention(span, source.label, name=source.name, rule="propagated"))
        taken.append((match.start(), match.end()))
    return found
