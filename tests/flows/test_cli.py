"""The newslake command as a user runs it."""

import datetime
import json
import os
import pty
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time

import pytest
from typer.testing import CliRunner

from newslake.flows.cli import app

runner = CliRunner()


def test_cli_run_on_the_sample_is_clean_and_reports_then_runs_incrementally(newslake_cli, tmp_path):
    """The real command on its own local Prefect server, first as on a fresh machine in a
    terminal (a new Prefect home, stderr a TTY: where Prefect prints first-use notices): a
    summary, on stderr only newslake's own line and the flow's log, no notices or tracebacks,
    and the run with its tasks in Prefect's database. Run again on the same inputs, it finds
    everything in the lake and annotates nothing."""

    def newslake_run(*, terminal: bool = False) -> subprocess.CompletedProcess:
        args = ("run", "--lake", str(tmp_path / "lake"), "--workers", "1")
        if not terminal:
            process = newslake_cli(*args)
            out, err = process.communicate(timeout=600)
        else:
            leader, follower = pty.openpty()
            process = newslake_cli(*args, env={"PREFECT_HOME": str(tmp_path / "prefect")}, stderr=follower)
            os.close(follower)
            chunks: list[bytes] = []
            reader = threading.Thread(target=_read_until_closed, args=(leader, chunks))
            reader.start()
            out, _ = process.communicate(timeout=600)
            reader.join(timeout=60)
            os.close(leader)
            # The live progress bars redraw themselves with cursor moves: each redraw, a line.
            err = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode().replace("\r\n", "\n"))
            err = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "\n", err)
        assert process.returncode == 0, err
        for noise in ("Traceback", "ERROR", "Error", "Task run"):
            assert noise not in err, err
        for line in filter(None, err.splitlines()):
            assert re.match(r"newslake: |\d\d:\d\d:\d\d\.\d{3} \| INFO +\| Flow run | *(cleaned|annotated) ━", line), (
                err
            )
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    first = newslake_run(terminal=True)
    assert "16 inputs -> 13 documents (2 duplicates) + 0 already in the lake + 3 rejects" in first.stdout
    assert "empty_text 1, language:fr 1, malformed_record 1" in first.stdout
    # The command's own time, Prefect's boot included, then what to do next.
    wall = float(re.search(r"rejects in (\d+\.\d)s", first.stdout)[1])
    stages = first.stdout.split("time per stage:")[1].splitlines()[0]
    assert wall > sum(map(float, re.findall(r" (\d+\.\d)s", stages)))
    assert f"newslake report --lake {tmp_path / 'lake'} --out report.html" in first.stdout
    assert re.search(r"annotated [━╸╺ ]+ 13/13", first.stderr), first.stderr  # a live bar on a terminal
    assert "View at" not in first.stderr  # the command's server serves no UI to link to
    # What `prefect server start` shows of the run afterwards, from the database its server kept:
    # the flow run and each of its tasks.
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as db:
        flow_runs = db.execute("SELECT state_type FROM flow_run").fetchall()
        task_runs = db.execute("SELECT name, state_type FROM task_run").fetchall()
        heartbeats = db.execute("SELECT count(*) FROM events WHERE event = 'prefect.flow-run.heartbeat'").fetchone()
    assert flow_runs == [("COMPLETED",)]
    assert {name.rsplit("-", 1)[0] for name, _ in task_runs} >= {"ingest", "clean", "annotate", "publish", "commit"}
    assert {state for _, state in task_runs} == {"COMPLETED"}
    assert heartbeats == (0,)  # a server that stops with its run has nothing to watch them for
    again = newslake_run()
    assert "16 inputs -> 0 documents (0 duplicates) + 13 already in the lake + 3 rejects" in again.stdout
    assert "annotated" not in again.stderr
    # The two records cleaning rejected before (French, empty) are rejects again without cleaning.
    assert "0 records to process, 13 unchanged since an earlier run, 3 rejected" in again.stderr
    _ui_shows_the_run(newslake_cli, tmp_path / "prefect", tmp_path / "lake")


def _ui_shows_the_run(newslake_cli, prefect_home, lake) -> None:
    """`newslake ui` serves Prefect's UI on the database the run was recorded in, lists the run
    under its newslake run_id, and stops, with its server, on Ctrl-C."""
    import httpx

    from newslake import open_lake

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = newslake_cli(
        "ui",
        "--port",
        str(port),
        env={"PREFECT_HOME": str(prefect_home)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            try:
                page = httpx.get(url, timeout=2)
                flow_runs = httpx.post(f"{url}/api/flow_runs/filter", json={}, timeout=10).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        run_ids = set(open_lake(str(lake)).sql("SELECT run_id FROM runs")["run_id"])
        assert page.status_code == 200 and "prefect" in page.text.lower()
        names = {run["name"] for run in flow_runs}
        assert len(names) == 1 and names < run_ids  # the run on this Prefect home, not the other one
        stopped = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0 and time.monotonic() - stopped < 20, err
        assert f"Prefect's UI at {url}" in err and "stopped" in err and "Traceback" not in err
    finally:
        process.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def _read_until_closed(fd: int, chunks: list[bytes]) -> None:
    """Everything written to a pseudo-terminal, until its last writer closes it."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # Linux: EIO once no process holds the terminal
            return
        if not chunk:
            return
        chunks.append(chunk)


def test_cli_run_rejects_a_missing_input(tmp_path):
    result = runner.invoke(app, ["run", str(tmp_path / "missing"), "--lake", str(tmp_path)])
    assert result.exit_code == 2
    assert "input not found" in result.output


def test_cli_run_rejects_a_dask_scheduler_that_does_not_answer(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{s.getsockname()[1]}"  # nobody listens there
    result = runner.invoke(app, ["run", "--dask-address", address, "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at {address}" in result.output
    assert not (tmp_path / "lake").exists()


def test_cli_run_rejects_a_bad_alias_table_before_any_work(tmp_path):
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("alias,label\nThe Beeb,ORG\n")
    result = runner.invoke(app, ["run", "--aliases", str(aliases), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2
    assert "cannot use the alias table" in result.output and "alias,canonical,label" in result.output
    assert not (tmp_path / "lake").exists()


def test_cli_sql_formats(sample_lake):
    lake, _ = sample_lake
    query = "SELECT reason, count(*) AS n FROM rejects GROUP BY reason ORDER BY reason"
    as_json = runner.invoke(app, ["sql", query, "--lake", str(lake), "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output) == [
        {"reason": "empty_text", "n": 1},
        {"reason": "language:fr", "n": 1},
        {"reason": "malformed_record", "n": 1},
    ]
    as_csv = runner.invoke(app, ["sql", query, "--lake", str(lake), "-f", "csv"])
    assert as_csv.output.splitlines()[:2] == ["reason,n", "empty_text,1"]
    as_table = runner.invoke(app, ["sql", "SELECT count(*) AS docs FROM documents", "--lake", str(lake)])
    assert "13" in as_table.output
    shapes = "SELECT 1 AS a, 2 AS a, map([1], ['x']) AS m, [1, 2]::INTEGER[2] AS pair, NULL AS none, true AS yes"
    as_json = runner.invoke(app, ["sql", shapes, "--lake", str(lake), "-f", "json"])
    row = {"a": 1, "a_1": 2, "m": {"1": "x"}, "pair": [1, 2], "none": None, "yes": True}
    assert json.loads(as_json.output) == [row], as_json.output
    as_csv = runner.invoke(app, ["sql", shapes, "--lake", str(lake), "-f", "csv"])
    assert as_csv.output.splitlines() == ["a,a,m,pair,none,yes", '1,2,"{""1"": ""x""}","[1, 2]",,true']


def test_cli_sql_starts_with_duckdb_alone(sample_lake, newslake_cli):
    """A query imports neither PyArrow nor Polars (nor NumPy, nor the object-store libraries for a
    local lake), let alone Prefect, spaCy or Dask: DuckDB reads the files and prints the result."""
    lake, _ = sample_lake
    query = "SELECT count(*) AS docs FROM documents"
    process = newslake_cli("sql", query, "--lake", str(lake), env={"PYTHONPROFILEIMPORTTIME": "1"})
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0 and "13" in out, err
    imported = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")}
    assert "duckdb" in imported
    assert not imported & {"pyarrow", "polars", "numpy", "fsspec", "upath", "prefect", "spacy", "dask"}


def test_cli_sql_makes_views_only_of_the_tables_a_query_names(sample_lake):
    from newslake.tasks.lake import Lake
    from newslake.tasks.lake.query import connect

    lake, _ = sample_lake
    query = "SELECT count(*) FROM quote_context JOIN entity_daily USING (date)"
    views = {name for (name,) in connect(Lake.at(lake), for_query=query).sql("SHOW TABLES").fetchall()}
    assert views == {"quote_context", "quotes", "documents", "entity_daily"}
    everything = {name for (name,) in connect(Lake.at(lake)).sql("SHOW TABLES").fetchall()}
    assert len(everything) > 20 and views < everything
    joined = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM mention_context", "--lake", str(lake)])
    assert joined.exit_code == 0 and "n" in joined.output, joined.output


def test_cli_sql_is_read_only_and_explains_errors(sample_lake):
    lake, _ = sample_lake
    for query in ("DELETE FROM documents", "SELECT 1; DROP VIEW documents", "COPY documents TO 'x.csv'"):
        result = runner.invoke(app, ["sql", query, "--lake", str(lake)])
        assert result.exit_code == 2 and "read-only" in result.output, query
    result = runner.invoke(app, ["sql", "SELECT nope FROM documents", "--lake", str(lake)])
    assert result.exit_code == 2 and "nope" in result.output
    result = runner.invoke(app, ["sql", "SELECT 1", "--lake", str(lake / "empty")])
    assert result.exit_code == 2 and "no tables" in result.output


def test_cli_tables_lists_rows_and_schemas(sample_lake):
    lake, _ = sample_lake
    result = runner.invoke(app, ["tables", "--lake", str(lake)])
    assert result.exit_code == 0
    assert "documents  13 rows in 5 partitions" in result.output
    assert "entity_key string" in result.output


def test_cli_compact_merges_each_day_into_one_file_and_changes_no_row(tmp_path):
    import pyarrow as pa

    from newslake.schemas import TABLES
    from newslake.tasks.lake import Lake, check_lake, commit, read_table, stage_rows

    lake, sentences = Lake.at(tmp_path / "lake"), TABLES["sentences"]
    day = datetime.date(2025, 3, 1)
    for n in range(3):  # three commits into one day, too few for a run's own merge
        row = {"doc_id": f"d{n}", "sent_id": 0, "start_char": 0, "end_char": 1, "date": day}
        stage_rows(lake, sentences, pa.Table.from_pylist([row], schema=sentences.dataset_schema), commit_id=f"c{n}")
        commit(lake, f"c{n}", versions={})
    before = read_table(lake, sentences).to_pylist()
    outside = runner.invoke(app, ["compact", "--lake", str(lake.root), "--start", "2025-03-02", "--end", "2025-03-09"])
    assert outside.exit_code == 0 and "nothing to merge" in outside.output, outside.output
    result = runner.invoke(app, ["compact", "--lake", str(lake.root)])
    assert result.exit_code == 0 and "3 files merged into 1 in 1 partitions" in result.output, result.output
    assert len(lake.partition_files("sentences")) == 1 and read_table(lake, sentences).to_pylist() == before
    assert check_lake(lake) == [] and not (lake.root / "_staging").exists()
    missing = runner.invoke(app, ["compact", "--lake", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "there is no lake" in missing.output


def test_cli_check_passes_a_sound_lake_and_lists_problems(sample_lake, tmp_path):
    lake, _ = sample_lake
    result = runner.invoke(app, ["check", "--lake", str(lake)])
    assert result.exit_code == 0 and "is sound" in result.output
    broken = tmp_path / "lake"
    shutil.copytree(lake, broken)
    next(broken.glob("mentions/date=*/part-*.parquet")).unlink()
    result = runner.invoke(app, ["check", "--lake", str(broken)])
    assert result.exit_code == 1
    assert "is in the manifest but missing" in result.output and "have no rows" in result.output
    assert "2 problems" in result.output
    for path in broken.glob("documents/date=*/part-*.parquet"):
        path.unlink()
    result = runner.invoke(app, ["sql", "SELECT count(*) FROM documents", "--lake", str(broken)])
    assert result.exit_code == 2 and "No files found" in result.output and "newslake check" in result.output


def test_cli_every_declared_table_exists_on_a_lake_that_never_rejected_anything(prefect_server, sample, tmp_path):
    """A lake with no rejects and no tokens: both are tables with no rows for `sql`, the
    catalog and the report; a lake nothing was committed to is sound and empty."""
    import newslake

    lake = tmp_path / "lake"
    result = newslake.run(inputs=[str(sample / "chip-plant.txt")], lake=str(lake), workers=1)
    assert result.rejects == 0
    counted = runner.invoke(
        app,
        [
            "sql",
            "SELECT (SELECT count(*) FROM rejects) AS r, (SELECT count(*) FROM tokens) AS t",
            "--lake",
            str(lake),
            "-f",
            "csv",
        ],
    )
    assert counted.exit_code == 0 and counted.output.splitlines() == ["r,t", "0,0"], counted.output
    report = runner.invoke(app, ["report", "--lake", str(lake), "--out", str(tmp_path / "report.html")])
    assert report.exit_code == 0, report.output
    assert "No rejects in this period" in (tmp_path / "report.html").read_text()
    listed = runner.invoke(app, ["tables", "--lake", str(lake)])
    assert "rejects  0 rows in 0 partitions" in listed.output
    empty = tmp_path / "killed-before-its-first-commit"
    (empty / "_staging" / "r1").mkdir(parents=True)
    checked = runner.invoke(app, ["check", "--lake", str(empty)])
    assert checked.exit_code == 0 and "sound and empty" in checked.output


def test_cli_sql_reads_only_the_lake_and_installs_nothing(sample_lake):
    lake, _ = sample_lake
    for query in (
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM glob('/root/**')",
        "SELECT * FROM read_csv('https://example.com/x.csv')",
    ):
        result = runner.invoke(app, ["sql", query, "--lake", str(lake)])
        assert result.exit_code == 2 and "Permission Error" in result.output, (query, result.output)
    result = runner.invoke(app, ["sql", "SELECT current_setting('enable_external_access') AS e", "--lake", str(lake)])
    assert result.exit_code == 0 and "false" in result.output


def test_cli_sql_writes_bytes_as_hex_and_reads_a_lake_whose_path_has_brackets(sample_lake, tmp_path):
    lake = tmp_path / "news [2025]" / "lake"
    shutil.copytree(sample_lake[0], lake)
    result = runner.invoke(
        app, ["sql", "SELECT count(*) AS n, max(minhash) AS m FROM documents", "--lake", str(lake), "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    n, hexed = result.output.splitlines()[1].split(",")
    assert n == "13" and int(hexed, 16) > 0


def test_cli_sql_stops_at_once_on_ctrl_c(sample_lake, newslake_cli):
    lake, _ = sample_lake
    slow = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"
    process = newslake_cli(
        "sql", slow, "--lake", str(lake), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
    )
    time.sleep(5)  # the query is running
    assert process.poll() is None
    stopped = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and time.monotonic() - stopped < 5, err
    assert "query stopped" in err and "Traceback" not in err


def test_cli_report_and_catalog_refuse_to_overwrite_the_lake_or_what_is_not_a_file(sample_lake, tmp_path):
    lake, _ = sample_lake
    partition = next(lake.glob("documents/date=*/part-*.parquet"))
    before = partition.read_bytes()
    for command in ("report", "catalog"):
        inside = runner.invoke(app, [command, "--lake", str(lake), "--out", str(partition)])
        assert inside.exit_code == 2 and "inside the lake" in inside.output, inside.output
        folder = runner.invoke(app, [command, "--lake", str(lake), "--out", str(tmp_path)])
        assert folder.exit_code == 2, folder.output
    assert partition.read_bytes() == before
    made = runner.invoke(app, ["report", "--lake", str(lake), "--out", str(tmp_path / "new" / "folder" / "r.html")])
    assert made.exit_code == 0 and (tmp_path / "new" / "folder" / "r.html").is_file()


def test_cli_check_finds_a_lost_annotation_partition_after_the_next_run_rewrote_its_manifest(sample_lake, tmp_path):
    from newslake.schemas import TABLES
    from newslake.tasks.lake import Lake, read_manifest
    from newslake.tasks.lake.manifests import write_manifest

    lake = tmp_path / "lake"
    shutil.copytree(sample_lake[0], lake)
    lost = sorted(lake.glob("mentions/date=*/part-*.parquet"))[0]
    lost.unlink()
    handle = Lake.at(lake)
    held = read_manifest(handle, "mentions")
    write_manifest(  # as a later commit does
        handle, TABLES["mentions"], commit_id="later", versions=held["versions"], fingerprint=held["inputs_fingerprint"]
    )
    result = runner.invoke(app, ["check", "--lake", str(lake)])
    day = lost.parent.name.removeprefix("date=")
    assert result.exit_code == 1 and f"mentions: 3 documents of {day} have no rows" in result.output, result.output
    assert f"newslake backfill --start {day} --end {day}" in result.output


def test_cli_run_rejects_a_bad_knowledge_folder_before_any_work(tmp_path):
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "themes.csv").write_text("code,description,patterns\nnot a code,x,y\n")
    result = runner.invoke(app, ["run", "--knowledge", str(knowledge), "--lake", str(tmp_path / "lake")])
    assert result.exit_code == 2
    assert "cannot use the knowledge folder" in result.output and "needs a code" in result.output
    assert not (tmp_path / "lake").exists()
