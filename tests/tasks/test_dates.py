from datetime import date

import pytest

from newslake.tasks.dates import resolve_date

SUNDAY = date(2022, 3, 20)


@pytest.mark.parametrize(
    ("expression", "resolved", "resolution"),
    [
        ("24 February", date(2022, 2, 24), "day"),
        ("Feb. 24, 2022", date(2022, 2, 24), "day"),
        ("on Saturday", date(2022, 3, 19), "day"),
        ("Sunday", date(2022, 3, 20), "day"),
        ("last Sunday", date(2022, 3, 13), "day"),
        ("next Monday", date(2022, 3, 21), "day"),
        ("yesterday", date(2022, 3, 19), "day"),
        ("Friday morning", date(2022, 3, 18), "day"),
        ("30 December", date(2021, 12, 30), "day"),  # over six months ahead: the year before
        ("last month", date(2022, 2, 1), "month"),
        ("in June", date(2022, 6, 1), "month"),
        ("June 2021", date(2021, 6, 1), "month"),
        ("in 2019", date(2019, 1, 1), "year"),
        ("next year", date(2023, 1, 1), "year"),
        ("two years", None, None),
        ("the past decade", None, None),
        ("31 February", None, None),
    ],
)
def test_dates_resolve_relative_to_the_publication_day(expression, resolved, resolution):
    assert resolve_date(expression, SUNDAY) == (resolved, resolution)


def test_dates_without_a_publication_day_only_dates_that_name_their_year_resolve():
    assert resolve_date("24 February 2022", None) == (date(2022, 2, 24), "day")
    assert resolve_date("last month", None) == (None, None) and resolve_date("June", None) == (None, None)
