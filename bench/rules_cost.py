"""What the tone, places, themes and dates rules add to the annotation stage: the seconds of
spaCy's parse, of the entity, quote and amount rules, and of the four newer rules, over the
same parsed BBC articles, each rule timed alone (best of --repeat rounds).

    python bench/rules_cost.py [CORPUS] [--limit 500] [--repeat 3]
"""

import argparse
import time
from pathlib import Path

from newslake.flows.parameters import default_model
from newslake.tasks.annotate import load_knowledge, load_model
from newslake.tasks.clean import decode, normalise_text, split_title

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "corpora" / "bbc"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=BBC, help="a folder of .txt articles")
    parser.add_argument("--limit", type=int, default=500, help="articles to parse")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of each timing; the best counts")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        raise SystemExit(f"{args.corpus} is not a folder of articles (the BBC corpus lives in ../shared)")

    from newslake.tasks.amounts import extract_amounts
    from newslake.tasks.dates import resolve_date
    from newslake.tasks.places import locate_places
    from newslake.tasks.quotes import extract_quotes
    from newslake.tasks.resolve import resolve_entities
    from newslake.tasks.themes import find_themes
    from newslake.tasks.tone import count_words

    paths = sorted(args.corpus.rglob("*.txt"))[: args.limit]
    texts = [normalise_text(split_title(decode(p.read_bytes()))[1]) for p in paths]
    nlp, knowledge = load_model(default_model()), load_knowledge()
    started = time.perf_counter()
    docs = list(nlp.pipe(texts, batch_size=16))
    parse = time.perf_counter() - started
    mentions = [resolve_entities(doc, lexicon=knowledge.lexicon) for doc in docs]
    rules = {
        "entities": lambda d, m: resolve_entities(d, lexicon=knowledge.lexicon),
        "quotes": lambda d, m: extract_quotes(d, m, lexicon=knowledge.lexicon),
        "amounts": lambda d, m: extract_amounts(d, knowledge.count_types),
        "tone": lambda d, m: [count_words((t.lower_ for t in s if t.is_alpha), knowledge.tone) for s in d.sents],
        "places": lambda d, m: locate_places(d.text, m, knowledge.gazetteer),
        "themes": lambda d, m: find_themes(d.text, knowledge.taxonomy),
        "dates": lambda d, m: [resolve_date(e.text, None) for e in d.ents if e.label_ == "DATE"],
    }
    seconds = {}
    for name, rule in rules.items():
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            for doc, found in zip(docs, mentions, strict=True):
                rule(doc, found)
            best = min(best, time.perf_counter() - started)
        seconds[name] = best
    older = seconds["entities"] + seconds["quotes"] + seconds["amounts"]
    newer = seconds["tone"] + seconds["places"] + seconds["themes"] + seconds["dates"]
    words = sum(len(d) for d in docs)
    print(f"{len(docs)} articles, {words:,} tokens, {default_model()}, one process")
    print(f"{'parse (nlp.pipe)':<28} {parse:8.2f} s")
    for name, value in seconds.items():
        print(f"{'rule: ' + name:<28} {value:8.3f} s")
    stage = parse + older + newer
    print(f"{'annotation stage':<28} {stage:8.2f} s  (parse and every rule)")
    print(f"tone, places, themes and dates: {newer:.3f} s = {newer / stage:.1%} of the annotation stage")


if __name__ == "__main__":
    main()
