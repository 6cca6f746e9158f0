"""The newslake flows: a run turns inputs into lake tables; a backfill re-derives history.

Both are short sequences of the steps' tasks; they share annotate_batch, the staging of
annotations and rollups, the `runs` row and the commit that makes a change visible. Where the
tasks run (a local or an existing Dask cluster) and which Prefect API records them is chosen by
the caller (see `newslake.flows.api`); the flows here run on a local cluster by default.
"""

from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, unmapped
from prefect.artifacts import create_link_artifact, create_table_artifact
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run

from newslake.flows.dask_cluster import SettingsTaskRunner, preload_model_on_workers, release_models_on_workers
from newslake.flows.parameters import BackfillParameters, RunParameters
from newslake.flows.progress import StageProgress
from newslake.schemas import ANNOTATION_TABLES, ROLLUP_TABLES
from newslake.tasks.aggregate import rollup_days
from newslake.tasks.annotate import annotate_batch
from newslake.tasks.clean import DedupOutput, clean_batch, deduplicate
from newslake.tasks.ingest import IngestOutput, ingest_inputs
from newslake.tasks.lake import BackfillProgress, Batch, Lake, lake_lock, recover
from newslake.tasks.publish import (
    PublishOutput,
    RunResult,
    commit_changes,
    compact_days,
    export_days,
    new_run_id,
    publish_run,
    record_run,
    run_versions,
    stage_backfill_day,
)
from newslake.tasks.report import write_report


class _Clock:
    """Seconds per stage of a run."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = datetime.now(UTC)

    def lap(self, stage: str) -> None:
        now = datetime.now(UTC)
        self.seconds[stage] = round((now - self._last).total_seconds(), 3)
        self._last = now


def _new_run_id() -> str:
    """A flow run's name, which is also its newslake run_id (in `runs` and the Prefect UI alike)."""
    return new_run_id(datetime.now(UTC))


@flow(name="newslake-run", flow_run_name=_new_run_id, task_runner=SettingsTaskRunner())
def newslake_run(parameters: RunParameters) -> RunResult:
    """Process input files into the lake and return what the run did."""
    p, logger, clock = parameters, get_run_logger(), _Clock()
    lake, started = Lake(p.lake), datetime.now(UTC)
    run_id, versions = flow_run.name, run_versions(p.model, p.knowledge_files)
    with lake_lock(lake, run_id):
        for finished in recover(lake):
            logger.info(f"finished publishing run {finished}, which had stopped half-way")
        staging = lake.staging(run_id).create()
        ingested = ingest_inputs(
            p.inputs,
            lake=lake,
            source=p.source,
            run_id=run_id,
            day=started.date(),
            batch_size=p.batch_size,
            max_bytes=p.max_file_bytes,
            settings=p.clean_settings,
        )
        logger.info(ingested.summary())
        clock.lap("ingest")
        cleaned = _gather(
            clean_batch.map(
                ingested.batches,
                run_id=unmapped(run_id),
                ingested_at=unmapped(started),
                languages=unmapped(p.kept_languages),
                min_words=unmapped(p.min_words),
                max_chars=unmapped(p.max_chars),
            ),
            StageProgress(logger, "cleaned", ingested.records, unit="records"),
            lambda c: c.kept + c.rejected,
        )
        if any(c.kept for c in cleaned):
            preload_model_on_workers(p.model, tokens=p.tokens)
        deduped = deduplicate(
            [c.batch for c in cleaned], lake=lake, run_id=run_id, day=started.date(), batch_size=p.batch_size
        )
        logger.info(
            f"cleaned: {deduped.new} new and {deduped.changed} changed documents ({deduped.duplicates} duplicates),"
            f" {deduped.skipped} already in the lake"
        )
        clock.lap("clean")
        annotated = _annotate(deduped.batches, p)
        clock.lap("annotate")
        rejects = [*ingested.rejects, *(c.batch.path("rejects-clean") for c in cleaned), deduped.rejects]
        rejects += [b.path("rejects-annotate") for b in annotated if b.has("rejects-annotate")]
        published = publish_run(lake=lake, run_id=run_id, batches=annotated, rejects=rejects)
        rows = published.rows | rollup_days(lake=lake, days=published.days, commit_id=run_id)
        clock.lap("publish")
        result = _run_result(p, run_id, started, ingested, deduped, published, rows, clock.seconds, versions)
        record_run(result)
        commit_changes(lake=lake, commit_id=run_id, versions=versions)
        compact_days(lake=lake, commit_id=f"{run_id}-compact", days=[*published.days, started.date()])
        staging.remove()
        if p.report:
            write_report(lake, p.report)
    _publish_artifacts(result, report=p.report)
    return result


def _run_result(
    p: RunParameters,
    run_id: str,
    started: datetime,
    ingested: IngestOutput,
    deduped: DedupOutput,
    published: PublishOutput,
    rows: dict[str, int],
    seconds: dict[str, float],
    versions: dict[str, str],
) -> RunResult:
    """What a run did, from what each of its stages reported: its row of `runs`."""
    return RunResult(
        run_id=run_id,
        kind="run",
        lake=Lake(p.lake),
        started_at=started,
        finished_at=datetime.now(UTC),
        parameters=p.model_dump(mode="json"),
        inputs=ingested.records + ingested.skipped + ingested.rejected,
        documents=published.rows["documents"],
        new=deduped.new,
        changed=deduped.changed,
        skipped=ingested.skipped + deduped.skipped,
        duplicates=deduped.duplicates,
        rejects=sum(published.rejects_by_reason.values()),
        rejects_by_reason=published.rejects_by_reason,
        rows=rows,
        seconds=seconds,
        versions=versions,
    )


def _annotate(batches: list[Batch], p: RunParameters) -> list[Batch]:
    """Annotate the batches on the workers, counting documents as batches finish; then the
    workers let their models go."""
    futures = annotate_batch.map(
        batches, model=unmapped(p.model), tokens=unmapped(p.tokens), knowledge=unmapped(p.knowledge_files)
    )
    sizes = {b.name: b.rows("documents") for b in batches}
    progress = StageProgress(get_run_logger(), "annotated", sum(sizes.values()))
    done = _gather(futures, progress, lambda b: sizes[b.name])
    if futures:
        release_models_on_workers()
    return sorted(done, key=lambda b: b.name)


def _gather(futures: list[PrefectFuture], progress: StageProgress, size: Callable[[Any], int]) -> list:
    """The futures' results, in their order; each counted into `progress` as it finishes."""
    results = {}
    for future in as_completed(futures):
        results[future.task_run_id] = future.result()
        progress.advance(size(results[future.task_run_id]))
    return [results[f.task_run_id] for f in futures]


@flow(name="newslake-backfill", flow_run_name=_new_run_id, task_runner=SettingsTaskRunner())
def newslake_backfill(parameters: BackfillParameters) -> RunResult:
    """Re-derive tables (default: every annotation table the lake has, and the rollups) for the
    days from `start` to `end` from the documents already in the lake.

    Each day is committed on its own as soon as its batches are annotated, so an interrupted
    backfill, run again with the same arguments, redoes only the days it had not finished.
    """
    p, logger = parameters, get_run_logger()
    lake, started = Lake(p.lake), datetime.now(UTC)
    run_id, versions = flow_run.name, run_versions(p.model, p.knowledge_files)
    tables = p.tables or [t for t in ANNOTATION_TABLES if t != "tokens" or lake.has_rows(t)] + list(ROLLUP_TABLES)
    with lake_lock(lake, run_id):
        recover(lake)
        progress = BackfillProgress(lake, start=p.start, end=p.end, tables=tables, versions=versions)
        days = [d for d in lake.partition_days("documents") if p.start <= d <= p.end]
        todo = [d for d in days if d not in progress.done]
        logger.info(f"backfill {p.start} to {p.end}: {len(days)} days with documents, {len(todo)} to do")
        staging = lake.staging(run_id).create()
        batches = export_days(lake=lake, run_id=run_id, days=todo, batch_size=p.batch_size)
        rows: Counter[str] = Counter(dict.fromkeys(tables, 0))
        for day, done in _annotated_days(batches, p, tables):
            if failed := sum(b.rows("rejects-annotate") for b in done if b.has("rejects-annotate")):
                logger.warning(f"{day}: {failed} documents keep their earlier annotations: annotating them failed")
            rows.update(_commit_day(lake, day, done, commit_id=f"{run_id}-{day}", tables=tables, versions=versions))
            progress.mark(day)
            logger.info(f"backfilled {day} ({len(progress.done & set(days))}/{len(days)} days)")
        exported = sum(b.rows("documents") for day_batches in batches.values() for b in day_batches)
        result = RunResult(
            run_id=run_id,
            kind="backfill",
            lake=lake,
            started_at=started,
            finished_at=datetime.now(UTC),
            parameters=p.model_dump(mode="json") | {"tables": tables},
            inputs=exported,
            documents=exported,
            duplicates=0,
            rejects=0,
            rejects_by_reason={},
            rows=dict(rows),
            seconds={"backfill": round((datetime.now(UTC) - started).total_seconds(), 3)},
            versions=versions,
            days=len(days),
            resumed_days=len(days) - len(todo),
        )
        record_run(result)
        commit_changes(lake=lake, commit_id=run_id, versions=versions)
        progress.clear()
        staging.remove()
    _publish_artifacts(result)
    return result


def _commit_day(
    lake: Lake, day: date, batches: list[Batch], *, commit_id: str, tables: list[str], versions: dict[str, str]
) -> dict[str, int]:
    """Stage and commit one backfilled day: its annotations, then its rollups from them."""
    staged = stage_backfill_day(lake=lake, day=day, batches=batches, commit_id=commit_id, tables=tables)
    if set(ROLLUP_TABLES) & set(tables):
        staged |= rollup_days(lake=lake, days=[day], commit_id=commit_id, tables=tables)
    commit_changes(lake=lake, commit_id=commit_id, versions=versions)
    return staged


def _annotated_days(
    batches: dict[date, list[Batch]], p: BackfillParameters, tables: list[str]
) -> Iterator[tuple[date, list[Batch]]]:
    """Each day with its batches, as soon as they are all annotated (at once when no annotation
    table is backfilled)."""
    annotated = [t for t in ANNOTATION_TABLES if t in tables]
    if not annotated:
        yield from batches.items()
        return
    futures = {
        annotate_batch.submit(batch, model=p.model, tokens="tokens" in annotated, knowledge=p.knowledge_files): day
        for day, day_batches in batches.items()
        for batch in day_batches
    }
    pending = Counter(futures.values())
    done: dict[date, list[Batch]] = {day: [] for day in batches}
    for future in as_completed(list(futures)):
        day = futures[future]
        done[day].append(future.result())
        pending[day] -= 1
        if pending[day] == 0:
            yield day, done[day]


def _publish_artifacts(result: RunResult, *, report: Path | None = None) -> None:
    """Show in the Prefect UI what the run did: counts per stage, rows per table, rejects by
    reason, and a link to the report the run wrote."""
    stages = ["inputs", "new", "changed", "skipped", "duplicates", "rejects"]
    create_table_artifact(
        [{"what": stage, "count": getattr(result, stage)} for stage in stages if getattr(result, stage) is not None]
        + [{"what": f"rows: {name}", "count": n} for name, n in result.rows.items()]
        + [{"what": f"reject: {reason}", "count": n} for reason, n in sorted(result.rejects_by_reason.items())],
        key=f"newslake-{result.kind}-{result.lake.key}",
        description=f"{result.kind} {result.run_id} into {result.lake}",
    )
    if report:
        key = f"newslake-report-{result.lake.key}"
        create_link_artifact(report.as_uri(), link_text=f"report after {result.run_id}", key=key)
