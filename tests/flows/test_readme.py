"""The README's code runs as written: its Python example as a script and piped to `python -`, and
the questions of docs/questions.md on the sample lake, in SQL and in Polars."""

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys

import duckdb
import pytest

from newslake.flows.cli import app
from newslake.tasks.lake import Lake
from newslake.tasks.lake.query import connect, run_query


def _blocks(root, language: str) -> list[str]:
    questions = (root / "docs" / "questions.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", questions, flags=re.DOTALL)


def _python_example(root) -> str:
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## From Python") :]
    return re.search(r"```python\n(.*?)```", section, flags=re.DOTALL).group(1)


@pytest.mark.parametrize("how", ["script", "stdin"])
def test_readme_python_example_runs_as_pasted(root, sample, tmp_path, how):
    """As a script without a `__main__` guard, and piped to `python -`: quiet, and the lake made."""
    shutil.copytree(sample, tmp_path / "data" / "sample")
    example = _python_example(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    if how == "script":
        (tmp_path / "example.py").write_text(example)
        command, given = [sys.executable, "example.py"], None
    else:
        command, given = [sys.executable, "-"], example
    done = subprocess.run(command, input=given, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("13 0 {'empty_text': 1, 'language:fr': 1, 'malformed_record': 1}"), done.stdout
    assert "Nigeria" in done.stdout
    for line in filter(None, done.stderr.splitlines()):  # only the flow's own progress lines
        assert " | INFO    | Flow run " in line, done.stderr


def test_readme_sql_questions_answer_on_the_sample(root, sample_lake):
    lake, _ = sample_lake
    con = connect(Lake.at(lake))
    queries = _blocks(root, "sql")
    assert len(queries) == 7
    for query in queries:
        assert run_query(con, query).height > 0, query


def test_readme_polars_questions_answer_on_the_sample(root, sample_lake):
    lake, _ = sample_lake
    code = "\n".join(_blocks(root, "python")).replace('"data/lake/', f'"{lake.as_posix()}/')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})
    rows = [int(n) for n in re.findall(r"shape: \((\d+), \d+\)", printed.getvalue())]
    assert len(rows) == 7 and all(rows), printed.getvalue()


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
