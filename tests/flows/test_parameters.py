"""Run and backfill parameters: declared once, read from the environment, checked at the boundary."""

import datetime

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from newslake.flows.cli import app
from newslake.flows.parameters import BackfillParameters, RunParameters

runner = CliRunner()


def test_parameters_defaults_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSLAKE_BATCH_SIZE", "7")
    monkeypatch.setenv("NEWSLAKE_LANGUAGES", '["en", "fr"]')
    parameters = RunParameters(inputs=[str(tmp_path)], lake=str(tmp_path / "lake"))
    assert (parameters.batch_size, parameters.kept_languages) == (7, frozenset({"en", "fr"}))
    assert parameters.lake == str((tmp_path / "lake").resolve())
    assert RunParameters(inputs=[str(tmp_path)], languages=["all"]).kept_languages is None


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"inputs": ["nowhere"]}, "input not found: nowhere"),
        ({"model": "no_such_model"}, "the spaCy model 'no_such_model' is not installed"),
        ({"batch_size": 0}, "greater than or equal to 1"),
        ({"lake": "FILE"}, "is a file"),
        ({"aliases": "SHORT"}, "line 2 needs an alias, a canonical name and a label"),
    ],
)
def test_parameters_refuse_mistakes_with_what_to_do(tmp_path, given, message):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "short.csv").write_text("alias,canonical,label\nThe Beeb\n")
    files = {"FILE": str(tmp_path / "a-file"), "SHORT": str(tmp_path / "short.csv")}
    values = {"inputs": [str(tmp_path)]} | {k: files.get(v, v) if isinstance(v, str) else v for k, v in given.items()}
    with pytest.raises(ValidationError, match=message):
        RunParameters(**values)


def test_parameters_backfill_checks_its_days_and_tables():
    with pytest.raises(ValidationError, match="--end is before --start"):
        BackfillParameters(start=datetime.date(2025, 3, 2), end=datetime.date(2025, 3, 1))
    with pytest.raises(ValidationError, match="cannot backfill nope"):
        BackfillParameters(start=datetime.date(2025, 3, 1), end=datetime.date(2025, 3, 1), tables=["nope"])
    both = BackfillParameters(start=datetime.date(2025, 3, 1), end=datetime.date(2025, 3, 1), tables=["tokens,quotes"])
    assert both.tables == ["tokens", "quotes"]


def test_parameters_cli_refuses_a_mistake_with_exit_2_and_no_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSLAKE_BATCH_SIZE", "0")
    result = runner.invoke(app, ["run", str(tmp_path), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2 and "batch_size" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "lake").exists()
    monkeypatch.delenv("NEWSLAKE_BATCH_SIZE")
    result = runner.invoke(app, ["serve", "--inbox", str(tmp_path), "--cron", "61 * * *"])
    assert result.exit_code == 2 and "Invalid cron string" in result.output
