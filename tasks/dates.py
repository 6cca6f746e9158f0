"""Dates in the text: date expressions resolved to the absolute date they name, relative to the
document's publication day (GDELT GKG's V2.1ENHANCEDDATES, with the date itself).

An expression resolves to a day (`on Saturday`, `24 February`, `yesterday`), a month (`last
month`, `in June`) or a year (`in 2019`, `next year`); durations and vaguer ones (`two years`,
`recent weeks`) keep their row with no date. Weekdays and dates without a year are read as the
nearest such day on or before publication, unless the text says `next`; dates and months without
a year as in the publication year (a day over six months ahead, as in the year before).
"""

import re
from calendar import monthrange
from datetime import date, timedelta

DAY, MONTH, YEAR = "day", "month", "year"
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = {
    **{
        m: n
        for n, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            start=1,
        )
    },
    **{
        m: n
        for n, m in enumerate(
            ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1
        )
    },
    "sept": 9,
}
_RELATIVE_DAYS = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1}
_DROP = re.compile(r"^(?:on|in|by|since|from|until|during|early|late|mid|the|of|this past|earlier|later)\s+")


def resolve_date(expression: str, published: date | None) -> tuple[date | None, str | None]:
    """The date an expression names and its resolution (day, month or year), or (None, None);
    with no publication day, only expressions that name their year resolve."""
    text = " ".join(expression.casefold().replace(",", " ").replace(".", " ").split())
    while (shorter := _DROP.sub("", text)) != text:
        text = shorter
    text = text.removesuffix(" morning").removesuffix(" evening").removesuffix(" night").removesuffix(" afternoon")
    if published is None:
        return _calendar_date(text, None)
    if text in _RELATIVE_DAYS:
        return published + timedelta(days=_RELATIVE_DAYS[text]), DAY
    words = text.split()
    shift = {"last": -1, "next": 1, "this": 0}.get(words[0]) if words else None
    unit = " ".join(words[1:]) if shift is not None else text
    if unit in _WEEKDAYS:
        back = (published.weekday() - _WEEKDAYS.index(unit)) % 7
        if shift == 1:
            return published + timedelta(days=(7 - back) or 7), DAY
        return published - timedelta(days=back or (7 if shift == -1 else 0)), DAY
    if shift is not None and unit == "month":
        month = published.month + shift
        year = published.year + (month - 1) // 12
        return date(year, (month - 1) % 12 + 1, 1), MONTH
    if shift is not None and unit == "year":
        return date(published.year + shift, 1, 1), YEAR
    return _calendar_date(text, published)


def _calendar_date(text: str, published: date | None) -> tuple[date | None, str | None]:
    """Dates written with a month, a day or a year: `24 February`, `June 2021`, `2019`."""
    words = text.split()
    months = [w for w in words if w in _MONTHS]
    years = [int(w) for w in words if re.fullmatch(r"(1[89]|20)\d\d", w)]
    days = [int(w.rstrip("stndrh")) for w in words if re.fullmatch(r"\d{1,2}(st|nd|rd|th)?", w)]
    if len(words) != len(months) + len(years) + len(days) or len(months) > 1 or len(years) > 1 or len(days) > 1:
        return None, None
    if not months:
        return (date(years[0], 1, 1), YEAR) if years and not days else (None, None)
    if not years and published is None:
        return None, None
    month, year = _MONTHS[months[0]], years[0] if years else published.year
    if not days:
        return date(year, month, 1), MONTH
    if days[0] > monthrange(year, month)[1]:
        return None, None
    found = date(year, month, days[0])
    if not years and found > published + timedelta(days=183):  # `30 December` in a January story
        found = date(year - 1, month, days[0]) if days[0] <= monthrange(year - 1, month)[1] else found
    return found, DAY
