"""The `newslake` command: run the flow, query the lake, list its tables."""

import _thread
import csv
import gc
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
import warnings
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.table import Table as RichTable

from newslake.flows.defaults import DEFAULTS, TELEMETRY_OFF

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from newslake.flows.parameters import LakeParameters
    from newslake.tasks.lake import Lake
    from newslake.tasks.publish import RunResult


def _default(name: str) -> str:
    """A run parameter's default, as the help shows it."""
    value = DEFAULTS[name]
    return f"(default: NEWSLAKE_{name.upper()} or {' '.join(value) if isinstance(value, list) else value})"


app = typer.Typer(help="Batch NLP for news: raw articles in, a queryable Parquet lake out.", no_args_is_help=True)
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

AliasesOption = Annotated[
    Path | None,
    typer.Option(help="CSV of extra aliases (alias,canonical,label) (default: NEWSLAKE_ALIASES)", dir_okay=False),
]
KnowledgeOption = Annotated[
    Path | None,
    typer.Option(
        help="folder whose aliases.csv, places.csv, themes.csv, tone.csv and count_types.csv extend the "
        "packaged knowledge (default: NEWSLAKE_KNOWLEDGE)",
        file_okay=False,
    ),
]
LakeOption = Annotated[
    str | None,
    typer.Option("--lake", help=f"lake directory or object store URL (s3://bucket/prefix) {_default('lake')}"),
]
DaskOption = Annotated[
    str | None,
    typer.Option(
        "--dask-address",
        help="Dask scheduler to run the batches on, e.g. tcp://HOST:8786 (default: NEWSLAKE_DASK_ADDRESS, "
        "or a local Dask cluster of --workers processes)",
    ),
]
ModelOption = Annotated[str | None, typer.Option(help="spaCy pipeline to load (default: NEWSLAKE_MODEL)")]
BatchOption = Annotated[int | None, typer.Option(min=1, help=f"documents per task {_default('batch_size')}")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="show every Prefect log line")]


def main() -> None:
    """The console script: the command, then an exit that skips Python's last garbage collection.

    As a command ends, Python collects every cycle of objects before it frees the modules: 0.6 s
    once Prefect, Dask and Arrow are loaded, for memory the system takes back at once anyway.
    Frozen objects are left out of that collection (their memory is freed all the same); the
    command closes its files, lock and server itself before it ends. Prefect's usage data stays
    off for the whole command (see `newslake.flows.defaults.TELEMETRY_OFF`): its client decides
    as Prefect is imported, which checking the parameters may already do.
    """
    for name, value in TELEMETRY_OFF.items():
        os.environ.setdefault(name, value)
    try:
        app()
    finally:
        gc.freeze()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def _parameters(kind: "type[LakeParameters]", /, **given) -> "LakeParameters":
    """The command's parameters: what it was given, else NEWSLAKE_* settings, else defaults;
    a clear exit (2) when they do not hold."""
    from pydantic import ValidationError

    try:
        return kind(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc'])) + ': ' if e['type'] != 'value_error' else ''}"
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise _fail("; ".join(problems), 2) from None


def _lake(option: str | None) -> "Lake":
    """The lake a command reads (given, else from the NEWSLAKE_* settings); a clear exit (2) when
    its object store cannot be reached."""
    from newslake.tasks.lake import Lake, LakeUnreachable

    if option is None:
        from newslake.flows.parameters import LakeParameters

        option = _parameters(LakeParameters).lake
    lake = Lake.at(option)
    try:
        lake.check_reachable()
    except LakeUnreachable as exc:
        raise _fail(str(exc), 2) from None
    return lake


def _output(path: Path, lake: "Lake") -> Path:
    """A file a command may write: a new path or a regular file, outside the lake; a clear exit
    (2) otherwise. Missing parent folders are made."""
    if lake.contains(path):
        raise _fail(f"{path} is inside the lake {lake}: write the file somewhere else", 2)
    if path.exists() and not path.is_file():
        raise _fail(f"{path} exists and is not a regular file: give a new path or a file to replace", 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _check_dask(address: str | None) -> None:
    """A clear exit (2) when the Dask scheduler given does not answer."""
    if not address:
        return
    where = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        socket.create_connection((where.hostname, where.port or 8786), timeout=10).close()
    except (OSError, ValueError) as exc:
        raise _fail(
            f"cannot reach the Dask scheduler at {address} ({exc}): start it with `dask scheduler`, "
            "or check --dask-address / NEWSLAKE_DASK_ADDRESS",
            2,
        ) from None


def _call_flow(what: str, flow_call, parameters: "LakeParameters", *, verbose: bool) -> "RunResult":
    """Call a flow; a busy lake exits with code 3, an unreachable one with 2, any other failure
    with 1 and its message."""
    from newslake.tasks.lake import LakeBusy, LakeUnreachable

    _check_dask(parameters.dask_address)
    _lake(parameters.lake)
    _stop_cleanly_on_sigterm()
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda signum, frame: _quiet_interrupt(interrupted))
    try:
        try:
            return flow_call(parameters, verbose=verbose, console=err)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the run is over: no interrupt again
    except KeyboardInterrupt:
        raise _stopped() from None
    except LakeBusy as exc:
        raise _fail(str(exc), 3) from None
    except LakeUnreachable as exc:
        raise _fail(str(exc), 2) from None
    except Exception as exc:
        if interrupted.is_set():  # Ctrl-C met inside a library that wrapped it in another exception
            raise _stopped() from None
        raise _fail(f"the {what} failed: {exc}") from None


def _stopped() -> typer.Exit:
    """Ctrl-C during a run: one line, exit 130."""
    err.print(
        "newslake: stopped; the lake holds only whole runs (the next run completes or undoes "
        "this one's); run again to finish"
    )
    return typer.Exit(130)


def _quiet_interrupt(interrupted: threading.Event) -> None:
    """Ctrl-C: from then on only newslake's own line, not Prefect's report of a crashed flow run
    nor Dask's of the workers it stops. A library may catch the KeyboardInterrupt and go on
    (Prefect's serialisers turn it into a warning), or it may land where Python can only print
    and drop it (a garbage collector callback of Dask's): the run is interrupted again every
    two seconds until it stops, and a dropped one is not printed."""
    from newslake.flows.api import QUIET_LOGGERS

    if not interrupted.is_set():
        interrupted.set()
        warnings.simplefilter("ignore")
        unraisable = sys.unraisablehook
        sys.unraisablehook = lambda info: None if info.exc_type is KeyboardInterrupt else unraisable(info)
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL + 1)
    again = threading.Timer(2.0, _thread.interrupt_main)
    again.daemon = True
    again.start()
    raise KeyboardInterrupt


def _stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into an ordinary exit, so that the Prefect server a command started stops too."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


@app.command()
def run(
    inputs: Annotated[
        list[str] | None, typer.Argument(help=f"files, directories (recursive) or globs {_default('inputs')}")
    ] = None,
    lake: LakeOption = None,
    source: Annotated[str | None, typer.Option(help="source name (default: the input's folder name)")] = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="also write the tokens table")] = False,
    model: ModelOption = None,
    aliases: AliasesOption = None,
    knowledge: KnowledgeOption = None,
    report: Annotated[
        Path | None,
        typer.Option(help="also write the HTML report (as `newslake report`) there", dir_okay=False),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help=f"language to keep (repeat); 'all' keeps every language {_default('languages')}"),
    ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="local processes (default: all cores)")] = None,
    dask_address: DaskOption = None,
    batch_size: BatchOption = None,
    min_words: Annotated[
        int | None, typer.Option(min=1, help=f"shorter documents are rejected {_default('min_words')}")
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Ingest, clean, annotate and aggregate INPUTS into the lake."""
    from newslake.flows.parameters import RunParameters

    started = time.monotonic()
    parameters = _parameters(
        RunParameters,
        inputs=inputs or None,
        lake=lake,
        source=source,
        tokens=tokens or None,
        model=model,
        aliases=aliases,
        knowledge=knowledge,
        report=report,
        languages=language or None,
        workers=workers,
        dask_address=dask_address,
        batch_size=batch_size,
        min_words=min_words,
    )
    err.print(f"newslake: processing {', '.join(parameters.inputs)} into {parameters.lake} ...", highlight=False)
    from newslake.flows.api import run_flow

    result = _call_flow("run", run_flow, parameters, verbose=verbose)
    _print_summary(result, time.monotonic() - started)
    if parameters.report:
        out.print(f"report: {parameters.report}")
    _print_next_commands(parameters.lake)


def _print_summary(run: "RunResult", wall_seconds: float) -> None:
    out.print(
        f"run {run.run_id}: {run.inputs} inputs -> {run.documents} documents "
        f"({run.duplicates} duplicates) + {run.skipped} already in the lake + {run.rejects} rejects "
        f"in {wall_seconds:.1f}s"
    )
    if run.rejects_by_reason:
        reasons = ", ".join(f"{reason} {n}" for reason, n in run.rejects_by_reason.items())
        out.print(f"rejects by reason: {reasons}")
    table = RichTable("table", "rows written", title="rows per table", title_justify="left")
    for name, rows in run.rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    out.print("time per stage: " + ", ".join(f"{stage} {s:.1f}s" for stage, s in run.seconds.items()))


def _print_next_commands(lake: str) -> None:
    at = f" --lake {shlex.quote(lake)}"
    out.print("next:", style="bold")
    for command in (
        f'newslake sql "SELECT name, sum(mentions) AS n FROM entity_daily GROUP BY name ORDER BY n DESC LIMIT 5"{at}',
        f"newslake report{at} --out report.html",
        "newslake ui  # the runs in Prefect's UI",
    ):
        out.print(f"  {command}", highlight=False, soft_wrap=True)


@app.command()
def backfill(
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first day, YYYY-MM-DD")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="last day, YYYY-MM-DD")],
    lake: LakeOption = None,
    tables: Annotated[
        list[str] | None, typer.Option("--tables", help="table to recompute (repeat) (default: all derived tables)")
    ] = None,
    model: ModelOption = None,
    aliases: AliasesOption = None,
    knowledge: KnowledgeOption = None,
    concurrency: Annotated[
        int | None, typer.Option(min=1, help="local processes annotating batches (default: all cores)")
    ] = None,
    dask_address: DaskOption = None,
    batch_size: BatchOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Recompute derived tables for a date range from the documents in the lake (resumable)."""
    from newslake.flows.parameters import BackfillParameters

    started = time.monotonic()
    parameters = _parameters(
        BackfillParameters,
        start=start.date(),
        end=end.date(),
        lake=lake,
        tables=tables or None,
        model=model,
        aliases=aliases,
        knowledge=knowledge,
        workers=concurrency,
        dask_address=dask_address,
        batch_size=batch_size,
    )
    err.print(f"newslake: backfilling {start:%Y-%m-%d} to {end:%Y-%m-%d} in {parameters.lake} ...", highlight=False)
    from newslake.flows.api import backfill_flow

    result = _call_flow("backfill", backfill_flow, parameters, verbose=verbose)
    resumed = f", {result.resumed_days} already done by an earlier attempt" if result.resumed_days else ""
    wall = f"in {time.monotonic() - started:.1f}s"
    out.print(f"backfill {result.run_id}: {result.days} days, {result.documents} documents{resumed} {wall}")
    out.print("rows recomputed: " + ", ".join(f"{name} {n:,}" for name, n in result.rows.items()))


@app.command()
def serve(
    inbox: Annotated[Path, typer.Option(help="folder whose new files each run processes")],
    lake: LakeOption = None,
    cron: Annotated[str | None, typer.Option(help='cron schedule, e.g. "0 6 * * *"')] = None,
    interval: Annotated[int | None, typer.Option(min=1, help="seconds between runs")] = None,
    source: Annotated[str | None, typer.Option(help="source name (default: the inbox folder name)")] = None,
    tokens: Annotated[bool, typer.Option("--tokens", help="also write the tokens table")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Run the incremental flow over INBOX on a schedule, as a Prefect deployment, until stopped."""
    if (cron is None) == (interval is None):
        raise _fail("give exactly one of --cron and --interval", 2)
    if not inbox.is_dir():
        raise _fail(f"the inbox {inbox} is not a directory", 2)
    from newslake.flows.parameters import RunParameters

    if cron is not None:
        from prefect._internal.schemas.validators import validate_cron_string  # the rule serve applies

        try:
            validate_cron_string(cron)
        except ValueError as exc:
            raise _fail(f'{exc}: give five fields, minute hour day month weekday, e.g. "0 6 * * *"', 2) from None
    parameters = _parameters(
        RunParameters, inputs=[str(inbox.resolve())], lake=str(_lake(lake)), source=source, tokens=tokens or None
    )
    schedule = f"cron {cron!r}" if cron else f"every {interval}s"
    err.print(f"newslake: serving runs of {inbox} into {parameters.lake}, {schedule}; Ctrl-C stops", highlight=False)
    from newslake.flows.serve import serve as serve_flow

    _stop_cleanly_on_sigterm()
    try:
        serve_flow(parameters, cron=cron, interval=interval, verbose=verbose)
    except KeyboardInterrupt:
        err.print("newslake: stopped")


@app.command()
def ui(
    lake: LakeOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="port of the UI on 127.0.0.1")] = 4200,
) -> None:
    """Open Prefect's UI on the runs newslake recorded (with --lake: the runs `serve` recorded for it)."""
    from newslake.flows.prefect_server import prefect_ui

    if url := os.environ.get("PREFECT_API_URL"):
        ui_url = os.environ.get("PREFECT_UI_URL", url.removesuffix("/api"))
        out.print(f"runs are recorded by the Prefect server at {url}: open {ui_url}", highlight=False)
        return
    served = _lake(lake).prefect_home if lake else None
    if lake and not (served and (served / "prefect.db").is_file()):
        raise _fail(f"{lake} has no runs of `newslake serve`; without --lake, the UI shows the other runs", 2)
    _stop_cleanly_on_sigterm()
    with prefect_ui(served, port=port) as server:
        where = served / "prefect.db" if served else "Prefect's own database (in PREFECT_HOME)"
        err.print(f"newslake: Prefect's UI at http://127.0.0.1:{port}, on {where}; Ctrl-C stops it", highlight=False)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            err.print("newslake: stopped")
            return
    raise _fail(f"Prefect's server stopped (exit {code}); is port {port} in use? try --port", 1)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="a SELECT over the lake's tables, by name")],
    lake: LakeOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json")] = "table",
) -> None:
    """Query the lake with DuckDB SQL (read-only): one view per table."""
    if format not in SQL_FORMATS:
        raise _fail(f"unknown format {format!r}: use table, csv or json", 2)
    _query(_lake(lake), query, SQL_FORMATS[format])


def _write_table(relation: "duckdb.DuckDBPyRelation") -> None:
    """A result as DuckDB's box of rows, as wide as the terminal (the first and last rows of a long one)."""
    width = shutil.get_terminal_size((160, 40)).columns
    relation.show(max_width=width, max_rows=100, max_col_width=80)


def _write_csv(relation: "duckdb.DuckDBPyRelation") -> None:
    rows = relation.fetchall()
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(relation.columns)
    writer.writerows([_csv_value(value) for value in row] for row in rows)


def _write_json(relation: "duckdb.DuckDBPyRelation") -> None:
    rows, names = relation.fetchall(), _unique(relation.columns)
    found = [{name: _jsonable(value) for name, value in zip(names, row, strict=True)} for row in rows]
    sys.stdout.write(json.dumps(found, default=str, ensure_ascii=False, indent=1) + "\n")


def _unique(names: list[str]) -> list[str]:
    """Column names made unique for JSON's keys, as DuckDB does for a DataFrame: `id`, `id_1`."""
    seen: set[str] = set()
    unique = []
    for name in names:
        new, n = name, 0
        while new in seen:
            n += 1
            new = f"{name}_{n}"
        seen.add(new)
        unique.append(new)
    return unique


def _csv_value(value: object) -> str:
    """A value as CSV text: nothing for null, true or false, bytes as hex, lists, arrays, maps and
    structs as JSON, anything else (dates, times, decimals) as its text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    plain = _jsonable(value)
    return json.dumps(plain, default=str, ensure_ascii=False) if isinstance(plain, list | dict) else str(plain)


def _jsonable(value: object) -> object:
    """A value with its bytes as hex, its arrays as lists and its maps' keys as text, for JSON."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


SQL_FORMATS = {"table": _write_table, "csv": _write_csv, "json": _write_json}


def _query(lake: "Lake", query: str, write: "Callable[[duckdb.DuckDBPyRelation], None]") -> None:
    """Run a query and write its result; Ctrl-C stops it at once (DuckDB runs it in a thread of
    its own, which this one interrupts) and exits 130."""
    import duckdb

    from newslake.tasks.lake.query import QueryError, connect, select

    try:
        con = connect(lake, for_query=query)
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    except duckdb.Error as exc:  # a file the manifest lists and the folder lacks, say
        hint = f"`newslake check --lake {lake}` names what is wrong"
        raise _fail(f"cannot read the lake {lake}: {exc}; {hint}", 2) from None
    done: dict = {}

    def work() -> None:
        try:
            write(select(con, query))
        except Exception as exc:
            done["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        # A query that had not started yet when interrupted runs on: interrupt until it ends.
        deadline = time.monotonic() + 10
        while worker.is_alive() and time.monotonic() < deadline:
            con.interrupt()
            worker.join(0.1)
        err.print("newslake: query stopped")
        if worker.is_alive():  # Python ending under DuckDB's thread would abort the process
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise typer.Exit(130) from None
    error = done.get("error")
    if isinstance(error, QueryError | duckdb.Error):
        raise _fail(str(error), 2) from None
    if error is not None:
        raise error


@app.command()
def catalog(
    lake: LakeOption = None,
    to: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="DuckDB file to write (default: LAKE/catalog.duckdb; catalog.duckdb here for a remote lake)",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Write a DuckDB file with a view per table and joined views, for any DuckDB client."""
    from newslake.tasks.lake.query import QueryError, write_catalog

    lake_dir = _lake(lake)
    target = (
        _output(to, lake_dir)
        if to
        else lake_dir.root / "catalog.duckdb"
        if lake_dir.is_local
        else Path("catalog.duckdb")
    )
    try:
        names = write_catalog(lake_dir, target)
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"wrote {target} with {len(names)} views: {', '.join(names)}")
    out.print(f"open it with: duckdb {target}")


@app.command()
def report(
    lake: LakeOption = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day (default: the first)")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day (default: the last)")] = None,
    to: Annotated[Path, typer.Option("--out", help="HTML file to write", dir_okay=False)] = Path("report.html"),
) -> None:
    """Write one self-contained HTML page of charts and tables over the lake's days."""
    from newslake.tasks.lake.query import QueryError
    from newslake.tasks.report import write_report

    if start and end and end < start:
        raise _fail("--end is before --start", 2)
    lake_dir = _lake(lake)
    to = _output(to, lake_dir)
    try:
        write_report(lake_dir, to, start=start and start.date(), end=end and end.date())
    except QueryError as exc:
        raise _fail(str(exc), 2) from None
    out.print(f"wrote {to} ({to.stat().st_size / 1e3:,.0f} kB): open it in any browser, offline")


export_app = typer.Typer(help="Write the lake in other formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("gkg")
def export_gkg(
    lake: LakeOption = None,
    start: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day (default: the first)")] = None,
    end: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day (default: the last)")] = None,
    to: Annotated[
        Path | None,
        typer.Option("--out", help="file, or folder for one YYYYMMDD000000.gkg.csv per day (default: standard output)"),
    ] = None,
) -> None:
    """Write the lake's documents as GDELT GKG 2.1 records: tab-separated, the codebook's 27 columns."""
    from newslake.tasks.gkg import write_gkg

    if start and end and end < start:
        raise _fail("--end is before --start", 2)
    lake_dir = _lake(lake)
    if not lake_dir.has_rows("documents"):
        raise _fail(f"the lake {lake_dir} has no documents yet: run `newslake run` first", 2)
    if to is not None and to.is_dir():
        if lake_dir.contains(to):
            raise _fail(f"{to} is inside the lake {lake_dir}: write the files somewhere else", 2)
    elif to is not None:
        to = _output(to, lake_dir)
    written = write_gkg(lake_dir, to, start=start and start.date(), end=end and end.date())
    if to is not None:
        err.print(f"wrote {sum(written.values()):,} GKG records to {len(written)} file(s) in {to}", highlight=False)


@app.command()
def compact(
    lake: LakeOption = None,
    start: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first day to compact, YYYY-MM-DD (default: all)")
    ] = None,
    end: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last day to compact, YYYY-MM-DD (default: all)")
    ] = None,
) -> None:
    """Merge each partition's files into one (runs merge them as they pile up, by size tier)."""
    from newslake.tasks.lake import LakeBusy, compact, lake_lock, recover
    from newslake.tasks.publish import new_run_id

    lake_dir = _lake(lake)
    if not lake_dir.exists():
        raise _fail(f"there is no lake at {lake_dir}: give --lake, or make one with `newslake run`", 2)
    first, last = start.date() if start else date.min, end.date() if end else date.max
    commit_id = new_run_id(datetime.now(UTC)) + "-compact"
    try:
        with lake_lock(lake_dir, commit_id):
            recover(lake_dir)
            days = None if start is None and end is None else _days_between(lake_dir, first, last)
            done = compact(lake_dir, commit_id=commit_id, days=days, full=True)
    except LakeBusy as exc:
        raise _fail(str(exc), 3) from None
    out.print(done.summary(), highlight=False)


def _days_between(lake: "Lake", first: date, last: date) -> list[date]:
    from newslake.tasks.lake import lake_tables

    return sorted({d for t in lake_tables(lake) for d in lake.partition_days(t.name) if first <= d <= last})


@app.command()
def check(lake: LakeOption = None) -> None:
    """Verify the lake: manifests, row counts, schemas, unique keys, finished commits."""
    from newslake.tasks.lake import check_lake, lake_tables

    lake_dir = _lake(lake)
    if not lake_dir.exists():
        raise _fail(f"there is no lake at {lake_dir}: give --lake, or make one with `newslake run`", 2)
    problems = check_lake(lake_dir)
    if not problems and not lake_tables(lake_dir):
        out.print(f"the lake {lake_dir} is sound and empty: nothing has been committed to it yet", highlight=False)
        return
    for problem in problems:
        err.print(f"[red]problem:[/] {problem}", highlight=False)
    if problems:
        raise _fail(f"the lake {lake_dir} is not sound: {len(problems)} problems", 1)
    out.print(f"the lake {lake_dir} is sound", highlight=False)


def _partitions(files: dict[str, int]) -> str:
    """How many partitions a manifest's files make, and how many files when more than one a day."""
    days = len({name.split("/")[0] for name in files})
    return f"{days} partitions" + (f" ({len(files)} files)" if len(files) > days else "")


@app.command()
def tables(lake: LakeOption = None) -> None:
    """List the lake's tables with their row counts, partitions and schemas."""
    from newslake.tasks.lake import lake_tables, read_manifest

    lake_dir = _lake(lake)
    found = lake_tables(lake_dir)
    if not found:
        raise _fail(f"no tables in {lake_dir}: run `newslake run` first", 1)
    for table in found:
        try:
            manifest = read_manifest(lake_dir, table.name)
        except ValueError:
            manifest = None
        if manifest is None:
            out.print(f"[bold]{table.name}[/]  no readable manifest: `newslake check` tells what to do")
        else:
            versions = manifest["versions"]
            out.print(
                f"[bold]{table.name}[/]  {manifest['rows']:,} rows in {_partitions(manifest['files'])}, "
                f"schema v{manifest['schema_version']}, {lake_dir.table_dir(table.name)}",
                highlight=False,
            )
            out.print(
                f"  last commit {manifest['last_commit']} at {manifest['updated_at']}, inputs fingerprint "
                f"{manifest['inputs_fingerprint']}, newslake {versions.get('newslake')}, "
                f"{versions.get('model')} {versions.get('model_version')}",
                highlight=False,
            )
        out.print("  " + ", ".join(f"{f.name} {f.type}" for f in table.dataset_schema), highlight=False)


if __name__ == "__main__":
    main()
