import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newslake.tasks.themes import compile_patterns, find_themes, load_taxonomy

TAXONOMY = load_taxonomy()


def test_themes_match_whole_words_any_case_and_prefixes():
    pattern = compile_patterns(["elect*", "polling station", "vote"])
    text = "Elections: voters queued at a Polling  Station to vote; the electorate voted early."
    assert [m.group() for m in pattern.finditer(text)] == ["Elections", "Polling  Station", "vote", "electorate"]


def test_themes_give_the_evidence_of_each_theme_in_text_order():
    text = "Troops shelled the city as refugees fled across the border before the election."
    found = [(t.theme, t.text, text[t.start_char : t.end_char]) for t in find_themes(text, TAXONOMY)]
    assert ("ARMEDCONFLICT", "Troops", "Troops") in found
    assert ("IMMIGRATION", "refugees", "refugees") in found and ("ELECTION", "election", "election") in found
    assert [t[0] for t in found].index("ARMEDCONFLICT") < [t[0] for t in found].index("ELECTION")


def test_themes_a_user_file_adds_themes_and_patterns(tmp_path):
    extra = tmp_path / "themes.csv"
    extra.write_text("code,description,patterns\nSPACE,spaceflight,rocket*|orbit\nELECTION,,hustings\n")
    taxonomy = load_taxonomy(str(extra))
    found = {t.theme for t in find_themes("Rockets reached orbit after the hustings.", taxonomy)}
    assert found == {"SPACE", "ELECTION"}
    extra.write_text("code,description,patterns\nbad code,x,y\n")
    with pytest.raises(ValueError, match="needs a code"):
        load_taxonomy(str(extra))


def test_themes_packaged_patterns_leave_look_alike_words_alone():
    text = (
        "An important example: the Protestant hospitality firm's electronic bill and its chips and offensive remarks."
    )
    assert [(t.theme, t.text) for t in find_themes(text, TAXONOMY)] == [("LEGISLATION", "bill")]


_WORDS = ["election", "Elections", "ELECTORATE", "pre-election", "refugees", "troops", "the", "İstanbul", "£5", "covid"]


@given(st.lists(st.sampled_from(_WORDS), max_size=12), st.sampled_from([str, str.upper, str.title]))
@settings(max_examples=200, deadline=None)
def test_themes_looking_only_for_themes_whose_first_words_occur_finds_what_a_full_scan_finds(words, case):
    text = case(" ".join(words))
    every = [(t.code, m.start()) for t in TAXONOMY.themes for m in t.pattern.finditer(text)]
    assert sorted((t.theme, t.start_char) for t in find_themes(text, TAXONOMY)) == sorted(every)
