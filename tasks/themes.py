"""Themes: what a document is about, as codes of a taxonomy written as data (GDELT GKG's
V2ENHANCEDTHEMES), each with the offsets of its evidence in the text.

The taxonomy is the packaged `lexicon/themes.csv` (code, description, patterns), with a
user's CSV of the same columns on top: a new code adds a theme, a known one adds patterns.
"""

import hashlib
import re
from dataclasses import dataclass

from newslake.tasks.knowledge import cached_by_file, csv_rows, packaged_and_extra


@dataclass(frozen=True)
class Theme:
    code: str
    description: str
    pattern: re.Pattern


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


def find_themes(text: str, taxonomy: Taxonomy) -> list[ThemeMatch]:
    """Every piece of evidence of every theme in a text, in order of the text."""
    found = [
        ThemeMatch(theme.code, m.start(), m.end(), m.group())
        for theme in taxonomy.themes
        for m in theme.pattern.finditer(text)
    ]
    return sorted(found, key=lambda t: (t.start_char, t.theme))


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
    themes = tuple(Theme(code, descriptions[code], compile_patterns(p)) for code, p in patterns.items())
    return Taxonomy(themes, hashlib.blake2b("\0".join(texts).encode(), digest_size=8).hexdigest())
