"""Throughput and memory of `newslake run` against spaCy's own limit on the same work.

Runs, in one sitting on one corpus (default ../shared/corpora/bbc):
  (a) `newslake run` into a fresh lake, cold start included;
  (b) a plain spaCy script: the same model and components, `nlp.pipe` with the same number of
      processes over the same cleaned, deduplicated texts, doing nothing with the results,
      and (b') the same with the attribute ruler and the lemmatizer, which newslake runs only
      for `--tokens`;
  (c) a naive baseline: one process, default batch size, every component;
  (d) `newslake run` again on the unchanged input.
(a) and (b) run --repeat times (default 2), alternately, and (d) as often after them: each
counts with its fastest time and its highest peak, since a shared machine's noise only ever
slows a run down.
Prints words per second, the ratios (a)/(b) and (a)/(c), and the peak RSS of each process tree.
With --scale N it also runs (a) on N perturbed copies of the corpus and compares peak RSS.

    python bench/throughput.py [CORPUS] [--workers N] [--repeat 2] [--scale 10]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from newslake.flows.parameters import RunParameters, default_model
from newslake.tasks.annotate import PIPE_BATCH_SIZE, excluded_components
from newslake.tasks.clean import clean, mark_duplicates
from newslake.tasks.ingest import discover, parse_file, to_raw_table

ROOT = Path(__file__).resolve().parent.parent
PLAIN_SPACY = """
import json, sys, spacy
model, workers, exclude, batch_size, path = sys.argv[1:6]
texts = [json.loads(line) for line in open(path)]
nlp = spacy.load(model, exclude=json.loads(exclude))
kwargs = {} if batch_size == "default" else {"batch_size": int(batch_size)}
for _ in nlp.pipe(texts, n_process=int(workers), **kwargs):
    pass
"""


def tree_rss(pid: int) -> dict[str, int]:
    """Resident memory of a process and each of its descendants, in bytes, by a name that says
    what the process is (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = {}, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        try:
            status = Path(f"/proc/{current}/status").read_text()
            command = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if current == pid:
            name = "main"
        elif "server start" in command:
            name = "prefect server"
        else:
            # Workers forked from the fork server keep its command line, but not its parent.
            forkserver = "multiprocessing.forkserver" in command and current in children.get(pid, [])
            name = "fork server" if forkserver else "worker"
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                found[f"{name} {current}"] = int(line.split()[1]) * 1024
    return found


@dataclass
class Measured:
    seconds: float
    peak: int  # bytes, the whole process tree
    at_peak: dict[str, int]  # bytes per process at that moment

    def breakdown(self) -> str:
        named = sorted(((name.rsplit(" ", 1)[0], rss) for name, rss in self.at_peak.items()), key=lambda p: -p[1])
        return ", ".join(f"{name} {rss / 2**30:.2f}" for name, rss in named if rss > 2**26)


def best(runs: list[Measured]) -> Measured:
    """Repeated runs of one command as one figure: the fastest time and the highest peak."""
    highest = max(runs, key=lambda m: m.peak)
    return Measured(min(m.seconds for m in runs), highest.peak, highest.at_peak)


def measure(command: list[str], env: dict | None = None) -> Measured:
    """Wall seconds and peak process-tree RSS of a command, which must succeed."""
    result = Measured(0.0, 0, {})
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while process.poll() is None:
            found = tree_rss(process.pid)
            if sum(found.values()) > result.peak:
                result.peak, result.at_peak = sum(found.values()), found
            time.sleep(0.2)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, err = process.communicate()
    result.seconds = time.perf_counter() - started
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{err[-3000:]}")
    return result


def cleaned_texts(corpus: Path) -> list[str]:
    """The texts newslake annotates: cleaned, English, not duplicates."""
    run = RunParameters(inputs=[str(corpus)])  # a run's defaults
    files, _ = discover([str(corpus)])
    records = []
    for file in files:
        records.extend(parse_file(file, file.path.read_bytes(), max_bytes=run.max_file_bytes)[0])
    limits = {"languages": run.kept_languages, "min_words": run.min_words, "max_chars": run.max_chars}
    docs = clean(to_raw_table(records), run_id="bench", ingested_at=datetime.now(UTC), **limits).documents
    docs, _ = mark_duplicates(docs, first_seen={})
    return [
        t for t, d in zip(docs.column("text").to_pylist(), docs.column("dup_of").to_pylist(), strict=True) if d is None
    ]


def plain_spacy(model: str, texts: Path, workers: int, exclude: list[str], batch_size: str) -> Measured:
    """Seconds and peak RSS of `nlp.pipe` over the texts (a JSON string per line), results discarded."""
    script = [sys.executable, "-c", PLAIN_SPACY, model, str(workers), json.dumps(exclude), batch_size]
    return measure([*script, str(texts)])


def newslake(corpus: Path, lake: Path, workers: int) -> Measured:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    command = [
        sys.executable,
        "-m",
        "newslake.flows.cli",
        "run",
        str(corpus),
        "--lake",
        str(lake),
        "--workers",
        str(workers),
    ]
    return measure(command, env)


def last_run_stages(lake: Path) -> dict[str, float]:
    """Seconds per stage of the lake's latest run, as its `runs` row records them."""
    runs = pl.read_parquet(lake / "runs" / "**" / "*.parquet").sort("started_at")
    return dict(runs.row(-1, named=True)["seconds"])


def perturbed_copies(corpus: Path, target: Path, copies: int) -> None:
    """`copies` copies of the corpus with new paths (so new ids) and two words changed per file."""
    rng = random.Random(7)
    for n in range(copies):
        for path in sorted(corpus.rglob("*.txt")):
            text = path.read_bytes().decode("utf-8", errors="replace")
            words = text.split(" ")
            for _ in range(2):
                words[rng.randrange(len(words))] = rng.choice(["indeed", "also", "still", "now"])
            out = target / f"copy{n:02d}" / path.relative_to(corpus)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(" ".join(words))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpora" / "bbc"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=2, help="runs of (a) and (b), alternately, then of (d)")
    parser.add_argument("--scale", type=int, default=0, help="also run on this many perturbed copies")
    parser.add_argument("--skip-naive", action="store_true", help="leave out the naive baseline (c)")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        raise SystemExit(f"corpus not found: {corpus}")
    model = default_model()
    texts = cleaned_texts(corpus)
    words = sum(len(t.split()) for t in texts)
    print(f"corpus {corpus}: {len(texts)} unique documents, {words:,} words; model {model}; {args.workers} workers")
    results: dict[str, Measured] = {}
    stage_seconds: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.jsonl"
        texts_path.write_text("".join(json.dumps(t) + "\n" for t in texts))
        lake = Path(tmp) / "lake"
        same_batch = str(PIPE_BATCH_SIZE)
        runs: dict[str, list[Measured]] = {"(a)": [], "(b)": []}
        for _ in range(args.repeat):
            shutil.rmtree(lake, ignore_errors=True)
            runs["(a)"].append(newslake(corpus, lake, args.workers))
            if runs["(a)"][-1].seconds == min(m.seconds for m in runs["(a)"]):
                stage_seconds["(a)"] = last_run_stages(lake)
            runs["(b)"].append(
                plain_spacy(model, texts_path, args.workers, excluded_components(tokens=False), same_batch)
            )
        results["(a) newslake run"] = best(runs["(a)"])
        results["(b) plain spaCy, same work"] = best(runs["(b)"])
        results["(b') plain spaCy with --tokens' components"] = plain_spacy(
            model, texts_path, args.workers, excluded_components(tokens=True), same_batch
        )
        if not args.skip_naive:
            results["(c) naive: 1 process, all components"] = plain_spacy(model, texts_path, 1, [], "default")
        runs["(d)"] = [newslake(corpus, lake, args.workers) for _ in range(args.repeat)]
        results["(d) newslake run again, unchanged input"] = best(runs["(d)"])
        if args.scale:
            scaled = Path(tmp) / f"x{args.scale}"
            perturbed_copies(corpus, scaled, args.scale)
            shutil.rmtree(lake)
            results[f"(e) newslake run on {args.scale}x the corpus"] = newslake(scaled, lake, args.workers)
            stage_seconds["(e)"] = last_run_stages(lake)
    print(f"{'':45} {'seconds':>8} {'words/s':>9} {'peak RSS':>9}  at the peak, GB per process")
    for name, m in results.items():
        rate = "" if name.startswith(("(d)", "(e)")) else f"{words / m.seconds:9,.0f}"
        print(f"{name:45} {m.seconds:8.1f} {rate:>9} {m.peak / 2**30:8.2f}G  {m.breakdown()}")
    for name, repeated in runs.items():
        print(f"{name}: seconds of each run, in order: " + ", ".join(f"{m.seconds:.1f}" for m in repeated))
    for name, stages in stage_seconds.items():
        print(f"{name}: seconds per stage " + ", ".join(f"{stage} {s:.1f}" for stage, s in stages.items()))
    seconds = {name.split(" ", 1)[0]: m.seconds for name, m in results.items()}
    a, b = seconds["(a)"], seconds["(b)"]
    print(f"throughput (a)/(b): {b / a:.2f} of plain spaCy")
    token_rows = seconds["(b')"]
    print(f"the components run only for --tokens make plain spaCy {token_rows / b - 1:.0%} slower")
    if "(c)" in seconds:
        print(f"throughput (a)/(c): {seconds['(c)'] / a:.2f}x the naive baseline")
    print(f"re-run (d)/(a): {seconds['(d)'] / a:.1%} of the first run's time")
    if args.scale:
        scaled_rss = results[f"(e) newslake run on {args.scale}x the corpus"].peak
        print(f"peak RSS {args.scale}x/1x: {scaled_rss / results['(a) newslake run'].peak:.2f}")


if __name__ == "__main__":
    main()
