"""The lake: its layout, how it is written (staged partitions, commits, recovery, the lock),
described (manifests), verified (`check_lake`) and read (DuckDB views, Polars scans), on a local
disk or an object store. No other code knows where anything lives in a lake."""

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
