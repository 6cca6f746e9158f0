"""Article text from web pages: newslake's extraction against the human-marked article text of
L3S-GN1 (621 news pages, ../shared/corpora/l3s_gn1), side by side with plain
`trafilatura.extract(html)`, scored as article-extraction benchmarks do: precision, recall and
F1 of the word 4-grams (shingles) of the extracted text against the marked text, per page, then
averaged (a page with no text extracted scores 0).

    python bench/extraction.py [CORPUS] [--limit N]
"""

import argparse
import re
import statistics
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
L3S = ROOT.parent / "shared" / "corpora" / "l3s_gn1"
ARTICLE = "x-nc-sel2"  # the class L3S-GN1 marks article text with (x-nc-sel1: the headline)


def shingles(text: str, n: int = 4) -> Counter:
    words = re.findall(r"\w+", text.casefold())
    return Counter(tuple(words[i : i + n]) for i in range(max(0, len(words) - n + 1)))


def score(predicted: str | None, gold: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of the predicted text's shingles against the gold text's."""
    found, wanted = shingles(predicted or ""), shingles(gold)
    common = sum((found & wanted).values())
    precision = common / sum(found.values()) if found else 0.0
    recall = common / sum(wanted.values()) if wanted else 0.0
    return precision, recall, 2 * precision * recall / (precision + recall) if common else 0.0


def marked_text(annotated: bytes) -> str:
    """The text of the elements L3S-GN1's annotators marked as the article (outermost ones)."""
    from lxml import html

    tree = html.fromstring(annotated)
    marked = tree.xpath(f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {ARTICLE} ')]")
    outermost = [e for e in marked if not any(a in marked for a in e.iterancestors())]
    return "\n".join(e.text_content() for e in outermost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=L3S, help="the L3S-GN1 folder")
    parser.add_argument("--limit", type=int, default=None, help="pages to score (default: all)")
    args = parser.parse_args()
    if not (args.corpus / "original").is_dir():
        raise SystemExit(f"{args.corpus} has no original/ pages (L3S-GN1 lives in ../shared/corpora)")

    import logging

    import trafilatura

    from newslake.tasks.clean import extract_html, normalise_text

    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)  # plain extract's page by page notices

    def by_newslake(page: bytes) -> str | None:
        found = extract_html(page)
        return normalise_text(found["text"]) if found else None

    extractors = {"newslake": by_newslake, "trafilatura.extract": lambda page: trafilatura.extract(page)}
    pages = sorted((args.corpus / "original").glob("*.html"))[: args.limit]
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in extractors}
    seconds = dict.fromkeys(extractors, 0.0)
    empty = dict.fromkeys(extractors, 0)
    for path in pages:
        gold = marked_text((args.corpus / "annotated" / path.name).read_bytes())
        if not shingles(gold):
            continue
        page = path.read_bytes()
        for name, extract in extractors.items():
            started = time.perf_counter()
            text = extract(page)
            seconds[name] += time.perf_counter() - started
            empty[name] += not text
            results[name].append(score(text, gold))
    print(f"{len(results['newslake'])} pages with marked article text")
    print(f"{'extractor':<22} {'P':>6} {'R':>6} {'F1':>6}  no text  seconds")
    for name, scores in results.items():
        p, r, f = (statistics.mean(s[i] for s in scores) for i in range(3))
        print(f"{name:<22} {p:6.3f} {r:6.3f} {f:6.3f}  {empty[name]:7d}  {seconds[name]:7.1f}")


if __name__ == "__main__":
    main()
