"""Shared fixtures: the checkout's sample and the real data beside it, the newslake command,
spaCy pipelines, a Prefect test server and a lake made by one real run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The tests' own Prefect test server and the flows they call in this process: no usage data.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    """The checkout."""
    return ROOT


@pytest.fixture(scope="session")
def sample() -> Path:
    """data/sample: the short articles written for this project."""
    return ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def shared():
    """A path under ../shared, or a skip when the project is checked out without it."""

    def find(relative: str) -> Path:
        path = ROOT.parent / "shared" / relative
        if not path.exists():
            pytest.skip(f"{path} is absent: ../shared material exists only beside the development checkout")
        return path

    return find


@pytest.fixture(scope="session")
def newslake_cli():
    """The newslake command in a process group of its own, as a user starts it: on its own
    local Prefect server, not the tests' one, with `env` added to the environment. Output is
    piped unless `popen` says otherwise."""

    def start(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
        inherited = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DO_NOT_TRACK"))}
        return subprocess.Popen(
            [sys.executable, "-m", "newslake.flows.cli", *args],
            cwd=ROOT,
            env=inherited | (env or {}),
            text=True,
            start_new_session=True,
            **({"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | popen),
        )

    return start


@pytest.fixture(scope="session")
def lake_content():
    """Every table's rows of a lake (runs excepted: each run adds its own), in a comparable form,
    without the run's id and time and the `ignored` columns."""
    import polars as pl

    from newslake.tasks.lake import Lake, lake_tables, read_table

    def content(location, *ignored: str) -> dict[str, list]:
        lake = Lake.at(location)
        found = {}
        for table in lake_tables(lake):
            if table.name == "runs":
                continue
            frame = pl.from_arrow(read_table(lake, table)).drop("run_id", "ingested_at", *ignored, strict=False)
            found[table.name] = sorted(map(repr, frame.rows()))
        return found

    return content


@pytest.fixture(scope="session")
def ruler():
    """A blank English pipeline whose entities come from fixed (label, pattern) pairs: for tests
    where the layout or the rules are the point, not the model."""
    import spacy

    def pipeline(*patterns: tuple[str, str | list]):
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        if patterns:
            nlp.add_pipe("entity_ruler").add_patterns([{"label": label, "pattern": p} for label, p in patterns])
        return nlp

    return pipeline


@pytest.fixture(scope="session")
def new_article() -> str:
    """An article that is not in the sample."""
    return """Ferry operator orders two hydrogen vessels

Red Funnel has ordered two hydrogen-powered ferries for its crossing between Southampton and the Isle of Wight,
the company said on Tuesday, in a deal worth about £90 million that it expects to cut its emissions by half.
"""


@pytest.fixture(scope="session")
def nlp():
    """The real English model, as the pipeline loads it."""
    from newslake.flows.parameters import default_model
    from newslake.tasks.annotate import load_model

    return load_model(default_model())


@pytest.fixture(scope="session")
def prefect_server():
    """One temporary Prefect server for every flow run of the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def sample_lake(prefect_server, sample, tmp_path_factory):
    """A lake made by one real flow run over data/sample, and what that run reported."""
    import newslake

    lake = tmp_path_factory.mktemp("sample") / "lake"
    result = newslake.run(inputs=[str(sample)], lake=str(lake), workers=2)
    return lake, result
