"""Backfills, interrupted runs and concurrent runs against a real lake, with real processes."""

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from newslake import backfill, open_lake, run
from newslake.schemas import TABLES
from newslake.tasks.lake import Lake, check_lake, compact, read_table


def _files(lake) -> dict[str, bytes]:
    return {p.relative_to(lake).as_posix(): p.read_bytes() for p in lake.rglob("*.parquet")}


def _kill_when(process: subprocess.Popen, seen) -> bool:
    """SIGKILL the command and its worker processes as soon as `seen()` is true, as a crash
    would; False when it ended first. The Prefect server it started must then stop by itself."""
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if seen():
            servers = _children(process.pid, "prefect")
            assert servers, "the command's own Prefect server was not found among its children"
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            _assert_ended(servers)
            return True
        time.sleep(0.002)
    process.wait()
    return False


def _children(pid: int, word: str) -> list[int]:
    """The child processes of `pid` whose command line holds `word`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid and word in command:
            found.append(int(entry.name))
    return found


def _assert_ended(pids: list[int], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while (alive := [p for p in pids if Path(f"/proc/{p}").exists()]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, f"processes {alive} outlived the command that started them"


@pytest.fixture(scope="module")
def reference(sample, prefect_server, tmp_path_factory):
    """The lake of one uninterrupted run over the sample."""
    lake = tmp_path_factory.mktemp("reference") / "lake"
    run(inputs=[str(sample)], lake=str(lake), workers=1, batch_size=2)
    return lake


def test_lake_safety_backfill_replaces_only_its_days(reference, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(reference, lake)
    before = _files(lake)
    result = backfill(start=date(2025, 3, 20), end=date(2025, 3, 21), lake=str(lake), tables=["tokens"], workers=1)
    assert result.days == 2 and result.rows["tokens"] > 100
    after = _files(lake)
    tokens = {p for p in after if p.startswith("tokens/")}
    assert sorted(p.split("/")[1] for p in tokens) == ["date=2025-03-20", "date=2025-03-21"]  # a file each
    untouched = {p: b for p, b in after.items() if not p.startswith(("tokens/", "runs/"))}
    assert untouched == {p: b for p, b in before.items() if not p.startswith("runs/")}
    assert check_lake(Lake.at(lake)) == []
    tokenized = set(pl.from_arrow(read_table(Lake.at(lake), TABLES["tokens"]))["doc_id"])
    docs = pl.from_arrow(read_table(Lake.at(lake), TABLES["documents"])).filter(pl.col("dup_of").is_null())
    in_range = docs.filter(pl.col("date").is_between(date(2025, 3, 20), date(2025, 3, 21)))
    assert tokenized == set(in_range["doc_id"])


def test_lake_safety_backfill_of_every_table_recomputes_the_same_lake(lake_content, reference, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(reference, lake)
    result = backfill(start=date(2000, 1, 1), end=date(2100, 1, 1), lake=str(lake), workers=1)
    assert result.days == len({p.parent.name for p in (lake / "documents").glob("date=*/*.parquet")})
    assert result.rows["cooccurrence_daily"] > 0 and result.rows["speaker_daily"] > 0
    assert check_lake(Lake.at(lake)) == []
    assert lake_content(lake) == lake_content(reference)


def test_lake_safety_a_lake_built_over_two_runs_equals_the_lake_of_one_run(
    sample, lake_content, prefect_server, tmp_path
):
    # A file's id is its absolute path: both lakes read the same inbox, whose name is the source.
    inbox, two_runs, one_run = tmp_path / "sample", tmp_path / "two-runs", tmp_path / "one-run"
    inbox.mkdir()
    # Days shared by both runs get their rollups recomputed; the near-duplicate pair stays in one
    # run, in reading order, so that the first version read is the same one as in one run.
    for name in ("chip-plant.txt", "wire.jsonl", "harbour-tunnel.txt"):
        shutil.copy(sample / name, inbox / name)
    run(inputs=[str(inbox)], lake=str(two_runs), workers=1)
    shutil.copytree(sample, inbox, dirs_exist_ok=True)
    second = run(inputs=[str(inbox)], lake=str(two_runs), workers=1)
    assert second.skipped > 0 and second.new > 0
    assert check_lake(Lake.at(two_runs)) == []
    run(inputs=[str(inbox)], lake=str(one_run), workers=1)
    assert lake_content(two_runs) == lake_content(one_run)


@pytest.mark.slow
def test_lake_safety_a_lake_built_by_twenty_incremental_runs_equals_the_lake_of_one_run(
    sample, lake_content, prefect_server, tmp_path
):
    """Files arrive one at a time, in reading order (so that a duplicate meets its original
    first, as in one run); runs 16 to 20 find nothing new. The days fed by several runs hold
    several files, `runs` is merged by size tier, and a full compaction after run 8 is appended
    to again."""
    inbox, twenty, one = tmp_path / "sample", tmp_path / "twenty-runs", tmp_path / "one-run"
    everything = tmp_path / "all"
    shutil.copytree(sample, everything)
    for n, line in enumerate((everything / "wire.jsonl").read_text().splitlines()):
        (everything / f"wire-{n:02d}.jsonl").write_text(line + "\n")
    (everything / "wire.jsonl").unlink()
    arriving = sorted(p.relative_to(everything) for p in everything.rglob("*") if p.is_file())
    assert len(arriving) == 15
    inbox.mkdir()
    for k in range(20):
        if k < len(arriving):
            (inbox / arriving[k]).parent.mkdir(exist_ok=True)
            shutil.copy(everything / arriving[k], inbox / arriving[k])
        result = run(inputs=[str(inbox)], lake=str(twenty), workers=1)
        assert k < len(arriving) or result.new == result.changed == 0
        if k == 7:  # the undated articles share the day of their runs, a file a run
            lake = Lake.at(twenty)
            assert max(len(lake.partition_files("documents", day)) for day in lake.partition_days("documents")) > 1
            assert compact(lake, commit_id="compact-8", full=True).merged > 0
    lake = Lake.at(twenty)
    assert check_lake(lake) == []
    assert len(lake.partition_files("runs")) < 10  # twenty runs of one day, merged
    run(inputs=[str(inbox)], lake=str(one), workers=1)
    assert lake_content(twenty) == lake_content(one)


def _wire(path: Path, articles: list[tuple[str, str]]) -> None:
    rows = [
        {"id": f"{path.stem}-{i}", "body": body, "published_at": day, "source": "wire"}
        for i, (day, body) in enumerate(articles)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


REAGAN_IN_FULL = [
    (
        "1987-03-02",
        "President Ronald Reagan said on Monday he would veto the highway bill passed by Congress, "
        "calling it a budget buster. Ronald Reagan told reporters at the White House he had not changed his mind.",
    ),
    (
        "1987-03-03",
        "Ronald Reagan met congressional leaders at the White House on Tuesday to discuss the trade bill, "
        "aides said. The meeting lasted an hour and no agreement was reached, according to officials.",
    ),
    (
        "1987-03-04",
        "In a televised address on Wednesday night, Ronald Reagan accepted responsibility for the arms "
        "sales to Iran and said the policy had gone astray. Democrats in Congress welcomed the speech.",
    ),
    (
        "1987-03-04",
        "Nancy Reagan visited a drug treatment centre in Los Angeles on Wednesday and urged parents to "
        "talk to their children about the dangers of cocaine, her spokeswoman said in a statement.",
    ),
    (
        "1987-03-05",
        "Ronald Reagan will travel to Venice in June for the economic summit of the seven largest "
        "industrial democracies, the White House said on Thursday. Officials said trade would top the agenda.",
    ),
]
REAGAN_ALONE = [
    (
        "1987-03-09",
        "Reagan said on Monday that the United States would not retaliate against Japan for now, but "
        "White House officials warned that trade sanctions remained possible if Tokyo did not open its markets.",
    ),
]


def test_lake_safety_a_surname_met_before_its_full_name_is_relinked_by_the_later_run(
    lake_content, prefect_server, tmp_path
):
    inbox, two_runs, one_run = tmp_path / "inbox", tmp_path / "two-runs", tmp_path / "one-run"
    inbox.mkdir()
    _wire(inbox / "late.jsonl", REAGAN_ALONE)
    run(inputs=[str(inbox)], lake=str(two_runs), workers=1)
    daily = "SELECT entity_key, documents FROM entity_daily WHERE date = DATE '1987-03-09' AND label = 'PERSON'"
    assert open_lake(two_runs).sql(daily).rows() == [("person:reagan", 1)]
    _wire(inbox / "earlier.jsonl", REAGAN_IN_FULL)  # the days before it, in a later run
    run(inputs=[str(inbox)], lake=str(two_runs), workers=1)
    lake = open_lake(two_runs)
    assert lake.sql(daily).rows() == [("person:ronald reagan", 1)]
    links = lake.sql("SELECT date, entity_key, canonical_key, rule, evidence FROM entity_links").rows()
    assert links == [(date(1987, 3, 9), "person:reagan", "person:ronald reagan", "surname_in_lake", 4)]
    mentions = lake.sql("SELECT entity_key FROM mentions WHERE date = DATE '1987-03-09' AND label = 'PERSON'")
    assert mentions.rows() == [("person:reagan",)]  # annotations keep the document's own key
    assert check_lake(Lake.at(two_runs)) == []
    run(inputs=[str(inbox)], lake=str(one_run), workers=1)
    assert lake_content(two_runs) == lake_content(one_run)


def test_lake_safety_interrupted_backfill_resumes_where_it_stopped(newslake_cli, reference, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(reference, lake)
    command = ["backfill", "--start", "2025-03-01", "--end", "2026-12-31", "--lake", str(lake)]
    process = newslake_cli(*command, "--tables", "tokens", "--concurrency", "1", "--batch-size", "1")
    lines = []

    def first_day_done() -> bool:
        lines.append(process.stderr.readline())
        return "backfilled" in lines[-1]

    assert _kill_when(process, first_day_done), "".join(lines)
    assert check_lake(Lake.at(lake)) == []
    done = newslake_cli(*command, "--tables", "tokens")
    out, err = done.communicate(timeout=600)
    assert done.returncode == 0, err
    assert "already done by an earlier attempt" in out
    assert not (lake / "_backfills").exists()
    tokenized = set(pl.from_arrow(read_table(Lake.at(lake), TABLES["tokens"]))["doc_id"])
    docs = pl.from_arrow(read_table(Lake.at(lake), TABLES["documents"])).filter(pl.col("dup_of").is_null())
    assert tokenized == set(docs["doc_id"])


STAGES = {
    "annotating": "_staging/*/sentences-*.parquet",  # a batch annotated, nothing published
    "publishing": "*/date=*/.part-*.parquet.*",  # partitions being staged, no commit marker yet
    "committing": "_commits/*.json",  # the marker written, renames under way
}


@pytest.mark.parametrize("moment", list(STAGES))
def test_lake_safety_a_killed_run_leaves_a_sound_lake_and_the_next_run_finishes_it(
    sample, newslake_cli, lake_content, reference, tmp_path, moment
):
    lake = tmp_path / "lake"
    process = newslake_cli("run", str(sample), "--lake", str(lake), "--workers", "1", "--batch-size", "2")
    _kill_when(process, lambda: any(lake.glob(STAGES[moment])))
    problems = check_lake(Lake.at(lake))
    if moment == "committing" and problems:  # killed between the marker and the last rename
        assert problems[0].startswith("commit ") and problems[0].endswith("is not finished: the next run completes it")
    else:
        assert problems == []
    finished = newslake_cli("run", str(sample), "--lake", str(lake), "--workers", "1")
    _, err = finished.communicate(timeout=600)
    assert finished.returncode == 0, err
    assert check_lake(Lake.at(lake)) == []
    assert lake_content(lake) == lake_content(reference)


def test_lake_safety_a_second_run_on_a_busy_lake_is_refused(sample, newslake_cli, prefect_server, tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    for copy in range(3):  # enough work for the first run to still hold the lake when the second starts
        shutil.copytree(sample, inbox / f"copy{copy}")
    first = newslake_cli("run", str(inbox), "--lake", str(lake), "--workers", "1", "--batch-size", "1")
    deadline = time.monotonic() + 120
    while not (lake / "_lock").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    second = newslake_cli("run", str(inbox), "--lake", str(lake), "--workers", "1")
    _, refused = second.communicate(timeout=600)
    _, first_err = first.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert second.returncode == 3 and "is in use by run" in refused, refused
    assert check_lake(Lake.at(lake)) == []
    assert read_table(Lake.at(lake), TABLES["runs"]).num_rows == 1


def test_lake_safety_ctrl_c_stops_a_run_at_once_and_the_next_run_finishes_it(
    sample, newslake_cli, lake_content, reference, tmp_path
):
    """Ctrl-C in a terminal reaches the command's whole process group, its workers included."""
    lake = tmp_path / "lake"
    process = newslake_cli(
        "run",
        str(sample),
        "--lake",
        str(lake),
        "--workers",
        "2",
        "--batch-size",
        "1",
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 300
    while not any(lake.glob(STAGES["annotating"])) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    children = _children(process.pid, "python")
    stopped = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and time.monotonic() - stopped < 15, err
    assert err.splitlines()[-1].startswith("newslake: stopped; "), err
    for noise in ("Traceback", "ERROR", "WARNING", "KeyboardInterrupt"):
        assert noise not in err, err
    _assert_ended(children)
    assert check_lake(Lake.at(lake)) == []
    finished = newslake_cli("run", str(sample), "--lake", str(lake), "--workers", "1")
    _, err = finished.communicate(timeout=600)
    assert finished.returncode == 0, err
    assert lake_content(lake) == lake_content(reference)


def test_lake_safety_a_backfill_gives_an_older_lake_the_tables_of_a_newer_version(lake_content, reference, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(reference, lake)
    for table in ("tone", "locations", "themes", "dates", "location_daily", "theme_daily"):  # schema version 5's
        shutil.rmtree(lake / table)
    assert check_lake(Lake.at(lake)) == []  # an older lake is sound without them
    backfill(start=date(2000, 1, 1), end=date.today(), lake=str(lake), workers=1)
    assert check_lake(Lake.at(lake)) == []
    assert lake_content(lake) == lake_content(reference)
