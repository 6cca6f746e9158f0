"""Extract direct quotations and their speakers from a parsed document.

Quotation marks are paired within a paragraph (curly or straight); an opening mark left open at
the end of a paragraph continues into the next paragraph that opens with a mark, as news
writing does. A quoted span is a quotation when it has at least two words and a speaker:
the subject of a cue verb (`said`, `added`, ...) outside the quotation in the same sentence,
or the speaker of the quotation it continues. One-word spans (`the "reset"`) and spans without
a speaker are scare quotes or titles, not quotations.

Kinds: `full` (a sentence or more), `partial` (a fragment inside reported speech, starting in
lower case) and `continuation` (a new paragraph of the previous quotation).
"""

import re
from dataclasses import dataclass

from newslake.tasks.resolve import Lexicon, Mention

PRONOUNS = {"he": "PERSON", "she": "PERSON", "they": None, "it": None}
# The tagger's tags for pronouns (a determiner or wh-word standing as a subject is one: `all said`),
# the pronouns it tags as nouns (`someone tells`), and its tags for proper nouns: the coarse `pos_`
# needs the attribute ruler, which runs only for token rows.
PRONOUN_TAGS = {"PRP", "PRP$", "WP", "EX", "DT", "WDT"}
NOUN_PRONOUNS = {
    "anybody", "anyone", "anything", "everybody", "everyone", "everything", "nobody", "nothing", "somebody",
    "someone", "something",
}  # fmt: skip
PROPER_NOUN_TAGS = {"NNP", "NNPS"}
_PARAGRAPH = re.compile(r"[^\n]+")
_SUBJECTS = ("nsubj", "nsubjpass")
# Fewer words than this and a quoted span is a scare quote or a coined term, not a quotation.
MIN_WORDS = {"full": 2, "continuation": 1, "partial": 3}
# A cue verb this close after a quotation attributes it (`"...", Mr Thomas said`).
TRAILING_CHARS = 25


@dataclass(frozen=True)
class Quotation:
    """A quoted span: the text between its marks, and whether a closing mark ended it."""

    start_char: int
    end_char: int
    closed: bool


@dataclass(frozen=True)
class Quote:
    """A direct quotation with its speaker (canonical name and key when it is a known entity), the
    organisation an unnamed speaker's words name (`a spokeswoman for NBC`), and its cue verb."""

    start_char: int
    end_char: int
    text: str
    speaker: str | None
    speaker_key: str | None
    cue: str | None
    kind: str
    speaker_org_key: str | None = None


def find_quotations(text: str) -> list[Quotation]:
    """Every span between quotation marks, paragraph by paragraph.

    A straight mark opens when it follows a space or the paragraph start and closes otherwise;
    an opening mark while a quotation is open ends that one unclosed (a paragraph break lost
    in the text, or a new paragraph of the same quotation).
    """
    found = []
    for para in _PARAGRAPH.finditer(text):
        body = para.group()
        open_at = None
        for i, char in enumerate(body):
            if char not in '“”"':
                continue
            opening = char == "“" or (char == '"' and (i == 0 or body[i - 1].isspace() or body[i - 1] in "([—–-"))
            if opening:
                if open_at is not None:
                    found.append(_quotation(para.start(), body, open_at, i, closed=False))
                open_at = i
            elif open_at is not None:
                found.append(_quotation(para.start(), body, open_at, i, closed=True))
                open_at = None
        if open_at is not None:
            found.append(_quotation(para.start(), body, open_at, len(body), closed=False))
    return [q for q in found if q.end_char > q.start_char]


def _quotation(base: int, body: str, open_at: int, close_at: int, *, closed: bool) -> Quotation:
    inner = body[open_at + 1 : close_at]
    start = open_at + 1 + (len(inner) - len(inner.lstrip()))
    end = close_at - (len(inner) - len(inner.rstrip()))
    return Quotation(base + start, base + end, closed)


def extract_quotes(doc, mentions: list[Mention], *, lexicon: Lexicon) -> list[Quote]:
    """The document's direct quotations with speakers, from its parse and its resolved mentions."""
    body = doc.text  # built anew from the tokens at every access
    quotations = find_quotations(body)
    quoted = [(q.start_char - 1, q.end_char + 1) for q in quotations]
    quotes: list[Quote] = []
    last: Quotation | None = None  # the quoted span before this one, its quote and its cue
    last_quote: Quote | None = None
    last_cue = None
    for q in quotations:
        text = body[q.start_char : q.end_char]
        continues = (
            last_quote is not None and not last.closed and body[last.end_char : q.start_char].strip() in ("", "“", '"')
        )
        cue = _cue(doc, body, q, quoted, lexicon, before=not continues)
        if cue is not None and continues and cue == last_cue:
            cue = None  # the attribution of the paragraph this one continues
        if cue is not None:
            speaker, key, org = _speaker(doc, cue, mentions, quoted, lexicon)
            kind = "continuation" if continues else "partial" if text[:1].islower() else "full"
            quote = Quote(q.start_char, q.end_char, text, speaker, key, cue.text, kind, org)
        elif continues:
            speaker, key, org = last_quote.speaker, last_quote.speaker_key, last_quote.speaker_org_key
            quote = Quote(q.start_char, q.end_char, text, speaker, key, None, "continuation", org)
        else:
            quote = None
        if quote is not None and (len(text.split()) < MIN_WORDS[quote.kind] or quote.speaker is None):
            quote = None
        if quote is not None:
            quotes.append(quote)
        last, last_quote, last_cue = q, quote, cue
    return quotes


def _inside(char: int, spans: list[tuple[int, int]]) -> bool:
    return any(s <= char < e for s, e in spans)


def _cue(doc, body: str, q: Quotation, quoted: list[tuple[int, int]], lexicon: Lexicon, *, before: bool):
    """The cue verb nearest the quotation, outside any quotation, in the sentences the quotation
    touches, else in the sentence before it when the quotation starts a sentence (`She said ... . "We ...`)."""
    first = doc.char_span(q.start_char, q.start_char + 1, alignment_mode="expand")
    last = doc.char_span(q.end_char - 1, q.end_char, alignment_mode="expand")
    if first is None or last is None:
        return None
    start, end = first.sent.start, last.sent.end
    if start > 0 and doc[start - 1].text == ":":
        start = doc[start - 1].sent.start  # `He added:` split from the quotation by the parser
    para_start = body.rfind("\n", 0, q.start_char) + 1
    para_end = body.find("\n", q.end_char) % (len(body) + 1)

    def cues(tokens) -> list:
        return [
            t
            for t in tokens
            if t.lower_ in lexicon.cue_verbs
            and t.tag_.startswith("VB")
            and para_start <= t.idx < para_end
            and not _inside(t.idx, quoted)
        ]

    found = cues(doc[start:end])
    if not found and before and start > 0 and doc[start : first.start].text.strip() in ("", "“", '"'):
        para_start = doc[start - 1].sent.start_char  # a quotation paragraph after its speaker's one
        found = cues(doc[start - 1].sent)
    if not found:
        return None
    trailing = [t for t in found if 0 <= t.idx - q.end_char <= TRAILING_CHARS]
    if trailing:
        return trailing[0]  # `"...", Mr Thomas said.`
    cue = min(found, key=lambda t: min(abs(t.idx - q.start_char), abs(t.idx - q.end_char)))
    while outer := [t for t in found if t in cue.ancestors]:
        cue = outer[0]  # `X said that Y announced ... "..."`: X is the one quoting
    return cue


def _subject(verb):
    """The grammatical subject of a verb, following `and added` back to the verb it is joined to."""
    while True:
        subjects = [c for c in verb.children if c.dep_ in _SUBJECTS]
        if subjects:
            return subjects[0]
        if verb.dep_ in ("conj", "xcomp", "advcl") and verb.head is not verb:
            verb = verb.head
            continue
        return None


def _mention_at(token, mentions: list[Mention]) -> Mention | None:
    return next((m for m in mentions if m.start <= token.i < m.end), None)


def _speaker(doc, cue, mentions: list[Mention], quoted, lexicon: Lexicon) -> tuple[str | None, str | None, str | None]:
    """The speaker of a cue verb: a resolved entity, a pronoun's antecedent, or the subject's own
    words, with the key of the organisation those words name (`a company spokesman` names none)."""
    subject = _subject(cue)
    if subject is None:
        return None, None, None
    named = [subject] + [c for c in subject.children if c.dep_ == "appos"]
    found = next((m for m in (_mention_at(t, mentions) for t in named) if m is not None), None)
    if found is not None:
        return found.name, found.key, None
    pronoun = subject.lower_
    if pronoun in PRONOUNS:
        found = _antecedent(doc, subject, mentions, quoted, PRONOUNS[pronoun], lexicon)
        return (found.name, found.key, None) if found else (None, None, None)
    if subject.tag_ in PRONOUN_TAGS or subject.lower_ in NOUN_PRONOUNS:
        return None, None, None
    name = next((t for t in named[1:] if t.tag_ in PROPER_NOUN_TAGS), None)  # `The ... Secretary, Theresa May,`
    if name is not None:
        return doc[name.left_edge.i : name.i + 1].text, None, None
    words = doc[subject.left_edge.i : subject.right_edge.i + 1]
    org = next((m for m in mentions if m.label == "ORG" and words.start <= m.start and m.end <= words.end), None)
    return words.text, None, org.key if org else None


def _antecedent(doc, pronoun, mentions: list[Mention], quoted, label: str | None, lexicon: Lexicon) -> Mention | None:
    """The last entity before the pronoun that was the subject of its clause's main verb, else the last entity."""
    candidates = [
        m
        for m in mentions
        if m.end_char <= pronoun.idx
        and not _inside(m.start_char, quoted)
        and (m.label == label if label else m.label != "PERSON")
    ]
    subjects = [m for m in candidates if _is_main_subject(doc[m.start : m.end].root, lexicon.cue_verbs)]
    chosen = subjects or candidates
    return chosen[-1] if chosen else None


def _is_main_subject(token, cue_verbs: frozenset[str]) -> bool:
    """Whether a token is the subject of its sentence's main verb or of a cue verb."""
    return token.dep_ in _SUBJECTS and (token.head.dep_ == "ROOT" or token.head.lower_ in cue_verbs)
