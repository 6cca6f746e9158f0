"""Shared fixtures: the real data beside the checkout, spaCy pipelines, a Prefect test server."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared"


def shared(relative: str) -> Path:
    """A path under ../shared, or a skip when the project is checked out without it."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} is absent: ../shared material exists only beside the development checkout")
    return path


def newslake(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    """The newslake command in a process group of its own, as a user starts it: on its own
    local Prefect server, not the tests' one, with `env` added to the environment. Output is
    piped unless `popen` says otherwise."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK"))}
    return subprocess.Popen(
        [sys.executable, "-m", "flows.cli", *args],
        cwd=ROOT,
        env=inherited | (env or {}),
        text=True,
        start_new_session=True,
        **({"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | popen),
    )


def lake_content(lake, *ignored: str) -> dict[str, list]:
    """Every table's rows (runs excepted: each run adds its own), in a comparable form, without
    the run's id and time and the `ignored` columns."""
    import polars as pl

    from tasks.publish import lake_tables, read_table

    found = {}
    for table in lake_tables(lake):
        if table.name == "runs":
            continue
        frame = pl.from_arrow(read_table(lake, table)).drop("run_id", "ingested_at", *ignored, strict=False)
        found[table.name] = sorted(map(repr, frame.rows()))
    return found


def ruler(*patterns: tuple[str, str | list]):
    """A blank English pipeline whose entities come from fixed (label, pattern) pairs: for tests
    where the layout or the rules are the point, not the model."""
    import spacy

    pipeline = spacy.blank("en")
    pipeline.add_pipe("sentencizer")
    if patterns:
        pipeline.add_pipe("entity_ruler").add_patterns([{"label": label, "pattern": p} for label, p in patterns])
    return pipeline


@pytest.fixture(scope="session")
def nlp():
    """The real English model, as the pipeline loads it."""
    from tasks.annotate import default_model, load_model

    return load_model(default_model())


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_lake(prefect_server, tmp_path_factory):
    """A lake made by one real flow run over data/sample, and what that run reported."""
    from flows.pipeline import run

    lake = tmp_path_factory.mktemp("sample") / "lake"
    result = run(inputs=[str(SAMPLE)], lake=str(lake), workers=2)
    return lake, result
