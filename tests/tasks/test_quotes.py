import pytest

from newslake.tasks.quotes import extract_quotes, find_quotations
from newslake.tasks.resolve import load_lexicon, resolve_entities

LEXICON = load_lexicon()


def _quotes(nlp, text: str) -> list[tuple[str, str | None, str | None, str]]:
    doc = nlp(text)
    found = extract_quotes(doc, resolve_entities(doc, lexicon=LEXICON), lexicon=LEXICON)
    assert all(text[q.start_char : q.end_char] == q.text for q in found)
    return [(q.text, q.speaker, q.cue, q.kind) for q in found]


def test_quotes_find_quotations_pairs_marks_per_paragraph():
    text = 'He said: “One two.\n“Three.” Then "four five" and "six.\n"Seven." A "b'
    found = [(text[q.start_char : q.end_char], q.closed) for q in find_quotations(text)]
    assert found == [
        ("One two.", False),
        ("Three.", True),
        ("four five", True),
        ("six.", False),
        ("Seven.", True),
        ("b", False),
    ]


def test_quotes_find_quotations_reopening_mark_ends_an_unclosed_quotation():
    text = 'She said: "We tried. "We failed." She left.'
    found = [(text[q.start_char : q.end_char], q.closed) for q in find_quotations(text)]
    assert found == [("We tried.", False), ("We failed.", True)]


def test_quotes_colon_continuation_and_scare_quotes(nlp):
    text = (
        "Ann Lee, the mayor of Leeds, spoke on Monday.\n"
        "Ms Lee said: “We will build the bridge next year. It will cost less than people fear.\n"
        "“Nobody should doubt it.”\n"
        "She described the plan as a “reset” for the city."
    )
    assert _quotes(nlp, text) == [
        ("We will build the bridge next year. It will cost less than people fear.", "Ann Lee", "said", "full"),
        ("Nobody should doubt it.", "Ann Lee", None, "continuation"),
    ]


def test_quotes_trailing_attribution_with_a_pronoun_and_a_partial_quote(nlp):
    text = (
        'Tom Hardy arrived late in Leeds. "The roads were closed for hours," he said. '
        'Mr Hardy said the decision was "a serious mistake for the town".'
    )
    assert _quotes(nlp, text) == [
        ("The roads were closed for hours,", "Tom Hardy", "said", "full"),
        ("a serious mistake for the town", "Tom Hardy", "said", "partial"),
    ]


def test_quotes_pronoun_goes_to_the_last_subject_not_the_last_name(nlp):
    text = (
        "In a video address, Tom Hardy said Ann Lee had made history.\n"
        "In his speech, he said: “The city will remember this for a very long time.”"
    )
    assert _quotes(nlp, text)[0][1] == "Tom Hardy"


@pytest.mark.parametrize("subject", ["someone", "everyone", "all of them", "I"])
def test_quotes_pronoun_that_names_nobody_is_no_speaker(nlp, subject):
    """A quotation whose cue's subject is a pronoun with no antecedent has no speaker, so it is
    not one; the rules tell pronouns by the tagger's tags, which call `someone` a noun."""
    assert _quotes(nlp, f'"We will win this election," {subject} said.') == []
    assert _quotes(nlp, '"We will win this election," a spokesman said.')[0][1] == "a spokesman"


@pytest.mark.parametrize(
    "text",
    [
        'The film "Brief Encounter of the Heart" opens in Leeds today.',
        "Critics called the plan a “tripwire” for the region.",
    ],
)
def test_quotes_titles_and_scare_quotes_are_not_quotations(nlp, text):
    assert _quotes(nlp, text) == []


@pytest.mark.parametrize(
    ("text", "speaker", "org"),
    [
        (
            '"We are reviewing the footage and will respond," a spokeswoman for NBC said on Monday.',
            "a spokeswoman for NBC",
            "org:nbc",
        ),
        (
            'The NBC spokeswoman said: "We stand by our reporting and our journalists."',
            "The NBC spokeswoman",
            "org:nbc",
        ),
        ('"The company does not comment on rumours," a company spokesman said.', "a company spokesman", None),
    ],
)
def test_quotes_an_unnamed_speaker_keeps_their_words_and_the_organisation_they_name(nlp, text, speaker, org):
    doc = nlp(text)
    found = extract_quotes(doc, resolve_entities(doc, lexicon=LEXICON), lexicon=LEXICON)
    assert [(q.speaker, q.speaker_key, q.speaker_org_key) for q in found] == [(speaker, None, org)]
