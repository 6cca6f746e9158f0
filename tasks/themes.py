"""Themes: what a document is about, as codes of a taxonomy written as data (GDELT GKG's
V2ENHANCEDTHEMES), each with the offsets of its evidence in the text.

The taxonomy is the packaged `lexicon/themes.csv` (code, description, patterns), with a
user's CSV of the same columns on top: a new code adds a theme, a known one adds patterns.
"""

import hashlib
import re
from bisect import bisect_left
from dataclasses import dataclass

from newslake.tasks.knowledge import cached_by_file, csv_rows, packaged_and_extra


@dataclass(frozen=True)
class Theme:
    code: str
    description: str
    pattern: re.Pattern
    # The first word of each phrase (`elect*` for a prefix), when it is plain ASCII; None when
    # one is not, and the theme is looked for in every text.
    first_words: tuple[str, ...] | None


@dataclass(frozen=True)
class Taxonomy:
    themes: tuple[Theme, ...]
    fingerprint: str


@dataclass(frozen=True)
class ThemeMatch:
    theme: str
    start_char: int
    end_char: int
    text: str


_WORD = re.compile(r"[\w-]+")
_PLAIN_WORD = re.compile(r"[a-z0-9-]+\*?")
# Letters whose lower case in `str.lower` is not the one a case-insensitive pattern matches.
_SPECIAL_CASING = ("\u0130", "\u03a3")


def find_themes(text: str, taxonomy: Taxonomy) -> list[ThemeMatch]:
    """Every piece of evidence of every theme in a text, in order of the text. A theme none of
    whose phrases' first words is among the text's words is not looked for."""
    if any(c in text for c in _SPECIAL_CASING):
        candidates = taxonomy.themes
    else:
        words = sorted(set(_WORD.findall(text.lower())))
        candidates = [t for t in taxonomy.themes if t.first_words is None or _has_any(words, t.first_words)]
    found = [ThemeMatch(t.code, m.start(), m.end(), m.group()) for t in candidates for m in t.pattern.finditer(text)]
    return sorted(found, key=lambda t: (t.start_char, t.theme))


def _has_any(words: list[str], first_words: tuple[str, ...]) -> bool:
    """Whether the sorted `words` hold one of `first_words` (`elect*`: a word it begins)."""
    for first in first_words:
        stem = first.removesuffix("*")
        i = bisect_left(words, stem)
        if i < len(words) and (words[i] == stem or (first.endswith("*") and words[i].startswith(stem))):
            return True
    return False


def _first_words(patterns: list[str]) -> tuple[str, ...] | None:
    firsts = {p.split()[0].casefold() for p in patterns if p.strip()}
    return tuple(sorted(firsts)) if all(_PLAIN_WORD.fullmatch(w) for w in firsts) else None


def compile_patterns(patterns: list[str]) -> re.Pattern:
    """One regular expression for a theme's phrases: whole words, any case, `word*` a prefix."""

    def phrase(p: str) -> str:
        words = [re.escape(w[:-1]) + r"[\w-]*" if w.endswith("*") else re.escape(w) for w in p.split()]
        return r"\s+".join(words)

    alternatives = sorted({phrase(p.strip().casefold()) for p in patterns if p.strip()}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


@cached_by_file
def load_taxonomy(extra: str | None = None) -> Taxonomy:
    """The packaged themes, with a user's themes CSV (code,description,patterns) on top."""
    texts = packaged_and_extra(
        "themes.csv", extra, what="themes file", expected="a CSV file with columns code,description,patterns"
    )
    descriptions: dict[str, str] = {}
    patterns: dict[str, list[str]] = {}
    for text in texts:
        for line, row in csv_rows(text, required=("code", "description", "patterns"), what="a themes file"):
            code = row["code"].upper()
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", code) or not row["patterns"]:
                raise ValueError(f"themes line {line}: needs a code (A-Z, 0-9, _) and patterns: {row}")
            descriptions[code] = row["description"] or descriptions.get(code, "")
            patterns.setdefault(code, []).extend(row["patterns"].split("|"))
    themes = tuple(
        Theme(code, descriptions[code], compile_patterns(p), _first_words(p)) for code, p in patterns.items()
    )
    return Taxonomy(themes, hashlib.blake2b("\0".join(texts).encode(), digest_size=8).hexdigest())
