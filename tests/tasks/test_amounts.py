import pytest

from newslake.tasks.amounts import extract_amounts, load_count_types, parse_value


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("£100 million", 100_000_000, "GBP"),
        ("$1.13bn", 1_130_000_000, "USD"),
        ("US$5m", 5_000_000, "USD"),
        ("€2.5bn", 2_500_000_000, "EUR"),
        ("80p", 0.8, "GBP"),
        ("500 dollars", 500, "USD"),
        ("1.5 trillion yen", 1.5e12, "JPY"),
        ("40,000", 40_000, None),
        ("twenty five million", 25_000_000, None),
        ("a dozen", 12, None),
        ("12 per cent", 12, None),
        ("more than a trillion pounds", 1e12, "GBP"),
        ("thousands", None, None),
        ("millions of dollars", None, "USD"),
    ],
)
def test_amounts_parse_value(text, value, currency):
    found, code = parse_value(text)
    assert found == pytest.approx(value) if value is not None else found is None
    assert code == currency


def test_amounts_money_counts_and_percentages_from_the_model(nlp):
    text = (
        "The UK sent 120 armoured vehicles and 40,000 troops, a number almost 10 times that of before. "
        "It added £600m, while prices rose 4.5% and a one-off payment was made."
    )
    found = {(a.text, a.kind, a.value, a.currency, a.unit) for a in extract_amounts(nlp(text))}
    assert found == {
        ("120 armoured vehicles", "count", 120, None, "armoured vehicles"),
        ("40,000 troops", "count", 40_000, None, "troops"),
        ("£600m", "money", 600_000_000, "GBP", None),
        ("4.5%", "percent", 4.5, None, "percent"),
    }


@pytest.mark.parametrize(
    ("text", "typed"),
    [
        ("Gunmen killed seven people in the attack.", [("seven people", "KILL")]),
        ("Seven people were killed and 12 others were injured.", [("Seven people", "KILL"), ("12 others", "WOUND")]),
        ("Police arrested three suspects overnight.", [("three suspects", "ARREST")]),
        ("About 200 protesters gathered outside.", [("About 200 protesters", "PROTEST")]),
        ("The firm opened 40 new stores.", [("40 new stores", None)]),
    ],
)
def test_amounts_counts_take_the_type_of_what_governs_them(nlp, text, typed):
    found = extract_amounts(nlp(text), load_count_types())
    assert [(a.text, a.count_type) for a in found if a.kind == "count"] == typed


def test_amounts_a_user_file_adds_count_types(nlp, tmp_path):
    extra = tmp_path / "count_types.csv"
    extra.write_text("word,type\nstores,RETAIL\n")
    found = extract_amounts(nlp("The firm opened 40 new stores."), load_count_types(str(extra)))
    assert [a.count_type for a in found] == ["RETAIL"]
    extra.write_text("word,type\nstores,retail\n")
    with pytest.raises(ValueError, match="in capitals"):
        load_count_types(str(extra))


@pytest.mark.parametrize(
    ("text", "amounts"),
    [
        ("Net profit rose to 15 mln dlrs.", [("15 mln dlrs", "money", 15e6, None, "USD")]),
        ("It agreed a two billion dlr acquisition.", [("two billion dlr", "money", 2e9, None, "USD")]),
        (
            "Sales rose 37 pct, margins four pct.",
            [("37 pct", "percent", 37, None, None), ("four pct", "percent", 4, None, None)],
        ),
        ("Shr 14 cts vs 10 cts.", [("14 cts", "money", 0.14, None, "USD"), ("10 cts", "money", 0.1, None, "USD")]),
        ("The deal was worth 300 mln stg.", [("300 mln stg", "money", 3e8, None, "GBP")]),
        ("It will cost 30 to 50 mln dlrs.", [("30 to 50 mln dlrs", "money", 3e7, 5e7, "USD")]),
        (
            "The bank raised 1.5 billion dlrs, and its rival 8.3 billion.",
            [("1.5 billion dlrs", "money", 1.5e9, None, "USD"), ("8.3 billion", "money", 8.3e9, None, "USD")],
        ),
    ],
)
def test_amounts_wire_style_money_percent_ranges_and_an_inherited_currency(nlp, text, amounts):
    found = [(a.text, a.kind, a.value, a.value_high, a.currency) for a in extract_amounts(nlp(text))]
    assert found == [(t, k, pytest.approx(v), h and pytest.approx(h), c) for t, k, v, h, c in amounts]
