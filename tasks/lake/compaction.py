"""Compaction: merging the small files that appends leave in a partition, as a commit.

Every commit adds a file to each day it writes, so a day fed by many runs holds many files.
Each run merges the files of the days it wrote by size tier (`tiers`); `newslake compact`
merges each partition into one file. A compaction is a commit: each file appears or goes whole.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from newslake.schemas import TABLES, Table
from newslake.tasks.lake.commits import commit
from newslake.tasks.lake.layout import Lake, new_file
from newslake.tasks.lake.manifests import read_manifest
from newslake.tasks.lake.partitions import stage_merge
from newslake.tasks.lake.storage import AnyPath
from newslake.tasks.lake.tiers import FANOUT, merges


@dataclass(frozen=True)
class Compacted:
    """What a compaction did: files merged, into how many, over how many partitions."""

    merged: int
    written: int
    partitions: int

    def summary(self) -> str:
        if not self.merged:
            return "compact: nothing to merge"
        return f"compact: {self.merged} files merged into {self.written} in {self.partitions} partitions"


def compact(
    lake: Lake, *, commit_id: str, days: Iterable[date] | None = None, full: bool = False, fanout: int = FANOUT
) -> Compacted:
    """Merge the files of each partition (of `days`, or all) that the size tiers call for, or
    with `full` every partition's files into one; as one commit. Call it holding the lake's lock."""
    wanted = set(days) if days is not None else None
    lake.staging(commit_id).mark_staged()
    merged = written = partitions = 0
    for table in TABLES.values():
        if table.replace_by is None:
            continue  # a rollup's partition is one file
        for folder, files in _partitions(lake, table, wanted).items():
            groups = [list(files)] if full and len(files) > 1 else merges(files, fanout=fanout)
            groups = [g for g in groups if all((folder / name).exists() for name in g)]  # else: see `check`
            for n, group in enumerate(groups):
                stage_merge(table, [folder / name for name in group], new_file(folder, commit_id, n), commit_id)
                merged, written = merged + len(group), written + 1
            partitions += bool(groups)
    if merged:
        commit(lake, commit_id, versions={}, compaction=True)
    else:
        lake.staging(commit_id).unmark_staged()
    return Compacted(merged, written, partitions)


def _partitions(lake: Lake, table: Table, days: set[date] | None) -> dict[AnyPath, dict[str, int]]:
    """Each partition folder of a table (of `days`) with its files' rows, from the manifest (none
    while the manifest is unreadable: `check` names it, and the table's next commit rewrites it)."""
    try:
        manifest = read_manifest(lake, table.name)
    except ValueError:
        return {}
    by_day: dict[str, dict[str, int]] = {}
    for relative, rows in (manifest or {}).get("files", {}).items():
        folder, name = relative.split("/")
        by_day.setdefault(folder, {})[name] = rows
    wanted = None if days is None else {f"date={day.isoformat()}" for day in days}
    return {
        lake.table_dir(table.name) / folder: files
        for folder, files in by_day.items()
        if wanted is None or folder in wanted
    }
