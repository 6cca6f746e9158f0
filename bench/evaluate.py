"""Precision and recall of newslake's entities, quotes and amounts against hand-made gold files
(the format of ../shared/seed/gold.json; see newslake.tasks.evaluate for how each is scored).
The document a gold file names is looked for beside it, then in ../shared and ../shared/corpora.

    python bench/evaluate.py                                  # the seed and every tests/gold file
    python bench/evaluate.py my-gold/*.json --textacy         # also textacy's direct_quotations
"""

import argparse
from pathlib import Path

from newslake.tasks.evaluate import Score, evaluate, evaluate_textacy

ROOT = Path(__file__).resolve().parent.parent
SEARCH = [ROOT.parent / "shared", ROOT.parent / "shared" / "corpora"]
GOLD = [ROOT.parent / "shared" / "seed" / "gold.json", *sorted((ROOT / "tests" / "gold").glob("*.json"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gold", nargs="*", type=Path, help="gold files [default: the seed and tests/gold/*.json]")
    parser.add_argument("--textacy", action="store_true", help="also score textacy's direct_quotations")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    args = parser.parse_args()

    from newslake.flows.parameters import default_model
    from newslake.tasks.annotate import load_knowledge, load_model

    paths = args.gold or [p for p in GOLD if p.exists()]
    nlp, knowledge = load_model(default_model()), load_knowledge()
    totals: dict[str, Score] = {}
    print(f"{'gold file':<34} {'what':<16} {'P':>6} {'R':>6}  right/predicted/gold")
    for path in paths:
        scores = evaluate(path, nlp=nlp, knowledge=knowledge, search=SEARCH)
        if args.textacy:
            scores["quotes (textacy)"] = evaluate_textacy(
                path, nlp=load_model(default_model(), tokens=True), search=SEARCH
            )
        for what, score in scores.items():
            totals[what] = totals.get(what, Score()) + score
            _line(path.name, what, score)
            for miss in score.misses if args.misses else ():
                print(f"    {miss}")
    for what, score in totals.items():
        _line(f"all ({len(paths)} files)", what, score)


def _line(name: str, what: str, score: Score) -> None:
    print(
        f"{name:<34} {what:<16} {score.precision:6.2f} {score.recall:6.2f}"
        f"  {score.correct}/{score.predicted}/{score.gold}"
    )


if __name__ == "__main__":
    main()
