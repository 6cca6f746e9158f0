"""The HTML report: built from the sample lake, self-contained, and rendered by a real headless browser."""

import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

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
        "entities-found",
        "most-quoted",
        "largest-amounts",
        "run-health",
    ):
        assert f'id="{section}' in page, section
    assert page.count("<svg") == 5  # documents, entities, network, speakers, rejects
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
    assert dom.stdout.count("<svg") == 5 and "Most quoted speakers" in dom.stdout
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
