"""The README's example questions run as written on the sample lake, in SQL and in Polars."""

import contextlib
import io
import re
import subprocess
import sys

import duckdb

from flows.cli import app
from flows.query import connect, run_query
from tests.conftest import ROOT

SECTION = "## A catalog for SQL tools, and questions to start with"


def _blocks(language: str) -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION) :]
    section = section[: section.index("\n## ", 1)]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_readme_sql_questions_answer_on_the_sample(sample_lake):
    lake, _ = sample_lake
    con = connect(lake)
    queries = _blocks("sql")
    assert len(queries) == 4
    for query in queries:
        assert run_query(con, query).height > 0, query


def test_readme_polars_questions_answer_on_the_sample(sample_lake):
    lake, _ = sample_lake
    code = "\n".join(_blocks("python")).replace('"data/lake/', f'"{lake.as_posix()}/')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    rows = [int(n) for n in re.findall(r"shape: \((\d+), \d+\)", printed.getvalue())]
    assert len(rows) == 4 and all(rows), printed.getvalue()


def test_readme_catalog_opens_in_a_plain_duckdb_client(sample_lake, tmp_path):
    from typer.testing import CliRunner

    lake, _ = sample_lake
    out = tmp_path / "lake.duckdb"
    result = CliRunner().invoke(app, ["catalog", "--lake", str(lake), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "quote_context" in result.output
    probe = (
        "import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
        "print(c.sql('SELECT count(*) FROM documents').fetchall()[0][0], "
        "c.sql('SELECT count(*) FROM quote_context WHERE title IS NOT NULL').fetchall()[0][0])"
    )
    counts = subprocess.run(
        [sys.executable, "-c", probe, str(out)], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    quotes = duckdb.sql(f"SELECT count(*) FROM read_parquet('{lake}/quotes/**/*.parquet')").fetchall()[0][0]
    assert counts.stdout.split() == ["13", str(quotes)]
