"""The `newslake` command: run the flow, query the lake, list its tables."""

import atexit
import gc
import json
import os
import shutil
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table as RichTable

from flows.cluster import start_worker_template
from flows.prefect_api import prefect_api
from flows.settings import Settings

if TYPE_CHECKING:
    from upath import UPath

# As a command ends, Python collects every cycle of objects before it frees the modules: 0.6 s
# once Prefect, Dask and Arrow are loaded, for memory the system takes back at once anyway.
# Frozen objects are left out of that collection (their memory is freed all the same); the
# command closes its files, lock and server itself before it ends.
atexit.register(gc.freeze)
app = typer.Typer(help="Batch NLP for news: raw articles in, a queryable Parquet lake out.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

AliasesOption = Annotated[
    Path | None,
    typer.Option(help="CSV of extra aliases (alias,canonical,label) [default: NEWSLAKE_ALIASES]", dir_okay=False),
]
LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake", help="lake directory or object store URL (s3://bucket/prefix) [default: NEWSLAKE_LAKE or data/lake]"
    ),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="Dask scheduler to run the batches on, e.g. tcp://HOST:8786 [default: NEWSLAKE_DASK_ADDRESS, "
        "or a local Dask cluster of --workers processes]",
    ),
]


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@app.command()
def run(
    inputs: Annotated[list[str] | None, typer.Argument(help="files, directories (recursive) or globs")] = None,
    lake: LakeOption = None,
    source: Annotated[str | None, typer.Option(help="source name [default: the input's folder name]")] = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="also write the tokens table")] = False,
    model: Annotated[str | None, typer.Option(help="spaCy pipeline to load")] = None,
    aliases: AliasesOption = None,
    report: Annotated[
        Path | None,
        typer.Option(help="also write the HTML report (as `newslake report`) there", dir_okay=False),
    ] = None,
    language: Annotated[
        list[str] | None, typer.Option(help="language to keep (repeat); 'all' keeps every language [default: en]")
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="local processes [default: all cores]")] = None,
    dask_address: DaskOption = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="documents per task")] = None,
    min_words: Annotated[int | None, typer.Option(min=1, help="shorter documents are rejected")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show every Prefect log line")] = False,
) -> None:
    """Ingest, clean, annotate and aggregate INPUTS [default: data/sample] into the lake."""
    _quiet_prefect(verbose)
    settings = Settings()
    inputs = inputs or ["data/sample"]
    if not (dask_address or settings.dask_address) and _new_lake(lake or settings.lake):
        # Every input is new to a lake that does not exist yet: the local workers' imports start
        # now, beside the server's boot. Into an existing lake, the run starts them once it has
        # found something new (see flows.pipeline).
        start_worker_template()
    with prefect_api():  # the local server boots while the arguments are checked and the flows imported
        from tasks.ingest import missing_inputs

        if missing := missing_inputs(inputs):
            raise _fail(f"input not found: {', '.join(missing)} (give files, directories or globs)", 2)
        languages = language or settings.languages
        alias_table = _aliases(aliases or settings.aliases)
        lake_dir = _lake(lake)
        err.print(f"newslake: processing {', '.join(inputs)} into {lake_dir} ...")
        from flows.pipeline import run as run_flow

        result = _call_flow(
            "run",
            run_flow,
            workers=workers or settings.workers,
            dask_address=_dask(dask_address or settings.dask_address),
            inputs=inputs,
            lake=str(lake_dir),
            source=source,
            tokens=tokens,
            model=model or settings.model,
            aliases=alias_table,
            report=str(report.resolve()) if report else None,
            languages=None if "all" in languages else languages,
            min_words=min_words or settings.min_words,
            batch_size=batch_size or settings.batch_size,
        )
    _print_summary(result)
    if report:
        out.print(f"report: {report}")


def _new_lake(location: str) -> bool:
    """Whether the lake is a local folder that does not exist yet."""
    return "://" not in location and not Path(location).exists()


def _lake(option: str | None) -> "Path | UPath":
    """The lake a command works on; a clear exit (2) when its object store cannot be reached."""
    from tasks.publish import LakeUnreachable, open_lake

    try:
        return open_lake(option or Settings().lake)
    except LakeUnreachable as exc:
        raise _fail(str(exc), 2) from None


def _dask(address: str | None) -> str | None:
    """The Dask scheduler given, once it answers; a clear exit (2) when it does not."""
    if not address:
        return None
    where = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        socket.create_connection((where.hostname, where.port or 8786), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise _fail(
            f"cannot reach the Dask scheduler at {address} ({exc}): start it with `dask scheduler`, "
            "or check --dask-address / NEWSLAKE_DASK_ADDRESS",
            2,
        ) from None
    return address


def _aliases(path: Path | None) -> str | None:
    """The user's alias table as an absolute path, checked before any work starts."""
    if path is None:
        return None
    from tasks.resolve import load_lexicon

    try:
        load_lexicon(str(path.resolve()))
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise _fail(f"cannot use the alias table {path}: {exc}", 2) from exc
    return str(path.resolve())


def _call_flow(what: str, flow_call, **parameters) -> dict:
    """Call a flow; a busy lake exits with code 3, any other failure with 1 and its message."""
    from tasks.publish import LakeBusy

    try:
        return flow_call(**parameters)
    except LakeBusy as exc:
        raise _fail(str(exc), 3) from None
    except Exception as exc:
        raise _fail(f"the {what} failed: {exc}") from None


def _stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into an ordinary exit, so that the Prefect server a command started stops too."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _quiet_prefect(verbose: bool) -> None:
    """Keep the terminal to the flow's progress lines unless asked for all of Prefect's.

    The level goes through the environment so that worker processes inherit it.
    """
    _stop_cleanly_on_sigterm()
    if verbose:
        return
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")  # the local cluster's start and stop
    os.environ["PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL"] = "INFO"


def _print_summary(run: dict) -> None:
    seconds = sum(run["seconds"].values())
    out.print(
        f"run {run['run_id']}: {run['inputs']} inputs -> {run['documents']} documents "
        f"({run['duplicates']} duplicates) + {run['skipped']} already in the lake + {run['rejects']} rejects "
        f"in {seconds:.1f}s"
    )
    if run["rejects_by_reason"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in run["rejects_by_reason"].items())
        out.print(f"rejects by reason: {reasons}")
    table = RichTable("table", "rows written", title="rows per table", title_justify="left")
    for name, rows in run["rows"].items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print("time per stage: " + ", ".join(f"{stage} {s:.1f}s" for stage, s in run["seconds"].items()))


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day, YYYY-MM-DD")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="last day, YYYY-MM-DD")],
    lake: LakeOption = None,
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="table to recompute (repeat) [default: all derived tables]")
    ] = None,
    model: Annotated[str | None, typer.Option(help="spaCy pipeline to load")] = None,
    aliases: AliasesOption = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="local processes annotating batches [default: all cores]")
    ] = None,
    dask_address: DaskOption = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="documents per task")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show every Prefect log line")] = False,
) -> None:
    """Recompute derived tables for a date range from the documents in the lake (resumable)."""
    _quiet_prefect(verbose)
    if end < start:
        raise _fail("--end is before --start", 2)
    settings = Settings()
    alias_table = _aliases(aliases or settings.aliases)
    if not (dask_address or settings.dask_address):
        start_worker_template()
    with prefect_api():  # the server boots while the flows are imported
        lake_dir = _lake(lake)
        err.print(f"newslake: backfilling {start:%Y-%m-%d} to {end:%Y-%m-%d} in {lake_dir} ...")
        from flows.pipeline import backfill as backfill_flow

        result = _call_flow(
            "backfill",
            backfill_flow,
            workers=concurrency or settings.workers,
            dask_address=_dask(dask_address or settings.dask_address),
            start=start.date(),
            end=end.date(),
            lake=str(lake_dir),
            tables=[t.strip() for value in tables or [] for t in value.split(",")] or None,
            model=model or settings.model,
            aliases=alias_table,
            batch_size=batch_size or settings.batch_size,
        )
    resumed = f", {result['resumed_days']} already done by an earlier attempt" if result["resumed_days"] else ""
    out.print(f"backfill {result['run_id']}: {result['days']} days, {result['documents']} documents{resumed}")
    out.print("rows recomputed: " + ", ".join(f"{name} {n:,}" for name, n in result["rows"].items()))


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option(help="folder whose new files each run processes")],
    lake: LakeOption = None,
    cron: Annotated[str | None, typer.Option(help='cron schedule, e.g. "0 6 * * *"')] = None,
    interval: Annotated[int | None, typer.Option(min=1, help="seconds between runs")] = None,
    source: Annotated[str | None, typer.Option(help="source name [default: the inbox folder name]")] = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="also write the tokens table")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show every Prefect log line")] = False,
) -> None:
    """Run the incremental flow over INBOX on a schedule, as a Prefect deployment, until stopped."""
    if (cron is None) == (interval is None):
        raise _fail("give exactly one of --cron and --interval", 2)
    if not inbox.is_dir():
        raise _fail(f"the inbox {inbox} is not a directory", 2)
    _quiet_prefect(verbose)
    settings = Settings()
    from flows.serve import serve as serve_flow
    from tasks.publish import absolute

    lake_dir = absolute(_lake(lake))
    parameters = {
        "inputs": [str(inbox.resolve())],
        "lake": str(lake_dir),
        "source": source,
        "tokens": tokens,
        "model": settings.model,
        "aliases": _aliases(settings.aliases),
        "languages": settings.languages or None,
        "min_words": settings.min_words,
        "batch_size": settings.batch_size,
    }
    schedule = f"cron {cron!r}" if cron else f"every {interval}s"
    err.print(f"newslake: serving runs of {inbox} into {lake_dir}, {schedule}; Ctrl-C stops")
    try:
        serve_flow(name=f"newslake-{lake_dir.name}", cron=cron, interval=interval, parameters=parameters)
    except KeyboardInterrupt:
        err.print("newslake: stopped")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="a SELECT over the lake's tables, by name")],
    lake: LakeOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
) -> None:
    """Query the lake with DuckDB SQL (read-only): one view per table."""
    from flows.query import QueryError, connect, run_query

    if format not in ("table", "csv", "json"):
        raise _fail(f"unknown format {format!r}: use table, csv or json", 2)
    try:
        frame = run_query(connect(_lake(lake)), query)
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    if format == "csv":
        sys.stdout.write(frame.write_csv())
    elif format == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, ensure_ascii=False, indent=1) + "\n")
    else:
        import polars as pl

        width = shutil.get_terminal_size((160, 40)).columns
        with pl.Config(tbl_rows=100, tbl_cols=30, fmt_str_lengths=80, tbl_width_chars=width):
            sys.stdout.write(f"{frame}\n")


@app.command()
def catalog(
    lake: LakeOption = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="DuckDB file to write [default: LAKE/catalog.duckdb; catalog.duckdb here for a remote lake]",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Write a DuckDB file with a view per table and joined views, for any DuckDB client."""
    from flows.query import QueryError, write_catalog
    from tasks.publish import is_local

    lake_dir = _lake(lake)
    target = to or (lake_dir / "catalog.duckdb" if is_local(lake_dir) else Path("catalog.duckdb"))
    try:
        names = write_catalog(lake_dir, target)
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"wrote {target} with {len(names)} views: {', '.join(names)}")
    out.print(f"open it with: duckdb {target}")


@app.command()
def report(
    lake: LakeOption = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day [default: the first]")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day [default: the last]")] = None,
    to: Annotated[Path, typer.Option("--out", help="HTML file to write", dir_okay=False)] = Path("report.html"),
) -> None:
    """Write one self-contained HTML page of charts and tables over the lake's days."""
    from flows.query import QueryError
    from flows.report import write_report

    if start and end and end < start:
        raise _fail("--end is before --start", 2)
    lake_dir = _lake(lake)
    try:
        write_report(lake_dir, to, start=start and start.date(), end=end and end.date())
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"wrote {to} ({to.stat().st_size / 1e3:,.0f} kB): open it in any browser, offline")


@app.command()
def check(lake: LakeOption = None) -> None:
    """Verify the lake: manifests, row counts, schemas, unique keys, finished commits."""
    from tasks.publish import check_lake, lake_tables

    lake_dir = _lake(lake)
    if not lake_tables(lake_dir):
        raise _fail(f"no tables in {lake_dir}: run `newslake run` first", 1)
    problems = check_lake(lake_dir)
    for problem in problems:
        err.print(f"[red]problem:[/] {problem}")
    if problems:
        raise _fail(f"the lake {lake_dir} is not sound: {len(problems)} problems", 1)
    out.print(f"the lake {lake_dir} is sound")


@app.command()
def tables(lake: LakeOption = None) -> None:
    """List the lake's tables with their row counts, partitions and schemas."""
    from tasks.publish import lake_tables, read_manifest

    lake_dir = _lake(lake)
    found = lake_tables(lake_dir)
    if not found:
        raise _fail(f"no tables in {lake_dir}: run `newslake run` first", 1)
    for table in found:
        manifest = read_manifest(lake_dir, table.name)
        if manifest is None:
            out.print(f"[bold]{table.name}[/]  no manifest: run `newslake run` to rewrite it")
        else:
            versions = manifest["versions"]
            out.print(
                f"[bold]{table.name}[/]  {manifest['rows']:,} rows in {len(manifest['files'])} partitions, "
                f"schema v{manifest['schema_version']}, {lake_dir / table.name}"
            )
            out.print(
                f"  last commit {manifest['last_commit']} at {manifest['updated_at']}, inputs fingerprint "
                f"{manifest['inputs_fingerprint']}, newslake {versions.get('newslake')}, "
                f"{versions.get('model')} {versions.get('model_version')}",
                highlight=False,
            )
        out.print("  " + ", ".join(f"{f.name} {f.type}" for f in table.dataset_schema), highlight=False)


if __name__ == "__main__":
    app()
