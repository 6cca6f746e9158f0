"""The lake: its layout, how it is written (staged partitions, commits, compaction, recovery, the
lock), described (manifests), verified (`check_lake`) and read (DuckDB views, Polars scans), on a
local disk or an object store. No other code knows where anything lives in a lake.

Each name is imported from its module on first use, so that a query (`newslake sql`) does not
pay for the modules that write and check a lake.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from newslake.tasks.lake.backfills import BackfillProgress
    from newslake.tasks.lake.check import check_lake
    from newslake.tasks.lake.commits import commit, recover
    from newslake.tasks.lake.compaction import Compacted, compact
    from newslake.tasks.lake.keys import read_keys
    from newslake.tasks.lake.layout import PART_GLOB, Batch, Lake, LakeUnreachable, Staging
    from newslake.tasks.lake.lock import LakeBusy, lake_lock
    from newslake.tasks.lake.manifests import lake_tables, read_manifest
    from newslake.tasks.lake.partitions import locate, read_days, read_partition, read_table, stage_rows

__all__ = [
    "PART_GLOB",
    "BackfillProgress",
    "Batch",
    "Compacted",
    "Lake",
    "LakeBusy",
    "LakeUnreachable",
    "Staging",
    "check_lake",
    "commit",
    "compact",
    "lake_lock",
    "lake_tables",
    "locate",
    "read_days",
    "read_keys",
    "read_manifest",
    "read_partition",
    "read_table",
    "recover",
    "stage_rows",
]
# Each name's module, as imported above for type checkers.
_MODULES = {
    "backfills": ("BackfillProgress",),
    "check": ("check_lake",),
    "commits": ("commit", "recover"),
    "compaction": ("Compacted", "compact"),
    "keys": ("read_keys",),
    "layout": ("PART_GLOB", "Batch", "Lake", "LakeUnreachable", "Staging"),
    "lock": ("LakeBusy", "lake_lock"),
    "manifests": ("lake_tables", "read_manifest"),
    "partitions": ("locate", "read_days", "read_partition", "read_table", "stage_rows"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOME[name]}"), name)
