"""How the cost of a run, a query and a check grows with the lake (lakes built without annotating).

Annotates, once, a seed of --seed articles of the corpus (default ../shared/corpora/bbc) into a
seed lake; then, for each N of --sizes, builds a lake of N documents from the seed's rows,
cloned under new ids, hashes and days (--per-day documents a day, ending yesterday), through
the lake's own staging, rollups and commits, and measures in it, in one sitting:
  (1) `newslake run` of the same 50 new articles (another slice of the corpus): time, peak RSS;
  (2) `newslake run` over them again: nothing new;
  (3) a tick of `newslake serve` over them: nothing new (the flow run's own time, as `runs`
      records it; the scheduler starts each run in a process of its own before that);
  (4) `newslake sql` of a simple aggregate, and the same query in plain DuckDB over the files;
  (5) `newslake check`.
Once, on its own lake: (6) one day receiving 96 commits of --commit-size cloned documents,
with their annotations and rollups, each followed by the compaction a run does: the bytes the
process wrote (its `wchar`) against the size of the lake at the end.

    python bench/growth.py [CORPUS] [--sizes 0 10000 100000] [--per-day 2000] [--commit-size 1000]
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
from throughput import measure

from newslake.schemas import ANNOTATION_TABLES, ROLLUP_TABLES, TABLES
from newslake.tasks.aggregate import rollup_days
from newslake.tasks.lake import Lake, commit, compact, read_table, stage_rows

QUERY = "SELECT label, count(*) AS n FROM mentions GROUP BY label ORDER BY n DESC"
# Columns that name a document or a record, made unique in each clone.
IDENTITIES = ("doc_id", "dup_of", "story_id", "raw_hash", "content_hash", "external_id", "origin")
CLONED = ("documents", *ANNOTATION_TABLES)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "newslake.flows.cli", *args]


def env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}


def seed_rows(seed: Path) -> dict[str, pl.DataFrame]:
    """The seed lake's rows of documents and every annotation table, without their day."""
    lake = Lake.at(seed)
    return {name: pl.from_arrow(read_table(lake, TABLES[name])).drop("date") for name in CLONED}


def clone(rows: dict[str, pl.DataFrame], copy: int, day: date, *, own_text: bool = False) -> dict[str, pl.DataFrame]:
    """The seed's rows as copy number `copy`, dated `day`: every identity gets a suffix; with
    `own_text`, each document's words in an order of the copy's own, so that its text
    compresses like another article's and not like a copy of the seed's."""
    suffix = f"~{copy}"
    out = {}
    for name, frame in rows.items():
        renamed = [pl.col(c) + suffix for c in IDENTITIES if c in frame.columns]
        if own_text and name == "documents":
            renamed.append(pl.col("text").map_elements(lambda text: _shuffled(text, copy), return_dtype=pl.String))
        out[name] = frame.with_columns(*renamed, pl.lit(day).alias("date"))
    return out


def _shuffled(text: str, seed: int) -> str:
    words = text.split(" ")
    random.Random(seed * 7919 + len(text)).shuffle(words)
    return " ".join(words)


def stage_clones(lake: Lake, rows: dict[str, pl.DataFrame], copies: list[tuple[int, date]], commit_id: str) -> None:
    """Stage the clones of the seed for the given (copy, day) pairs, with their rollups, and commit."""
    made = [clone(rows, copy, day) for copy, day in copies]
    for name in CLONED:
        stage_rows(lake, TABLES[name], pl.concat([m[name] for m in made]).to_arrow(), commit_id=commit_id)
    rollup_days.fn(lake=lake, days=sorted({day for _, day in copies}), commit_id=commit_id)
    commit(lake, commit_id, versions={"newslake": "growth-bench"})


def build(lake: Lake, rows: dict[str, pl.DataFrame], n: int, per_day: int) -> None:
    """A lake of about `n` documents: copies of the seed, `per_day` documents a day, ending yesterday."""
    seed_size = rows["documents"].height
    copies = n // seed_size
    per_day_copies = max(1, per_day // seed_size)
    yesterday = date.today() - timedelta(days=1)
    plan = [(c, yesterday - timedelta(days=c // per_day_copies)) for c in range(copies)]
    lake.make()
    step = per_day_copies * 20  # twenty days a commit
    for start in range(0, len(plan), step):
        stage_clones(lake, rows, plan[start : start + step], commit_id=f"build-{start:08d}")
        print(f"  built {min(start + step, len(plan)) * seed_size:,} of {n:,} documents", end="\r", flush=True)
    print()


def sql_seconds(location: Path) -> tuple[float, float]:
    """`newslake sql` of QUERY, and the same query in plain DuckDB over the same files."""
    newslake = measure(cli("sql", QUERY, "--lake", str(location)), env()).seconds
    scan = f"read_parquet('{location}/mentions/**/*.parquet', hive_partitioning = true)"
    plain_query = QUERY.replace("FROM mentions", f"FROM {scan}")
    script = f"import duckdb; duckdb.sql({plain_query!r}).fetchall()"
    plain = measure([sys.executable, "-c", script]).seconds
    return newslake, plain


def serve_tick_seconds(location: Path, inbox: Path) -> float:
    """The second flow run of `newslake serve --interval 5` over an inbox the lake holds already,
    from its row in `runs` (the first may wait for the scheduler)."""
    lake = Lake.at(location)

    def ticks() -> list[dict]:
        runs = pl.from_arrow(read_table(lake, TABLES["runs"], ["run_id", "kind", "started_at", "finished_at"]))
        return runs.sort("started_at").to_dicts()

    before = len(ticks())
    args = cli("serve", "--inbox", str(inbox), "--interval", "5", "--lake", str(location))
    process = subprocess.Popen(args, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while len(ticks()) < before + 2 and time.monotonic() < deadline:
            time.sleep(1)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    found = ticks()
    if len(found) < before + 2:
        raise RuntimeError("newslake serve ran fewer than two ticks in 300 s")
    tick = found[before + 1]
    return (tick["finished_at"] - tick["started_at"]).total_seconds()


def written_bytes() -> int:
    """What this process has written so far, by its `write` calls (Linux)."""
    line = next(x for x in Path("/proc/self/io").read_text().splitlines() if x.startswith("wchar:"))
    return int(line.split()[1])


def one_day_of_commits(rows: dict[str, pl.DataFrame], commits: int, size: int, folder: Path) -> tuple[dict, dict, int]:
    """Bytes written by `commits` commits of `size` cloned documents each into one day, each
    followed by a run's compaction, by step (the tables' new files, the rollups, the commits'
    key index and manifests, the compactions); the lake's bytes at the end by kind; the files
    of the day's documents. The clones' texts are their own (see `clone`): copies of the seed's
    would compress the more the more of them a file holds, and make every merge look cheap."""
    lake = Lake.at(folder)
    lake.make()
    per_commit = max(1, size // rows["documents"].height)
    day = date.today()
    written = dict.fromkeys(("tables", "rollups", "commits", "compactions"), 0)

    def step(name: str, since: int) -> int:
        written[name] += written_bytes() - since
        return written_bytes()

    for k in range(commits):
        commit_id = f"day-{k:03d}"
        made = [clone(rows, k * per_commit + c, day, own_text=True) for c in range(per_commit)]
        since = written_bytes()
        for name in CLONED:
            stage_rows(lake, TABLES[name], pl.concat([m[name] for m in made]).to_arrow(), commit_id=commit_id)
        since = step("tables", since)
        rollup_days.fn(lake=lake, days=[day], commit_id=commit_id)
        since = step("rollups", since)
        commit(lake, commit_id, versions={"newslake": "growth-bench"})
        since = step("commits", since)
        compact(lake, commit_id=f"{commit_id}-compact", days=[day])
        step("compactions", since)
        print(f"  {k + 1} of {commits} commits into one day", end="\r", flush=True)
    print()
    final = dict.fromkeys(("tables", "rollups", "key index and manifests"), 0)
    for path in (p for p in folder.rglob("*") if p.is_file()):
        top = path.relative_to(folder).parts[0]
        kind = "rollups" if top in ROLLUP_TABLES else "tables" if path.suffix == ".parquet" and top != "_keys" else None
        final[kind or "key index and manifests"] += path.stat().st_size
    return written, final, len(lake.partition_files("documents", day))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(Path(__file__).parents[1] / "../shared/corpora/bbc"))
    parser.add_argument("--sizes", nargs="+", type=int, default=[0, 10_000, 100_000])
    parser.add_argument("--seed", type=int, default=200, help="articles annotated for the seed lake")
    parser.add_argument("--per-day", type=int, default=2000, help="documents a day in the built lakes")
    parser.add_argument("--commits", type=int, default=96, help="commits into one day for (6)")
    parser.add_argument("--commit-size", type=int, default=1000, help="documents a commit for (6)")
    args = parser.parse_args()
    corpus = Path(args.corpus).resolve()
    articles = sorted(corpus.rglob("*.txt"))
    work = Path(tempfile.mkdtemp(prefix="growth-"))
    try:
        seed_in, new_in = work / "seed", work / "new"
        for folder, picked in ((seed_in, articles[: args.seed]), (new_in, articles[args.seed : args.seed + 50])):
            for path in picked:
                target = folder / path.relative_to(corpus)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(path, target)
        print(f"seed: annotating {args.seed} articles of {corpus}")
        measure(cli("run", str(seed_in), "--lake", str(work / "seed-lake")), env())
        rows = seed_rows(work / "seed-lake")
        print(f"seed lake: {rows['documents'].height} documents")
        results = []
        for n in args.sizes:
            location = work / f"lake-{n}"
            started = time.perf_counter()
            build(Lake.at(location), rows, n, args.per_day)
            built = time.perf_counter() - started
            new = measure(cli("run", str(new_in), "--lake", str(location)), env())
            again = measure(cli("run", str(new_in), "--lake", str(location)), env())
            tick = serve_tick_seconds(location, new_in)
            sql, plain = sql_seconds(location)
            check = measure(cli("check", "--lake", str(location)), env())
            size = sum(p.stat().st_size for p in location.rglob("*.parquet"))
            results.append((n, built, new, again, tick, sql, plain, check, size))
            print(f"N={n:,}: built in {built:.0f} s, {size / 1e6:,.0f} MB; measured")
            shutil.rmtree(location)
        print()
        print(f"{'N':>9} {'50 new s':>9} {'peak':>7} {'nothing new s':>14} {'peak':>7} {'tick s':>7} {'sql s':>6}"
              f" {'DuckDB s':>9} {'check s':>8} {'lake MB':>8}")  # fmt: skip
        base = results[0][2].seconds
        for n, _, new, again, tick, sql, plain, check, size in results:
            print(
                f"{n:>9,} {new.seconds:>9.1f} {new.peak / 1e9:>6.2f}G {again.seconds:>14.1f} {again.peak / 1e9:>6.2f}G"
                f" {tick:>7.2f} {sql:>6.2f} {plain:>9.2f} {check.seconds:>8.1f} {size / 1e6:>8,.0f}"
            )
        for n, _, new, again, _, sql, plain, _, _ in results:
            print(
                f"N={n:,}: 50 new articles {new.seconds / base:.2f}x the empty lake's; nothing new"
                f" {again.seconds - results[0][3].seconds:+.1f} s; sql {sql / plain:.1f}x DuckDB"
            )
        written, final, files = one_day_of_commits(rows, args.commits, args.commit_size, work / "one-day")
        total, size = sum(written.values()), sum(final.values())
        print(
            f"{args.commits} commits of {args.commit_size:,} documents into one day: {total / 1e6:,.0f} MB written"
            f" for a lake of {size / 1e6:,.0f} MB at the end ({total / size:.1f}x); documents in {files} files"
        )
        print("  written: " + ", ".join(f"{name} {n / 1e6:,.1f} MB" for name, n in written.items()))
        print("  at the end: " + ", ".join(f"{name} {n / 1e6:,.1f} MB" for name, n in final.items()))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
