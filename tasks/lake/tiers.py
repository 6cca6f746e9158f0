"""Which small files to merge: size tiers, for a table's partitions and the key index alike.

Files whose row counts have the same order of magnitude (a power of `FANOUT`) form a tier, and
a tier is merged into one file once it holds `FANOUT` files. Each row is then rewritten about
once per tier it climbs (a day fed by 96 runs of 1,000 articles: each row about twice), and a
partition keeps fewer than `FANOUT` files a tier.
"""

FANOUT = 10


def merges(rows: dict[str, int], *, fanout: int = FANOUT) -> list[list[str]]:
    """Groups of files (named, with their rows) to merge: each tier that holds `fanout` files or
    more, smallest files first."""
    tiers: dict[int, list[str]] = {}
    for name, n in sorted(rows.items(), key=lambda item: (item[1], item[0])):
        tiers.setdefault(_tier(n, fanout), []).append(name)
    return [names for _, names in sorted(tiers.items()) if len(names) >= fanout]


def _tier(rows: int, fanout: int) -> int:
    """The power of `fanout` below `rows` (0 for fewer than `fanout` rows)."""
    tier = 0
    while rows >= fanout:
        rows, tier = rows // fanout, tier + 1
    return tier
