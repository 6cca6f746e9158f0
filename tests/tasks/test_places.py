import re

import pytest

from newslake.tasks.places import load_gazetteer, locate_places, name_key
from newslake.tasks.resolve import Mention

GAZETTEER = load_gazetteer()


def _mentions(text: str, *labelled: tuple[str, str]) -> list[Mention]:
    """Mentions of the given (surface, label) pairs, at each place they occur in the text."""
    found = []
    for surface, label in labelled:
        for m in re.finditer(re.escape(surface), text):
            found.append(Mention(0, 0, m.start(), m.end(), surface, label, surface))
    return sorted(found, key=lambda m: m.start_char)


def _places(text: str, *labelled: tuple[str, str]) -> list[tuple[str, str, str | None, str | None, str]]:
    found = locate_places(text, _mentions(text, *labelled), GAZETTEER)
    return [(p.text, p.place.type, p.place.country, p.place.admin1, p.rule) for p in found]


def test_places_washington_is_the_capital_unless_the_text_says_state():
    assert _places("Talks in Washington ended.", ("Washington", "GPE")) == [("Washington", "city", "US", "DC", "rank")]
    assert _places("Fires spread across Washington state.", ("Washington", "GPE"))[0][:4] == (
        "Washington",
        "state",
        "US",
        "WA",
    )


def test_places_georgia_is_the_country_or_the_state_by_the_document_context():
    abroad = "Georgia and Russia signed the deal in Tbilisi."
    assert _places(abroad, ("Georgia", "GPE"), ("Russia", "GPE"), ("Tbilisi", "GPE"))[0][:3] == (
        "Georgia",
        "country",
        "GE",
    )
    at_home = "Voters in Georgia and Texas went to the polls; Atlanta saw long queues."
    assert _places(at_home, ("Georgia", "GPE"), ("Texas", "GPE"), ("Atlanta", "GPE"))[0] == (
        "Georgia",
        "state",
        "US",
        "GA",
        "document_context",
    )


def test_places_dateline_decides_the_city_and_gives_its_state():
    text = "BUFFALO, N.Y. (AP) — Snow closed schools in Buffalo on Monday."
    found = locate_places(text, _mentions(text, ("Buffalo", "GPE")), GAZETTEER)
    assert [(p.text, p.place.name, p.place.admin1, p.rule) for p in found] == [
        ("BUFFALO", "Buffalo", "NY", "dateline"),
        ("N.Y.", "New York", "NY", "dateline"),
        ("Buffalo", "Buffalo", "NY", "document_context"),
    ]
    assert found[0].place.geonameid == 5110629 and round(found[0].place.lat, 1) == 42.9


def test_places_a_place_the_model_mislabelled_is_found_after_a_preposition_or_in_a_list():
    text = "The party met in Manchester, then toured Blackpool, Bournemouth and Brighton. Bournemouth won."
    labelled = (("Manchester", "PERSON"), ("Blackpool", "GPE"), ("Bournemouth", "ORG"), ("Brighton", "GPE"))
    assert [(t, c) for t, _, c, _, _ in _places(text, *labelled)] == [
        ("Manchester", "GB"),
        ("Blackpool", "GB"),
        ("Bournemouth", "GB"),
        ("Brighton", "GB"),
        ("Bournemouth", "GB"),
    ]
    assert _places("Jordan scored twice.", ("Jordan", "PERSON")) == []  # a person, not the country


def test_places_a_place_the_gazetteer_lacks_keeps_its_row_without_coordinates():
    found = locate_places("Snow fell on Narnia.", _mentions("Snow fell on Narnia.", ("Narnia", "GPE")), GAZETTEER)
    assert [(p.place.key, p.place.type, p.place.lat, p.place.geonameid, p.rule) for p in found] == [
        ("unknown:narnia", "unknown", None, None, "not_in_gazetteer")
    ]


def test_places_names_match_in_any_case_without_accents_dots_or_article():
    assert name_key("the U.S.") == "us" and name_key("KYIV") == name_key("Kyiv")
    assert {p.geonameid for p in GAZETTEER.lookup("Kiev")} == {703448}
    assert {p.geonameid for p in GAZETTEER.lookup("Britain")} == {2635167}


def test_places_a_user_gazetteer_adds_places_and_aliases(tmp_path):
    extra = tmp_path / "places.csv"
    extra.write_text(
        "name,type,country,admin1,lat,lon,geonameid,population,aliases\n"
        "Hogsmeade,city,GB,,56.8,-4.2,,2000,Hogsmeade Village\n"
        "Kyiv,city,UA,,,,703448,,Kyyiv\n"
    )
    gazetteer = load_gazetteer(str(extra))
    assert [(p.name, p.lat, p.key) for p in gazetteer.lookup("Hogsmeade Village")] == [
        ("Hogsmeade", 56.8, "city:hogsmeade")
    ]
    assert [p.geonameid for p in gazetteer.lookup("Kyyiv")] == [703448]
    assert gazetteer.fingerprint != GAZETTEER.fingerprint


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name,country\nX,GB\n", "needs the columns name,type"),
        ("name,type\nX,planet\n", "needs a name and a type of country"),
        ("name,type,lat\nX,city,north\n", "could not convert"),
    ],
)
def test_places_a_bad_gazetteer_says_what_is_wrong(tmp_path, content, message):
    bad = tmp_path / "places.csv"
    bad.write_text(content)
    with pytest.raises(ValueError, match=message):
        load_gazetteer(str(bad))


def test_places_own_names_capitals_and_acronyms_before_look_alikes():
    us = "The US team flew from Texas."
    sydney = _places(f"{us} Fans in Sydney cheered.", ("US", "GPE"), ("Texas", "GPE"), ("Sydney", "GPE"))
    assert sydney[-1][:3] == ("Sydney", "city", "AU")  # not Sidney, Ohio, whose alternate name it is
    athens = _places(f"{us} The games in Athens opened.", ("US", "GPE"), ("Texas", "GPE"), ("Athens", "GPE"))
    assert athens[-1][:3] == ("Athens", "city", "GR")  # a capital, though the story names the US
    assert _places("Stars gathered in LA for the awards.", ("LA", "GPE"))[0][:4] == ("LA", "city", "US", "CA")
    assert _places("The PA said so.", ("PA", "GPE")) == [("PA", "unknown", None, None, "not_in_gazetteer")]  # not `Pa.`
    assert _places("He joined Google in 2004.", ("Google", "ORG")) == []  # once Topeka's nickname
