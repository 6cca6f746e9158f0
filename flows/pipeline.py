"""The newslake flow: ingest, clean, annotate and aggregate inputs into a Parquet lake."""

import os
import platform
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from uuid import uuid4

from prefect import flow, get_run_logger, unmapped
from prefect.futures import as_completed
from prefect.task_runners import ProcessPoolTaskRunner

from tasks.aggregate import rollup_days
from tasks.annotate import annotate_batch, default_model
from tasks.clean import clean_batch, deduplicate
from tasks.ingest import ingest_inputs
from tasks.publish import commit_run, lake_lock, publish_run, recover

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@flow(name="newslake-run", task_runner=ProcessPoolTaskRunner())
def newslake_run(
    inputs: list[str] = ["data/sample"],  # noqa: B006 - Prefect parameters are copied per run
    lake: str = "data/lake",
    source: str | None = None,
    tokens: bool = False,
    model: str | None = None,
    languages: list[str] | None = ["en"],  # noqa: B006
    min_words: int = 20,
    batch_size: int = 250,
) -> dict:
    """Process input files into the lake at `lake` and return what the run did."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid4().hex[:6]}"
    model = model or default_model()
    versions = _versions(model)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        seconds[stage] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    with lake_lock(Path(lake), run_id):
        for finished in recover(Path(lake)):
            logger.info(f"finished publishing run {finished}, which had stopped half-way")
        staging = _fresh_staging(Path(lake), run_id)
        ingested = ingest_inputs(
            inputs, source=source, staging=str(staging), run_id=run_id, day=started.date(), batch_size=batch_size
        )
        logger.info(f"read {ingested.files} files: {ingested.records} records, {ingested.rejected} rejected")
        lap("ingest")
        cleaned = clean_batch.map(
            ingested.raw,
            run_id=unmapped(run_id),
            ingested_at=unmapped(started),
            languages=unmapped(languages or None),
            min_words=unmapped(min_words),
        ).result()
        deduped = deduplicate(
            [c.documents for c in cleaned], lake=lake, staging=str(staging), run_id=run_id, day=started.date()
        )
        logger.info(
            f"cleaned: {deduped.new} new and {deduped.changed} changed documents ({deduped.duplicates} duplicates),"
            f" {deduped.skipped} already in the lake"
        )
        lap("clean")
        futures = annotate_batch.map(deduped.documents, model=unmapped(model), tokens=unmapped(tokens))
        annotations = []
        for done, future in enumerate(as_completed(futures), start=1):
            annotations.append(future.result())
            logger.info(f"annotated batch {done}/{len(futures)}")
        lap("annotate")
        published = publish_run(
            lake=lake,
            run_id=run_id,
            documents=deduped.documents,
            annotations=annotations,
            rejects=[ingested.rejects, *(c.rejects for c in cleaned), deduped.rejects],
        )
        rows = published.rows | rollup_days(lake=lake, days=published.days, commit_id=run_id)
        lap("publish")
        run = {
            "run_id": run_id,
            "kind": "run",
            "started_at": started,
            "finished_at": datetime.now(UTC),
            "parameters": _json(
                inputs=inputs,
                lake=lake,
                source=source,
                tokens=tokens,
                model=model,
                languages=languages,
                min_words=min_words,
                batch_size=batch_size,
            ),
            "inputs": ingested.records + ingested.rejected,
            "documents": deduped.new + deduped.changed,
            "new": deduped.new,
            "changed": deduped.changed,
            "skipped": deduped.skipped,
            "duplicates": deduped.duplicates,
            "rejects": sum(published.rejects_by_reason.values()),
            "rejects_by_reason": published.rejects_by_reason,
            "rows": rows,
            "seconds": seconds,
            "versions": versions,
        }
        commit_run(lake=lake, run=run, versions=versions)
        shutil.rmtree(staging.parent, ignore_errors=True)
    return run


def _fresh_staging(lake: Path, run_id: str) -> Path:
    """A new staging folder for this run; folders left by runs that died are removed (we hold the lock)."""
    root = lake / "_staging"
    shutil.rmtree(root, ignore_errors=True)
    path = root / run_id
    path.mkdir(parents=True)
    return path


def _versions(model: str) -> dict[str, str]:
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return {
        "newslake": installed("newslake"),
        "model": model,
        "model_version": installed(model),
        "spacy": installed("spacy"),
        "prefect": installed("prefect"),
        "pyarrow": installed("pyarrow"),
        "polars": installed("polars"),
        "python": platform.python_version(),
    }


def _json(**values) -> str:
    import json

    return json.dumps(values, sort_keys=True, default=str)


@contextmanager
def prefect_api() -> Iterator[None]:
    """Make sure one Prefect API serves the flow and its worker processes.

    With PREFECT_API_URL set, that server is used. Otherwise one temporary local server is
    started for the whole run (each worker process would start its own otherwise), its logs
    are flushed and it is stopped at the end.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if PREFECT_API_URL.value():
        yield
        return
    from prefect.logging.handlers import APILogWorker
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()
    server.start()
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            try:
                yield
            finally:
                APILogWorker.drain_all(timeout=5)
    finally:
        server.stop()


def run(*, workers: int | None = None, **parameters) -> dict:
    """Run the flow from Python with `workers` processes on a Prefect API (see `prefect_api`)."""
    with prefect_api():
        runner = ProcessPoolTaskRunner(max_workers=workers) if workers else ProcessPoolTaskRunner()
        return newslake_run.with_options(task_runner=runner)(**parameters)
