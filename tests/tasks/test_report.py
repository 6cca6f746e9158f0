"""The HTML report: built from the sample lake, self-contained, and rendered by a real headless browser."""

import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

import newslake
from newslake.flows.cli import app

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
]


@pytest.fixture(scope="module")
def report(sample_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(app, ["report", "--lake", str(sample_lake[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_report_is_one_self_contained_page_with_every_section(report):
    page = report.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing to fetch
    for section in (
        "documents-per-day",
        "top-entities",
        "tone-toward",
        "where-the-news-is",
        "top-themes",
        "entities-found",
        "most-quoted",
        "largest-amounts",
        "run-health",
    ):
        assert f'id="{section}' in page, section
    assert page.count("<svg") == 8  # documents, entities, their tone, map, themes, network, speakers, rejects
    assert "Benin City" in page and "ECON_INFLATION" in page
    assert "Abba Isa Tijani" in page and "£12 million" in page and "language:fr" in page


def test_report_renders_in_headless_chromium(report, tmp_path):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, *profile, "--dump-dom", report.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr
    assert dom.stdout.count("<svg") == 8 and "Most quoted speakers" in dom.stdout
    assert "Uncaught" not in dom.stderr and "CONSOLE" not in dom.stderr, dom.stderr
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, *profile, "--window-size=1200,4000", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one


def test_report_refuses_an_empty_lake(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    result = CliRunner().invoke(app, ["report", "--lake", str(lake), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "no tables" in result.output


def _chart_days(page: str) -> list[str]:
    return re.findall(r"<text[^>]*>(\d{4}-\d{2}-\d{2})</text>", page)


def test_report_charts_show_only_days_with_documents_and_flag_undated_ones(report, sample_lake):
    page = report.read_text()
    days = sorted(
        str(d) for d in newslake.open_lake(sample_lake[0]).sql("SELECT DISTINCT date FROM source_daily")["date"]
    )
    assert days[-1][:4] != days[0][:4]  # the sample spans more than a year: no line may cross the gap
    assert _chart_days(page) == days * 3  # documents, entities and their tone, on the same days
    assert "documents without a publication date" in page and "<pattern" in page  # hatched bars
    assert ">None<" not in page  # an unknown currency is a dash
    assert "rejected inputs, of 16 read" in page  # reject bars are a share of what was read


def test_report_of_one_day_draws_that_day_only(sample_lake, tmp_path):
    out = tmp_path / "day.html"
    args = ["report", "--lake", str(sample_lake[0]), "--start", "2025-03-21", "--end", "2025-03-21", "--out", str(out)]
    assert CliRunner().invoke(app, args).exit_code == 0
    assert set(_chart_days(out.read_text())) == {"2025-03-21"}
