"""Publish: stage a run's documents, annotations, rejects and `runs` row in the lake's partitions,
and commit them (see `newslake.tasks.lake` for how a commit stays atomic)."""

import json
import platform
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from uuid import uuid4

import pyarrow as pa
import pyarrow.compute as pc
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from newslake.schemas import ANNOTATION_TABLES, TABLES, Table
from newslake.tasks.knowledge import KnowledgeFiles, installed_version
from newslake.tasks.lake import (
    Batch,
    Compacted,
    Lake,
    commit,
    compact,
    locate,
    read_days,
    read_keys,
    read_table,
    stage_rows,
)
from newslake.tasks.lake.storage import AnyPath, read_parquet


@dataclass(frozen=True)
class RunResult:
    """What a run or a backfill did: its row of `runs`, and the lake it wrote (not a column)."""

    run_id: str
    kind: str
    lake: Lake
    started_at: datetime
    finished_at: datetime
    parameters: dict
    inputs: int
    documents: int
    duplicates: int
    rejects: int
    rejects_by_reason: dict[str, int]
    rows: dict[str, int]
    seconds: dict[str, float]
    versions: dict[str, str]
    new: int | None = None
    changed: int | None = None
    skipped: int | None = None
    days: int | None = None  # a backfill's days with documents, and those an earlier attempt had done
    resumed_days: int | None = None

    def row(self) -> dict:
        """The row of `runs`, with its `date` partition (the day the run started)."""
        columns = {k: v for k, v in asdict(self).items() if k in TABLES["runs"].schema.names}
        parameters = json.dumps(self.parameters, sort_keys=True, default=str)
        return columns | {"parameters": parameters, "date": self.started_at.date()}


def new_run_id(started: datetime) -> str:
    """A run's id: when it started, and six random hex digits."""
    return f"{started:%Y%m%dT%H%M%S}-{uuid4().hex[:6]}"


def run_versions(model: str, knowledge: KnowledgeFiles) -> dict[str, str]:
    """The versions a run's rows come from: newslake, the model, the knowledge and the libraries."""
    from newslake.tasks.annotate import knowledge_versions

    return {
        "newslake": installed_version("newslake"),
        "model": model,
        "model_version": installed_version(model),
        **knowledge_versions(knowledge),
        "spacy": installed_version("spacy"),
        "prefect": installed_version("prefect"),
        "pyarrow": installed_version("pyarrow"),
        "polars": installed_version("polars"),
        "python": platform.python_version(),
    }


@dataclass(frozen=True)
class PublishOutput:
    """Rows staged into each table by the run, the days whose partitions changed, and the run's
    rejects by reason (including those the lake already held)."""

    rows: dict[str, int]
    days: list[date]
    rejects_by_reason: dict[str, int]


def read_staged(paths: Iterable[AnyPath], table: Table) -> pa.Table:
    """Staged files of one table's rows, as one table of its dataset schema."""
    schema = table.dataset_schema
    parts = [read_parquet(p).cast(schema) for p in paths]
    return pa.concat_tables(parts) if parts else schema.empty_table()


@task(name="publish", cache_policy=NO_CACHE)
def publish_run(*, lake: Lake, run_id: str, batches: list[Batch], rejects: list[AnyPath]) -> PublishOutput:
    """Stage a run's documents, their annotations and its rejects for its commit.

    Every row of a re-processed document is replaced, wherever its old version lived. A reject
    the lake already holds (same origin, reason and `raw_hash`) is counted but not written again.
    """
    docs = read_staged([b.path("documents") for b in batches], TABLES["documents"])
    doc_ids = docs.column("doc_id").to_pylist()
    old_days = set(read_keys(lake, ["doc_id"], where={"doc_id": doc_ids}).column("date").to_pylist())
    replaced = _keep_replaced_versions(lake, run_id, doc_ids, old_days)
    stage_rows(lake, TABLES["documents"], docs, commit_id=run_id, replaced=doc_ids, days=old_days)
    rows = {"documents": len(docs)} | ({"replaced_documents": replaced} if replaced else {})
    tables = [t for t in ANNOTATION_TABLES if lake.has_rows(t) or any(b.has(t) for b in batches)]
    rows |= stage_annotations(lake, batches, commit_id=run_id, tables=tables, replaced=doc_ids, days=old_days)
    rejected = read_staged(rejects, TABLES["rejects"])
    reasons = Counter(rejected.column("reason").to_pylist())
    fresh = _unknown_rejects(lake, rejected)
    origins = fresh.column("origin").to_pylist()
    earlier = locate(lake, TABLES["rejects"], origins)
    stage_rows(lake, TABLES["rejects"], fresh, commit_id=run_id, replaced=origins, days=earlier)
    rows["rejects"] = len(fresh)
    days = sorted(old_days | set(docs.column("date").to_pylist()))
    return PublishOutput(rows, days, dict(sorted(reasons.items())))


def _keep_replaced_versions(lake: Lake, run_id: str, doc_ids: list[str], days: set[date]) -> int:
    """Stage, into `replaced_documents`, the lake's rows of the documents this run replaces."""
    table = TABLES["documents"]
    old = read_days(lake, table, sorted(days), table.schema.names)
    old = old.filter(pc.is_in(old.column("doc_id"), value_set=pa.array(doc_ids, pa.string())))
    if not len(old):
        return 0
    old = old.append_column("replaced_by", pa.array([run_id] * len(old), pa.string()))
    old = old.append_column("replaced_at", pa.array([datetime.now(UTC)] * len(old), pa.timestamp("us", tz="UTC")))
    stage_rows(lake, TABLES["replaced_documents"], old, commit_id=run_id, replaced=[run_id])
    return len(old)


def stage_annotations(
    lake: Lake,
    batches: list[Batch],
    *,
    commit_id: str,
    tables: Iterable[str],
    replaced: Iterable[str],
    days: Iterable[date],
) -> dict[str, int]:
    """Stage the annotation tables that `annotate_batch` staged for the batches, replacing the
    given documents' rows; a table with no staged file loses those rows (tokens not asked for again)."""
    replaced, days = list(replaced), list(days)
    rows = {}
    for name in tables:
        new = read_staged([b.path(name) for b in batches if b.has(name)], TABLES[name])
        stage_rows(lake, TABLES[name], new, commit_id=commit_id, replaced=replaced, days=days)
        rows[name] = len(new)
    return rows


def _unknown_rejects(lake: Lake, rejected: pa.Table) -> pa.Table:
    """The rejects the lake does not hold yet with the same origin, reason and `raw_hash`."""
    columns = ["origin", "reason", "raw_hash"]
    held = read_table(lake, TABLES["rejects"], columns).to_pylist()
    seen = {(r["origin"], r["reason"], r["raw_hash"]) for r in held}
    keep = [(r["origin"], r["reason"], r["raw_hash"]) not in seen for r in rejected.select(columns).to_pylist()]
    return rejected.filter(pa.array(keep, pa.bool_()))


@task(name="stage-day", cache_policy=NO_CACHE)
def stage_backfill_day(
    *, lake: Lake, day: date, batches: list[Batch], commit_id: str, tables: list[str]
) -> dict[str, int]:
    """Stage a backfilled day's annotation tables (those in `tables`) from its annotated batches,
    replacing the rows of the day's documents."""
    doc_ids = [i for b in batches for i in b.read("documents", columns=["doc_id"]).column("doc_id").to_pylist()]
    annotated = [t for t in ANNOTATION_TABLES if t in tables]
    return stage_annotations(lake, batches, commit_id=commit_id, tables=annotated, replaced=doc_ids, days=[day])


@task(name="record-run", cache_policy=NO_CACHE)
def record_run(result: RunResult) -> None:
    """Stage the run's row in `runs`, in the run's own commit."""
    table = TABLES["runs"]
    row = pa.Table.from_pylist([result.row()], schema=table.dataset_schema)
    stage_rows(result.lake, table, row, commit_id=result.run_id, replaced=[result.run_id])


@task(name="commit", cache_policy=NO_CACHE)
def commit_changes(*, lake: Lake, commit_id: str, versions: dict[str, str]) -> None:
    """Make everything staged under `commit_id` visible at once."""
    commit(lake, commit_id, versions=versions)


@task(name="compact", cache_policy=NO_CACHE)
def compact_days(*, lake: Lake, commit_id: str, days: Iterable[date]) -> Compacted:
    """Merge the files that runs piled up in the given days' partitions, by size tier, as a
    commit of its own."""
    compacted = compact(lake, commit_id=commit_id, days=days)
    if compacted.merged:
        get_run_logger().info(compacted.summary())
    return compacted


@task(name="export-days", cache_policy=NO_CACHE)
def export_days(*, lake: Lake, run_id: str, days: list[date], batch_size: int) -> dict[date, list[Batch]]:
    """Stage the documents of the given days in batches for annotation, by day."""
    staging = lake.staging(run_id)
    batches: dict[date, list[Batch]] = {}
    for day in days:
        docs = read_days(
            lake, TABLES["documents"], [day], ["doc_id", "text", "dup_of", "source", "origin", "ingested_at"]
        )
        batches[day] = []
        for n, start in enumerate(range(0, max(len(docs), 1), batch_size)):
            batch = staging.batch(f"{day.isoformat()}-{n:04d}")
            batch.write("documents", docs.slice(start, batch_size))
            batches[day].append(batch)
    return batches
