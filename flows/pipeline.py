"""The newslake flows: a run turns inputs into lake tables; a backfill re-derives history.

Both share every stage's task: annotate_batch, the staging of annotations and rollups, and
the commit that makes a change visible.
"""

import hashlib
import inspect
import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from uuid import uuid4

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.context import FlowRunContext
from prefect.futures import as_completed
from prefect_dask import DaskTaskRunner
from upath import UPath

from flows.cluster import local_cluster_options, start_worker_template
from flows.prefect_api import prefect_api, wait_until_ready
from flows.report import write_report
from flows.settings import Settings
from schemas import ANNOTATION_TABLES, ROLLUP_TABLES, TABLES
from tasks.aggregate import rollup_days
from tasks.annotate import annotate_batch, default_model, preload_model, release_models
from tasks.clean import clean_batch, deduplicate
from tasks.ingest import anything_new, ingest_inputs
from tasks.publish import (
    commit_changes,
    export_days,
    lake_lock,
    lake_path,
    parquet_rows,
    partition_days,
    publish_run,
    read_parquet,
    record_run,
    recover,
    remove_empty_dir,
    remove_tree,
    stage_annotations,
    write_text,
)
from tasks.resolve import load_lexicon


def task_runner(
    *, dask_address: str | None = None, workers: int | None = None, environ: dict[str, str] | None = None
) -> DaskTaskRunner:
    """Where the batches run: on the Dask cluster at `dask_address`, or else on a local Dask
    cluster (`local_cluster_options`, its workers given `environ` if set) that starts with the
    flow run's first batch, so that a run with nothing new starts none, and ends with the run."""
    if dask_address:
        return DaskTaskRunner(address=dask_address)
    options = local_cluster_options(workers)
    return DaskTaskRunner(cluster_kwargs=options if environ is None else options | {"env": environ})


def _default_runner() -> DaskTaskRunner:
    settings = Settings()
    return task_runner(dask_address=settings.dask_address, workers=settings.workers)


@flow(name="newslake-run", task_runner=_default_runner())
def newslake_run(
    inputs: list[str] = ["data/sample"],  # noqa: B006 - Prefect parameters are copied per run
    lake: str = "data/lake",
    source: str | None = None,
    tokens: bool = False,
    model: str | None = None,
    aliases: str | None = None,
    report: str | None = None,
    languages: list[str] | None = ["en"],  # noqa: B006
    min_words: int = 20,
    batch_size: int = 250,
) -> dict:
    """Process input files into the lake at `lake` and return what the run did."""
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid4().hex[:6]}"
    model = model or default_model()
    versions = _versions(model, aliases)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        seconds[stage] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    root = lake_path(lake)
    with lake_lock(root, run_id):
        for finished in recover(root):
            logger.info(f"finished publishing run {finished}, which had stopped half-way")
        staging = _fresh_staging(root, run_id)
        ingested = ingest_inputs(
            inputs,
            lake=lake,
            source=source,
            staging=str(staging),
            run_id=run_id,
            day=started.date(),
            batch_size=batch_size,
        )
        logger.info(
            f"read {ingested.files} files: {ingested.records} records to process, {ingested.skipped} unchanged"
            f" since an earlier run, {ingested.rejected} rejected"
        )
        lap("ingest")
        cleaned = clean_batch.map(
            ingested.raw,
            run_id=unmapped(run_id),
            ingested_at=unmapped(started),
            languages=unmapped(languages or None),
            min_words=unmapped(min_words),
        ).result()
        if any(c.kept for c in cleaned):
            _load_model_on_workers(model, tokens=tokens)
        deduped = deduplicate(
            [c.documents for c in cleaned],
            lake=lake,
            staging=str(staging),
            run_id=run_id,
            day=started.date(),
            batch_size=batch_size,
        )
        logger.info(
            f"cleaned: {deduped.new} new and {deduped.changed} changed documents ({deduped.duplicates} duplicates),"
            f" {deduped.skipped} already in the lake"
        )
        lap("clean")
        futures = annotate_batch.map(
            deduped.documents, model=unmapped(model), tokens=unmapped(tokens), aliases=unmapped(aliases)
        )
        annotations = []
        for done, future in enumerate(as_completed(futures), start=1):
            annotations.append(future.result())
            logger.info(f"annotated batch {done}/{len(futures)}")
        if futures:
            _release_models_on_workers()
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
                aliases=aliases,
                report=report,
                languages=languages,
                min_words=min_words,
                batch_size=batch_size,
            ),
            "inputs": ingested.records + ingested.skipped + ingested.rejected,
            "documents": deduped.new + deduped.changed,
            "new": deduped.new,
            "changed": deduped.changed,
            "skipped": ingested.skipped + deduped.skipped,
            "duplicates": deduped.duplicates,
            "rejects": sum(published.rejects_by_reason.values()),
            "rejects_by_reason": published.rejects_by_reason,
            "rows": rows,
            "seconds": seconds,
            "versions": versions,
        }
        record_run(lake=lake, run=run)
        commit_changes(lake=lake, commit_id=run_id, versions=versions)
        remove_tree(staging.parent)
        if report:
            write_report(root, Path(report))
    _publish_artifacts(run, lake=lake, report=report)
    return run


@flow(name="newslake-backfill", task_runner=_default_runner())
def newslake_backfill(
    start: date,
    end: date,
    lake: str = "data/lake",
    tables: list[str] | None = None,
    model: str | None = None,
    aliases: str | None = None,
    batch_size: int = 250,
) -> dict:
    """Re-derive `tables` (default: every annotation table the lake has, and the rollups) for
    the days from `start` to `end` from the documents already in the lake.

    Each day is committed on its own as soon as its batches are annotated, so an interrupted
    backfill, run again with the same arguments, redoes only the days it had not finished.
    """
    logger = get_run_logger()
    started = datetime.now(UTC)
    run_id = f"{started:%Y%m%dT%H%M%S}-{uuid4().hex[:6]}"
    model = model or default_model()
    versions = _versions(model, aliases)
    root = lake_path(lake)
    optional = {"tokens"} - {t for t in ANNOTATION_TABLES if (root / t).exists()}
    tables = tables or [t for t in ANNOTATION_TABLES if t not in optional] + list(ROLLUP_TABLES)
    if unknown := set(tables) - set(ANNOTATION_TABLES) - set(ROLLUP_TABLES):
        raise ValueError(
            f"cannot backfill {', '.join(sorted(unknown))}: choose from {ANNOTATION_TABLES + ROLLUP_TABLES}"
        )
    annotated = [t for t in ANNOTATION_TABLES if t in tables]
    with lake_lock(root, run_id):
        recover(root)
        progress = _BackfillProgress(root, start=start, end=end, tables=tables, versions=versions)
        days = [d for d in partition_days(root, TABLES["documents"]) if start <= d <= end]
        todo = [d for d in days if d not in progress.done]
        logger.info(f"backfill {start} to {end}: {len(days)} days with documents, {len(todo)} to do")
        staging = _fresh_staging(root, run_id)
        batches = export_days(lake=lake, days=todo, staging=str(staging), batch_size=batch_size)
        pending = {day: sum(1 for d, _ in batches if d == day) for day in todo}
        results: dict[date, list[dict[str, str]]] = {day: [] for day in todo}
        futures = {}
        if annotated:
            for day, path in batches:
                futures[annotate_batch.submit(path, model=model, tokens="tokens" in annotated, aliases=aliases)] = day
        rows: dict[str, int] = dict.fromkeys(tables, 0)
        exported = sum(parquet_rows(path) for _, path in batches)

        def finish(day: date) -> None:
            commit_id = f"{run_id}-{day.isoformat()}"
            documents = [path for d, path in batches if d == day]
            doc_ids = [i for p in documents for i in read_parquet(p, columns=["doc_id"]).column("doc_id").to_pylist()]
            staged = stage_annotations(
                root, results[day], commit_id=commit_id, tables=annotated, replaced=doc_ids, days=[day]
            )
            if set(ROLLUP_TABLES) & set(tables):
                staged |= rollup_days(lake=lake, days=[day], commit_id=commit_id, tables=tables)
            commit_changes(lake=lake, commit_id=commit_id, versions=versions)
            progress.mark(day)
            for name, n in staged.items():
                rows[name] += n
            logger.info(f"backfilled {day} ({len(progress.done & set(days))}/{len(days)} days)")

        for future in as_completed(list(futures)):
            day = futures[future]
            results[day].append(future.result())
            pending[day] -= 1
            if pending[day] == 0:
                finish(day)
        for day in todo:
            if not annotated:
                finish(day)
        run = {
            "run_id": run_id,
            "kind": "backfill",
            "started_at": started,
            "finished_at": datetime.now(UTC),
            "parameters": _json(
                start=start, end=end, lake=lake, tables=tables, model=model, aliases=aliases, batch_size=batch_size
            ),
            "inputs": exported,
            "documents": exported,
            "duplicates": 0,
            "rejects": 0,
            "rejects_by_reason": {},
            "rows": rows,
            "seconds": {"backfill": round((datetime.now(UTC) - started).total_seconds(), 3)},
            "versions": versions,
        }
        record_run(lake=lake, run=run)
        commit_changes(lake=lake, commit_id=run_id, versions=versions)
        progress.clear()
        remove_tree(staging.parent)
    _publish_artifacts(run, lake=lake)
    return run | {"days": len(days), "resumed_days": len(days) - len(todo)}


class _BackfillProgress:
    """The days a backfill has committed, kept in the lake so that a re-run can resume."""

    def __init__(self, lake: Path | UPath, **identity) -> None:
        key = hashlib.blake2b(_json(**identity).encode(), digest_size=8).hexdigest()
        self.path = lake / "_backfills" / f"{key}.json"
        found = json.loads(self.path.read_text()) if self.path.exists() else {"done": []}
        self.done = {date.fromisoformat(d) for d in found["done"]}

    def mark(self, day: date) -> None:
        self.done.add(day)
        body = json.dumps({"done": sorted(d.isoformat() for d in self.done)})
        write_text(self.path, body)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        remove_empty_dir(self.path.parent)


def _load_model_on_workers(model: str, *, tokens: bool) -> None:
    """Have every Dask worker load the model now, while this process deduplicates and the workers
    would wait, rather than at its first annotation batch."""
    client = FlowRunContext.get().task_runner.client
    client.run(preload_model, model, tokens=tokens, wait=False)


def _release_models_on_workers() -> None:
    """Have every Dask worker drop its model and give the memory back once the run's batches are
    annotated: publishing reads the whole run in this process, and the workers' idle gigabyte
    would otherwise add to its peak."""
    # A worker lost by now has nothing left to give back; the run's results are already staged.
    FlowRunContext.get().task_runner.client.run(release_models, on_error="ignore")


def _fresh_staging(lake: Path | UPath, run_id: str) -> Path | UPath:
    """A new staging folder for this run, in the lake, where every worker reaches it; folders
    left by runs that died are removed (we hold the lock)."""
    root = lake / "_staging"
    remove_tree(root)
    path = root / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def _publish_artifacts(run: dict, *, lake: str, report: str | None = None) -> None:
    """Show in the Prefect UI what the run did: counts per stage, rows per table, rejects by
    reason, and a link to the report the run wrote."""
    stages = ["inputs", "new", "changed", "skipped", "duplicates", "rejects"]
    create_table_artifact(
        [{"what": stage, "count": run[stage]} for stage in stages if run.get(stage) is not None]
        + [{"what": f"rows: {name}", "count": n} for name, n in run["rows"].items()]
        + [{"what": f"reject: {reason}", "count": n} for reason, n in sorted(run["rejects_by_reason"].items())],
        key=f"newslake-{run['kind']}",
        description=f"{run['kind']} {run['run_id']} into {lake}",
    )
    if report:
        uri = Path(report).resolve().as_uri()
        create_link_artifact(uri, link_text=f"report after {run['run_id']}", key="newslake-report")


def _versions(model: str, aliases: str | None) -> dict[str, str]:
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "unknown"

    return {
        "newslake": installed("newslake"),
        "model": model,
        "model_version": installed(model),
        "lexicon": load_lexicon(aliases).fingerprint,
        "spacy": installed("spacy"),
        "prefect": installed("prefect"),
        "pyarrow": installed("pyarrow"),
        "polars": installed("polars"),
        "python": platform.python_version(),
    }


def _json(**values) -> str:
    return json.dumps(values, sort_keys=True, default=str)


def _call(
    flow_fn, parameters: dict, *, dask_address: str | None, workers: int | None, has_batches: Callable[[], bool]
) -> dict:
    with prefect_api():
        # The process that local workers are forked from imports what they need (about 3.5 s of
        # CPU) while the server boots, when the flow will have batches to run: a run with
        # nothing new to do would only wait for the server longer.
        if not dask_address:
            start_worker_template(has_batches)
        # A worker forked from the template starts with the template's environment: give it this
        # process's as it is now (credentials for the lake's object store, say).
        runner = task_runner(dask_address=dask_address, workers=workers, environ=dict(os.environ))
        wait_until_ready()
        return flow_fn.with_options(task_runner=runner)(**parameters)


def run(*, workers: int | None = None, dask_address: str | None = None, **parameters) -> dict:
    """Run `newslake_run` from Python on a Prefect API (see `flows.prefect_api`): on the Dask
    cluster at `dask_address`, or on `workers` local processes."""
    given = inspect.signature(newslake_run.fn).bind(**parameters)
    given.apply_defaults()
    inputs, lake, source = (given.arguments[name] for name in ("inputs", "lake", "source"))
    return _call(
        newslake_run,
        parameters,
        dask_address=dask_address,
        workers=workers,
        has_batches=lambda: anything_new(inputs, lake=lake, source=source),
    )


def backfill(*, workers: int | None = None, dask_address: str | None = None, **parameters) -> dict:
    """Run `newslake_backfill` from Python, as `run` does."""
    return _call(newslake_backfill, parameters, dask_address=dask_address, workers=workers, has_batches=lambda: True)
