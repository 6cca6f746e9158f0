"""A lake of one small table (sentences) to stage, commit and inspect, in a temporary folder."""

import datetime

import pyarrow as pa
import pytest

from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, commit, read_table, stage_rows

SENTENCES = TABLES["sentences"]


@pytest.fixture
def sentences():
    """`sentences` rows from (doc_id, sent_id, day) triples."""

    def rows(triples: list[tuple[str, int, datetime.date]]) -> pa.Table:
        return pa.Table.from_pylist(
            [{"doc_id": d, "sent_id": s, "start_char": 0, "end_char": 5, "date": day} for d, s, day in triples],
            schema=SENTENCES.dataset_schema,
        )

    return rows


@pytest.fixture
def publish():
    """Stage rows of `sentences` in the lake at a folder and commit them; returns what was staged."""

    def staged(folder, rows: pa.Table, commit_id: str, **kwargs) -> dict:
        lake = Lake.at(folder)
        found = stage_rows(lake, SENTENCES, rows, commit_id=commit_id, **kwargs)
        commit(lake, commit_id, versions={"model": "m"})
        return found

    return staged


@pytest.fixture
def keys():
    """The (doc_id, sent_id, date) of every sentence in the lake at a folder."""

    def found(folder) -> list[tuple]:
        rows = read_table(Lake.at(folder), SENTENCES).to_pylist()
        return sorted((r["doc_id"], r["sent_id"], r["date"]) for r in rows)

    return found


@pytest.fixture
def files():
    """Every file under a folder, relative to it."""

    def found(folder) -> list[str]:
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    return found
