"""The GKG 2.1 export, read back field by field as the codebook lays them out."""

import pytest
from typer.testing import CliRunner

from newslake.flows.cli import app
from newslake.tasks.gkg import COLUMNS
from newslake.tasks.lake import Lake


@pytest.fixture(scope="module")
def records(sample_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("gkg") / "sample.gkg.csv"
    result = CliRunner().invoke(app, ["export", "gkg", "--lake", str(sample_lake[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()]


def _blocks(field: str, separator: str = ";") -> list[str]:
    return [b for b in field.split(separator) if b]


def test_gkg_one_record_of_27_columns_per_unique_document(records, sample_lake):
    unique = Lake.at(sample_lake[0]).sql("SELECT count(*) AS n FROM documents WHERE dup_of IS NULL")["n"].item()
    assert len(COLUMNS) == 27 and len(records) == unique
    assert all(len(r) == 27 for r in records)
    assert all(r[0].startswith(r[1] + "-") and len(r[1]) == 14 and r[1].isdigit() for r in records)


def test_gkg_fields_keep_the_codebook_delimiters(records):
    field = {name: n for n, name in enumerate(COLUMNS)}
    for r in records:
        tone = r[field["V1.5TONE"]].split(",")
        assert len(tone) == 7 and float(tone[0]) == pytest.approx(float(tone[1]) - float(tone[2]), abs=1e-4)
        assert all(len(b.split("#")) == 7 for b in _blocks(r[field["V1LOCATIONS"]]))
        assert all(len(b.split("#")) == 9 for b in _blocks(r[field["V2ENHANCEDLOCATIONS"]]))
        assert all(len(b.split(",")) == 2 for b in _blocks(r[field["V2ENHANCEDTHEMES"]]))
        assert all(len(b.split("#")) == 5 for b in _blocks(r[field["V2.1ENHANCEDDATES"]]))
        assert all(len(b.split("|")) == 4 for b in _blocks(r[field["V2.1QUOTATIONS"]], "#"))
        assert all(len(b.split(",")) == 3 for b in _blocks(r[field["V2.1AMOUNTS"]]))
        assert r[field["V2GCAM"]].startswith("wc:")
    located = [b.split("#") for r in records for b in _blocks(r[field["V2ENHANCEDLOCATIONS"]])]
    benin = next(b for b in located if b[1] == "Benin City")
    assert (
        benin[0] == "4" and benin[2] == "NI" and float(benin[5]) == pytest.approx(6.338, abs=0.01)
    )  # FIPS NI: Nigeria
    speakers = [r[field["V2EXTRASXML"]] for r in records if r[field["V2.1QUOTATIONS"]]]
    assert speakers and all("<NEWSLAKE_SPEAKERS><QUOTE offset=" in x for x in speakers)


def test_gkg_a_folder_gets_one_file_per_day(sample_lake, tmp_path):
    result = CliRunner().invoke(app, ["export", "gkg", "--lake", str(sample_lake[0]), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    days = Lake.at(sample_lake[0]).sql("SELECT DISTINCT date FROM documents WHERE dup_of IS NULL")["date"]
    assert sorted(p.name for p in tmp_path.glob("*.gkg.csv")) == sorted(f"{d:%Y%m%d}000000.gkg.csv" for d in days)
