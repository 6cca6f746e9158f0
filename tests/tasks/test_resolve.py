import pytest

from newslake.tasks.resolve import entity_key, load_lexicon, normalise_name, resolve_entities, strip_title

LEXICON = load_lexicon()


def _resolved(nlp, text: str) -> list[tuple[str, str, str, str]]:
    return [(m.text, m.label, m.name, m.rule) for m in resolve_entities(nlp(text), lexicon=LEXICON)]


def test_resolve_entity_key_ignores_articles_possessives_and_case():
    assert normalise_name("the Netherlands’s") == "Netherlands"
    assert entity_key("GPE", "the  Netherlands") == entity_key("GPE", "NETHERLANDS") == "gpe:netherlands"
    assert entity_key("ORG", "Nato") != entity_key("GPE", "Nato")


def test_resolve_strip_title_keeps_bare_names():
    titles = LEXICON.titles
    assert strip_title("PM Boris Johnson", titles) == "Boris Johnson"
    assert strip_title("Prime Minister Boris Johnson", titles) == "Boris Johnson"
    assert strip_title("Mr. Lee", titles) == "Lee"
    assert strip_title("Mr", titles) == "Mr"


def test_resolve_aliases_name_one_place_and_fix_its_label(ruler):
    nlp = ruler(("ORG", "Britain"), ("GPE", "UK"), ("GPE", [{"LOWER": "the"}, {"TEXT": "United"}, {"TEXT": "Kingdom"}]))
    assert _resolved(nlp, "Britain and the UK agreed. The United Kingdom signed.") == [
        ("Britain", "GPE", "United Kingdom", "alias"),
        ("UK", "GPE", "United Kingdom", "alias"),
        ("The United Kingdom", "GPE", "United Kingdom", "model"),
    ]


def test_resolve_surnames_titles_and_first_names_join_the_full_name(ruler):
    nlp = ruler(("PERSON", "PM Ann Lee"), ("PERSON", "Lee"), ("ORG", "Ann"), ("PERSON", "Tom Lee"))
    text = "PM Ann Lee arrived. Later Lee spoke and Ann waved. Tom Lee came. Lee left."
    assert _resolved(nlp, text) == [
        ("PM Ann Lee", "PERSON", "Ann Lee", "model"),
        ("Lee", "PERSON", "Ann Lee", "name_part"),
        ("Ann", "PERSON", "Ann Lee", "name_part"),
        ("Tom Lee", "PERSON", "Tom Lee", "model"),
        ("Lee", "PERSON", "Tom Lee", "name_part"),  # the nearest full name before it
    ]


def test_resolve_label_vote_follows_the_document_and_untagged_repeats_join(ruler):
    doc = ruler(("GPE", "Dorset"), ("ORG", "Wessex"))(
        "Rain hit Dorset. Dorset roads shut. Wessex met in Dorset. Wessex and wessex."
    )
    doc.ents = [doc.ents[0], doc.char_span(17, 23, label="PERSON"), doc.ents[2], doc.ents[3]]  # one tagged PERSON
    resolved = [(m.text, m.label, m.rule) for m in resolve_entities(doc, lexicon=LEXICON)]
    assert resolved == [
        ("Dorset", "GPE", "model"),
        ("Dorset", "GPE", "label_vote"),
        ("Wessex", "ORG", "model"),
        ("Dorset", "GPE", "model"),
        ("Wessex", "ORG", "propagated"),  # `wessex` in lower case is not a name
    ]


def test_resolve_honorific_makes_a_person(ruler):
    nlp = ruler(("ORG", "Mr Ebbers"), ("PERSON", "Bernie Ebbers"))
    assert _resolved(nlp, "Bernie Ebbers denied it. Mr Ebbers left.") == [
        ("Bernie Ebbers", "PERSON", "Bernie Ebbers", "model"),
        ("Mr Ebbers", "PERSON", "Bernie Ebbers", "name_part"),
    ]


def test_resolve_label_vote_tie_goes_to_the_first_mention(ruler):
    nlp = ruler(("GPE", "Dorset"))
    doc = nlp("Dorset is wet. Dorset spoke.")
    doc.ents = [doc.ents[0], doc.char_span(15, 21, label="PERSON")]
    assert [(m.label, m.rule) for m in resolve_entities(doc, lexicon=LEXICON)] == [
        ("GPE", "model"),
        ("GPE", "label_vote"),
    ]


def test_resolve_demonyms_stay_apart_from_countries_and_plurals_group(ruler):
    nlp = ruler(("NORP", "Russian"), ("GPE", "Russia"), ("NORP", "Ukrainians"), ("NORP", "Ukrainian"))
    keys = [
        m.key for m in resolve_entities(nlp("Russian troops left Russia. Ukrainians and Ukrainian"), lexicon=LEXICON)
    ]
    assert keys == ["norp:russian", "gpe:russia", "norp:ukrainian", "norp:ukrainian"]


def test_resolve_alias_table_finds_names_the_model_missed(ruler):
    assert _resolved(ruler(), "In an interview with the Sunday Telegraph, he spoke.") == [
        ("Sunday Telegraph", "ORG", "Sunday Telegraph", "alias")
    ]


def test_resolve_user_alias_table_extends_the_packaged_one(ruler, tmp_path):
    extra = tmp_path / "aliases.csv"
    extra.write_text("alias,canonical,label\n# our desk's names\nThe Beeb,BBC,ORG\nPompey,Portsmouth,GPE\n")
    lexicon = load_lexicon(str(extra))
    assert lexicon.aliases["pompey"] == ("Portsmouth", "GPE") and lexicon.aliases["uk"] == ("United Kingdom", "GPE")
    assert lexicon.fingerprint != LEXICON.fingerprint
    found = resolve_entities(ruler()("Fans in Pompey cheered."), lexicon=lexicon)
    assert [(m.name, m.key) for m in found] == [("Portsmouth", "gpe:portsmouth")]


@pytest.mark.parametrize(
    ("content", "message"),
    [("name,label\nX,ORG\n", "needs the columns"), ("alias,canonical,label\nX,Y,CITY\n", "has label 'CITY'")],
)
def test_resolve_bad_alias_table_says_what_is_wrong(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_lexicon(str(bad))
    with pytest.raises(ValueError, match="does not exist"):
        load_lexicon(str(tmp_path / "missing.csv"))


def test_resolve_earnings_table_abbreviations_are_never_entities(nlp):
    text = "Shr 14 cts vs 10 cts\nNet 741,000 vs 510,000\nRevs 5,980,000 vs 4,200,000\nThe company is based in Boston."
    found = {m.text for m in resolve_entities(nlp(text), lexicon=LEXICON)}
    assert found == {"Boston"}


def test_resolve_a_knowledge_folder_adds_words_that_are_never_entities(ruler, tmp_path):
    from newslake.tasks.annotate import load_knowledge
    from newslake.tasks.knowledge import KnowledgeFiles

    (tmp_path / "not_entities.txt").write_text("# house jargon\nZorp\n")
    doc = ruler(("ORG", "Zorp"), ("ORG", "Acme"))("Zorp rose at Acme.")
    lexicon = load_knowledge(KnowledgeFiles(folder=str(tmp_path))).lexicon
    assert [m.text for m in resolve_entities(doc, lexicon=lexicon)] == ["Acme"]
    assert lexicon.fingerprint != LEXICON.fingerprint


def test_resolve_a_shared_first_name_goes_to_the_person_named_most_or_stays_unresolved(ruler):
    nlp = ruler(("PERSON", "Bobby Jindal"), ("PERSON", "Bobby Flay"), ("PERSON", "Bobby"))
    text = "Bobby Jindal spoke. Bobby Jindal left. The chef Bobby Flay cooked. Bobby said the state would recover."
    assert _resolved(nlp, text)[-1] == ("Bobby", "PERSON", "Bobby Jindal", "name_part_salient")
    tie = "Bobby Jindal spoke. The chef Bobby Flay cooked. Bobby said the state would recover."
    assert _resolved(nlp, tie)[-1] == ("Bobby", "PERSON", "Bobby", "ambiguous_name_part")
