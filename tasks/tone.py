"""Tone: GDELT GKG's V1.5TONE measures of a text, from word lists the user can replace or extend.

Every measure is a percentage of the text's words (alphabetic tokens), as in GKG:
positive and negative (words of positive or negative valence in the tone lexicon), tone
(positive minus negative), polarity (positive plus negative), activity (words of the activity
list) and self/group (pronouns). The valences are VADER's lexicon, which the `vaderSentiment`
package ships; a user's CSV (word,valence) adds words or overrides them, and its rows of
`activity` or `pronoun` in place of a number add to those lists.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from newslake.tasks.knowledge import cached_by_file, csv_rows

# Valences under this magnitude are neither positive nor negative (VADER rates -4 to +4).
NEUTRAL_BELOW = 0.5


@dataclass(frozen=True)
class ToneLexicon:
    """Word lists of tone: valence per lower-case word, activity words and pronouns."""

    positive: frozenset[str]
    negative: frozenset[str]
    activity: frozenset[str]
    pronouns: frozenset[str]
    fingerprint: str


@dataclass(frozen=True)
class WordCounts:
    """The counts a tone is computed from; counts of several sentences add up."""

    words: int = 0
    positive: int = 0
    negative: int = 0
    activity: int = 0
    pronouns: int = 0

    def __add__(self, other: "WordCounts") -> "WordCounts":
        return WordCounts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, ...]:
        return (self.words, self.positive, self.negative, self.activity, self.pronouns)

    @property
    def tone(self) -> float | None:
        """Positive minus negative, in percent of the words; None for a text without words."""
        return 100 * (self.positive - self.negative) / self.words if self.words else None

    def measures(self) -> dict[str, float | int | None]:
        """The V1.5TONE fields: tone, positive, negative, polarity, activity and self/group
        densities (percent of words), and the word count."""
        share = (lambda n: 100 * n / self.words) if self.words else (lambda n: None)
        return {
            "tone": self.tone,
            "positive": share(self.positive),
            "negative": share(self.negative),
            "polarity": share(self.positive + self.negative),
            "activity_density": share(self.activity),
            "self_group_density": share(self.pronouns),
            "word_count": self.words,
        }


def count_words(words: Iterable[str], lexicon: ToneLexicon) -> WordCounts:
    """Count a text's words (lower-case alphabetic tokens) by the lexicon's lists."""
    words = list(words)
    return WordCounts(
        words=len(words),
        positive=sum(w in lexicon.positive for w in words),
        negative=sum(w in lexicon.negative for w in words),
        activity=sum(w in lexicon.activity for w in words),
        pronouns=sum(w in lexicon.pronouns for w in words),
    )


@cached_by_file
def load_tone_lexicon(extra: str | None = None) -> ToneLexicon:
    """VADER's valences and the packaged activity and pronoun lists, with a user's CSV on top."""
    vader = files("vaderSentiment") / "vader_lexicon.txt"
    folder = files("newslake.tasks") / "lexicon"
    valences: dict[str, float] = {}
    for line in vader.read_text(encoding="utf-8").splitlines():
        word, valence, *_ = line.split("\t")
        if word.isalpha():  # VADER also rates emoticons, which news text does not hold
            valences[word.casefold()] = float(valence)
    activity = set(_words(folder / "activity.txt"))
    pronouns = set(_words(folder / "self_group.txt"))
    texts = [vader.read_text(encoding="utf-8")]
    if extra:
        texts.append(_read_extra(Path(extra), valences, activity, pronouns))
    return ToneLexicon(
        positive=frozenset(w for w, v in valences.items() if v >= NEUTRAL_BELOW),
        negative=frozenset(w for w, v in valences.items() if v <= -NEUTRAL_BELOW),
        activity=frozenset(activity),
        pronouns=frozenset(pronouns),
        fingerprint=hashlib.blake2b("\0".join(texts).encode(), digest_size=8).hexdigest(),
    )


def _words(path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [w.casefold() for line in lines if not line.lstrip().startswith("#") for w in line.split()]


def _read_extra(path: Path, valences: dict[str, float], activity: set[str], pronouns: set[str]) -> str:
    """Add a user's rows (word,valence; the valence may be `activity` or `pronoun`); its text."""
    if not path.is_file():
        raise ValueError(f"tone lexicon {path} does not exist: give a CSV file with columns word,valence")
    text = path.read_text(encoding="utf-8")
    for line, row in csv_rows(text, required=("word", "valence"), what="a tone lexicon"):
        word, value = row["word"].casefold(), row["valence"].casefold()
        if value == "activity":
            activity.add(word)
        elif value == "pronoun":
            pronouns.add(word)
        else:
            try:
                valences[word] = float(value)
            except ValueError:
                raise ValueError(
                    f"{path}, line {line}: valence {value!r} is not a number, `activity` or `pronoun`"
                ) from None
    return text
