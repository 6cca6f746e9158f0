"""A self-contained HTML report of a lake over a period: charts as inline SVG drawn by
matplotlib, tables as HTML; nothing to fetch when the page opens."""

import html
import io
import math
from datetime import date
from pathlib import Path

import polars as pl

from newslake.tasks.lake import Lake
from newslake.tasks.lake.query import connect

TOP_ENTITIES = 8
TOP_PAIRS = 40
TOP_LABELS = 20
TOP_TONE_ENTITIES = 5
TOP_PLACES = 12
TOP_THEMES = 12
TOP_SPEAKERS = 12
TOP_AMOUNTS = 15

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.9rem; } td, th { padding: 0.25rem 0.6rem; text-align: left; }
tr:nth-child(even) { background: #f6f6f6; } td.n { text-align: right; } .muted { color: #777; }
figure { margin: 1rem 0; } svg { max-width: 100%; height: auto; }
"""


def build_report(lake: Lake, *, start: date | None = None, end: date | None = None) -> str:
    """The report of the lake's days from `start` to `end` (default: all), as one HTML page."""
    con = connect(lake)
    days = con.sql("SELECT min(date), max(date) FROM documents").fetchall()[0]
    start, end = start or days[0], end or days[1]

    def frame(query: str) -> pl.DataFrame:
        params = {"start": start, "end": end} if "$start" in query else None
        return con.sql(query, params=params).pl()

    in_period = "date BETWEEN $start AND $end"
    daily = frame(f"SELECT * FROM source_daily WHERE {in_period}")
    days = sorted(set(daily["date"]))  # every chart over time shares the days that have documents
    undated = frame(
        f"SELECT date, count(*) AS documents FROM documents WHERE dup_of IS NULL AND date_source = 'ingested'"
        f" AND {in_period} GROUP BY date"
    )
    runs = frame("SELECT * FROM runs")
    entities = frame(f"SELECT * FROM entity_daily WHERE {in_period}")
    sections = [
        ("Documents per day and source", _documents(daily, undated, days)),
        ("Top entities over time", _entities(entities, days)),
        ("Tone toward the top entities", _entity_tone(entities, days)),
        ("Where the news is", _map(frame(f"SELECT * FROM location_daily WHERE {in_period}"))),
        ("Top themes", _themes(frame(f"SELECT * FROM theme_daily WHERE {in_period}"))),
        ("Entities found together", _network(frame(f"SELECT * FROM cooccurrence_daily WHERE {in_period}"))),
        ("Most quoted speakers", _speakers(frame(f"SELECT * FROM quote_context WHERE {in_period}"))),
        ("Largest amounts of money", _money(frame(f"SELECT * FROM amounts WHERE kind = 'money' AND {in_period}"))),
        ("Run health", _health(frame(f"SELECT * FROM rejects WHERE {in_period}"), runs, start, end)),
    ]
    body = "\n".join(
        f'<section id="{_anchor(title)}"><h2>{title}</h2>\n{content}</section>' for title, content in sections
    )
    title = f"newslake report {start} to {end}"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        f'<p class="muted">{html.escape(lake.location)}</p>\n{body}</body></html>'
    )


def _anchor(title: str) -> str:
    return title.lower().replace(" ", "-")


def _svg(figure) -> str:
    """A matplotlib figure as inline SVG; text stays text (searchable, and small)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return f"<figure>{svg[svg.index('<svg') :]}</figure>"


def _figure(width: float = 10, height: float = 3.5):
    """A figure and its axes, drawn without pyplot: no backend and no global state to touch."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.subplots()


def _table(frame: pl.DataFrame, numeric: tuple[str, ...] = ()) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(_cell(v, numeric=c in numeric) for c, v in zip(frame.columns, row, strict=True)) + "</tr>"
        for row in frame.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _cell(value, *, numeric: bool) -> str:
    """A table cell: numbers right-aligned, an unknown value as a muted dash (not "None")."""
    if value is None:
        return '<td class="muted">–</td>'
    if numeric:
        return f'<td class="n">{value:,.0f}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _day_axis(axes, days: list[date]) -> None:
    """Days as evenly spaced categories (only days with documents: no line drawn across empty
    years), with at most about 20 labels."""
    step = max(1, len(days) // 20)
    axes.set_xticks(range(0, len(days), step), [str(d) for d in days[::step]])
    axes.set_xlim(-0.6, len(days) - 0.4)
    axes.tick_params(axis="x", labelrotation=45, labelsize="small")


def _empty(what: str) -> str:
    return f'<p class="muted">No {what} in this period.</p>'


def _documents(daily: pl.DataFrame, undated: pl.DataFrame, days: list[date]) -> str:
    if daily.is_empty():
        return _empty("documents")
    wide = daily.pivot(on="source", index="date", values="documents", aggregate_function="sum").fill_null(0)
    wide = pl.DataFrame({"date": days}, schema={"date": wide.schema["date"]}).join(wide, on="date", how="left")
    figure, axes = _figure()
    bottom = [0] * wide.height
    positions = list(range(wide.height))
    for source in wide.columns[1:]:
        counts = wide[source].fill_null(0).to_list()
        axes.bar(positions, counts, bottom=bottom, label=source)
        bottom = [b + v for b, v in zip(bottom, counts, strict=True)]
    note = ""
    if not undated.is_empty():
        per_day = dict(undated.iter_rows())
        axes.bar(
            positions,
            [per_day.get(d, 0) for d in days],
            fill=False,
            hatch="///",
            edgecolor="#333",
            label="of which undated (dated by the day read)",
        )
        total = undated["documents"].sum()
        note = (
            f'<p class="muted">Hatched: {total:,} documents without a publication date, counted on the day'
            " they were read (<code>date_source = 'ingested'</code>).</p>"
        )
    axes.set_ylabel("unique documents")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize="small")
    _day_axis(axes, days)
    totals = daily.group_by("source").agg(pl.col("documents", "duplicates", "words", "mentions").sum()).sort("source")
    return _svg(figure) + note + _table(totals, ("documents", "duplicates", "words", "mentions"))


def _entities(daily: pl.DataFrame, days: list[date]) -> str:
    if daily.is_empty():
        return _empty("entities")
    figure, axes = _figure()
    for key, name in _top_entities(daily, TOP_ENTITIES).select("entity_key", "name").iter_rows():
        per_day = dict(daily.filter(pl.col("entity_key") == key).select("date", "mentions").iter_rows())
        axes.plot(range(len(days)), [per_day.get(d, 0) for d in days], marker="o", label=name)
    axes.set_ylabel("mentions per day")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize="small", ncol=2)
    _day_axis(axes, days)
    return _svg(figure)


def _top_entities(daily: pl.DataFrame, n: int) -> pl.DataFrame:
    top = daily.group_by("entity_key").agg(pl.col("mentions").sum(), pl.col("name").first())
    return top.sort("mentions", "entity_key", descending=[True, False]).head(n)


def _entity_tone(daily: pl.DataFrame, days: list[date]) -> str:
    """The mean tone of the sentences that mention each of the top entities, day by day."""
    daily = daily.filter(pl.col("tone").is_not_null())
    if daily.is_empty():
        return _empty("tone of entities (backfill older days to add it)")
    figure, axes = _figure()
    for key, name in _top_entities(daily, TOP_TONE_ENTITIES).select("entity_key", "name").iter_rows():
        per_day = dict(daily.filter(pl.col("entity_key") == key).select("date", "tone").iter_rows())
        positions = [n for n, d in enumerate(days) if d in per_day]
        axes.plot(positions, [per_day[days[n]] for n in positions], marker="o", label=name)
    axes.axhline(0, color="#999", linewidth=0.8)
    axes.set_ylabel("tone (positive minus negative words, %)")
    axes.legend(fontsize="small", ncol=2)
    _day_axis(axes, days)
    note = '<p class="muted">Tone of the sentences that mention the entity; days without a mention have no point.</p>'
    return _svg(figure) + note


def _map(places: pl.DataFrame) -> str:
    """The period's places on the world, drawn from the gazetteer: every town of 15,000 people
    or more as a grey dot (the map's outline), each place mentioned as a circle sized by its
    mentions; countries, which have no coordinates of their own, at their capitals."""
    if places.is_empty():
        return _empty("places")
    from newslake.tasks.places import load_gazetteer

    towns = {p.geonameid: p for ps in load_gazetteer().names.values() for p in ps if p.type == "city"}
    capitals = {p.country: p for p in towns.values() if p.capital}
    per_place = (
        places.group_by("place_key")
        .agg(pl.col("name", "type", "country", "lat", "lon").first(), pl.col("mentions").sum())
        .sort("mentions", "place_key", descending=[True, False])
    )
    rows = []
    for row in per_place.iter_rows(named=True):
        at = capitals.get(row["country"]) if row["lat"] is None and row["type"] == "country" else None
        lat, lon = (row["lat"], row["lon"]) if at is None else (at.lat, at.lon)
        if lat is not None:
            rows.append((row["name"], lat, lon, row["mentions"]))
    west, east, south, north = _extent([r[2] for r in rows], [r[1] for r in rows])
    shown = [t for t in towns.values() if west <= t.lon <= east and south <= t.lat <= north]
    figure, axes = _figure(10, 6)
    axes.scatter([t.lon for t in shown], [t.lat for t in shown], s=0.5, color="#ccc", linewidths=0, rasterized=True)
    if rows:
        most = max(r[3] for r in rows)  # a circle's area is its share of the most mentioned place's
        axes.scatter([r[2] for r in rows], [r[1] for r in rows], s=[12 + 500 * r[3] / most for r in rows],
                     color="#c44", alpha=0.5, edgecolors="#822", linewidths=0.5)  # fmt: skip
        labelled: list[tuple[float, float]] = []
        for name, lat, lon, _ in rows[:TOP_PLACES]:  # the most mentioned first; none over another's label
            if all(abs(lat - y) > (north - south) / 25 or abs(lon - x) > (east - west) / 8 for y, x in labelled):
                labelled.append((lat, lon))
                axes.annotate(name, (lon, lat), fontsize=8, xytext=(4, 4), textcoords="offset points",
                              bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.6, "pad": 0.5})  # fmt: skip
    axes.set_xlim(west, east)
    axes.set_ylim(south, north)
    axes.set_aspect("equal")
    axes.set_axis_off()
    table = per_place.head(TOP_PLACES)
    unplaced = per_place.height - len(rows)
    note = (
        f'<p class="muted">{len(rows)} places drawn; {unplaced} without coordinates'
        " (states, regions, unknown places).</p>"
    )
    return _svg(figure) + note + _table(table.select("name", "type", "country", "mentions"), ("mentions",))


def _extent(lons: list[float], lats: list[float]) -> tuple[float, float, float, float]:
    """West, east, south and north of a map around the given points: a margin of 10 degrees, at
    least 40 degrees wide, the whole world at most."""
    if not lons:
        return -180.0, 180.0, -60.0, 85.0
    west, east = max(min(lons) - 10, -180.0), min(max(lons) + 10, 180.0)
    south, north = max(min(lats) - 10, -60.0), min(max(lats) + 10, 85.0)
    if east - west < 40:
        middle = (east + west) / 2
        west, east = max(middle - 20, -180.0), min(middle + 20, 180.0)
    if north - south < 25:
        middle = (north + south) / 2
        south, north = max(middle - 12.5, -60.0), min(middle + 12.5, 85.0)
    return west, east, south, north


def _themes(daily: pl.DataFrame) -> str:
    if daily.is_empty():
        return _empty("themes")
    top = (
        daily.group_by("theme")
        .agg(pl.col("documents", "stories").sum(), pl.col("tone").mean().round(2))
        .sort("documents", "theme", descending=[True, False])
        .head(TOP_THEMES)
    )
    figure, axes = _figure(10, 0.35 * top.height + 1)
    axes.barh(top["theme"].to_list()[::-1], top["documents"].to_list()[::-1])
    axes.set_xlabel("documents")
    axes.xaxis.get_major_locator().set_params(integer=True)
    return _svg(figure) + _table(top, ("documents", "stories"))


def _network(pairs: pl.DataFrame) -> str:
    if pairs.is_empty():
        return _empty("entities found together")
    import networkx as nx

    strongest = (
        pairs.group_by("entity_key", "other_key")
        .agg(pl.col("name").first(), pl.col("other_name").first(), pl.col("documents").sum())
        .sort("documents", "entity_key", "other_key", descending=[True, False, False])
        .head(TOP_PAIRS)
    )
    graph = nx.Graph()
    for row in strongest.iter_rows(named=True):
        graph.add_edge(row["name"], row["other_name"], weight=row["documents"])
    layout = _layout(graph)
    figure, axes = _figure(10, 7)
    widths = [0.5 + graph[a][b]["weight"] for a, b in graph.edges]
    nx.draw_networkx_edges(graph, layout, ax=axes, width=widths, alpha=0.4)
    nx.draw_networkx_nodes(graph, layout, ax=axes, node_size=[80 + 40 * graph.degree(n) for n in graph], alpha=0.8)
    # Names of the best-connected entities only, on a white ground: dense clusters stay legible.
    named = sorted(graph, key=lambda n: (-graph.degree(n, weight="weight"), n))[:TOP_LABELS]
    nx.draw_networkx_labels(
        graph,
        layout,
        labels={n: n for n in named},
        ax=axes,
        font_size=8,
        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 1},
    )
    axes.set_axis_off()
    return (
        _svg(figure)
        + f'<p class="muted">The {strongest.height} pairs found in the most documents; line width: documents;'
        f" names of the {min(TOP_LABELS, len(graph))} best-connected entities.</p>"
    )


def _layout(graph) -> dict:
    """Node positions: each group of connected entities laid out on its own, in a grid cell of
    its own, so that no group is squeezed into a knot by the others."""
    import networkx as nx

    groups = sorted(nx.connected_components(graph), key=lambda g: (-len(g), min(g)))
    columns = math.ceil(len(groups) ** 0.5)
    positions = {}
    for n, group in enumerate(groups):
        row, column = divmod(n, columns)
        inner = nx.spring_layout(graph.subgraph(group), seed=1, weight="weight") if len(group) > 1 else {}
        for node in group:
            x, y = inner.get(node, (0.0, 0.0))
            positions[node] = (2.6 * column + x, -2.6 * row + y)
    return positions


def _speakers(quotes: pl.DataFrame) -> str:
    quotes = quotes.filter(pl.col("speaker_key").is_not_null())
    if quotes.is_empty():
        return _empty("quotes")
    top = (
        quotes.group_by("speaker_key")
        .agg(
            pl.col("speaker").first(),
            pl.len().alias("quotes"),
            pl.col("text").sort_by(pl.col("text").str.len_chars(), descending=True).first().alias("sample quote"),
            pl.col("title").first().alias("in"),
        )
        .sort("quotes", "speaker_key", descending=[True, False])
        .head(TOP_SPEAKERS)
    )
    figure, axes = _figure(10, 0.4 * top.height + 1)
    axes.barh(top["speaker"].to_list()[::-1], top["quotes"].to_list()[::-1])
    axes.set_xlabel("quotes")
    axes.xaxis.get_major_locator().set_params(integer=True)
    return _svg(figure) + _table(top.select("speaker", "quotes", "sample quote", "in"), ("quotes",))


def _money(amounts: pl.DataFrame) -> str:
    amounts = amounts.filter(pl.col("value").is_not_null())
    if amounts.is_empty():
        return _empty("amounts of money")
    top = amounts.sort("value", descending=True).head(TOP_AMOUNTS).select("text", "value", "currency", "date")
    note = '<p class="muted">Values in their own currency, not converted.</p>'
    return _table(top, ("value",)) + note


def _health(rejects: pl.DataFrame, runs: pl.DataFrame, start: date, end: date) -> str:
    recent = runs.sort("started_at", descending=True).head(10)
    table = _table(
        recent.select("run_id", "kind", "inputs", "new", "changed", "skipped", "duplicates", "rejects"),
        ("inputs", "new", "changed", "skipped", "duplicates", "rejects"),
    )
    if rejects.is_empty():
        return _empty("rejects") + table
    reasons = rejects.group_by("reason").len("rejects").sort("rejects", "reason", descending=[True, False])
    read = runs.filter((pl.col("kind") == "run") & pl.col("date").is_between(start, end))["inputs"].sum()
    figure, axes = _figure(10, 0.4 * reasons.height + 1)
    axes.barh(reasons["reason"].to_list()[::-1], reasons["rejects"].to_list()[::-1], color="#c44")
    axes.set_xlim(0, max(read, reasons["rejects"].max()))  # the bars' length is their share of what was read
    axes.set_xlabel(f"rejected inputs, of {read:,} read by the runs of the period")
    axes.xaxis.get_major_locator().set_params(integer=True)
    return _svg(figure) + table


def write_report(lake: Lake, out: Path, *, start: date | None = None, end: date | None = None) -> Path:
    """Write the report beside `out` (its folder made if missing) and rename it into place."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(build_report(lake, start=start, end=end), encoding="utf-8")
    tmp.replace(out)
    return out
