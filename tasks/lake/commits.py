"""Commits: how staged partitions become visible at once, and how a stopped commit is finished.

A run stages each new partition file beside the live one under a hidden name, then writes a
durable commit marker and renames the staged files into place: a reader sees every partition
whole, and a run stopped at any point leaves either the old lake or a marked commit that
`recover` finishes. On object storage, where a rename is a copy, the design holds as it is:
every partition is one object, written whole by one upload (staged) and one server-side copy
(committed), so a reader sees either its old or its new version.
"""

import json

from newslake.schemas import TABLES
from newslake.tasks.lake.keys import rebuild_keys, update_keys
from newslake.tasks.lake.layout import PART_FILE, Lake, partition_day, relative_name, staged_files
from newslake.tasks.lake.manifests import inputs_fingerprint, write_manifest
from newslake.tasks.lake.storage import AnyPath, fsync_dir, remove_empty_dir, replace, write_text


def commit(lake: Lake, commit_id: str, *, versions: dict[str, str]) -> None:
    """Make a commit's staged partitions visible: first a durable marker, then the renames.

    A crash before the marker leaves the lake as it was; a crash after it is finished by
    `recover`, so the lake ends as if the commit had gone through uninterrupted.
    """
    marker = lake.commit_marker(commit_id)
    write_text(marker, json.dumps({"commit_id": commit_id, "versions": versions}) + "\n")
    _apply(lake, marker)


def _apply(lake: Lake, marker: AnyPath, *, recovering: bool = False) -> None:
    """Rename a marked commit's staged files into place and rewrite the touched manifests; a
    declared table without one gets its first (no rows yet), so that every table exists from
    the first commit on.

    Recovering, every manifest and the key index are rewritten: an earlier attempt may have
    stopped after its renames, leaving nothing staged to tell which tables it touched.
    """
    done = json.loads(marker.read_text())
    commit_id = done["commit_id"]
    touched, changed = [], {}
    documents_days = {partition_day(p) for p in staged_files(lake, "documents", commit_id)}
    for table in TABLES.values():
        staged = staged_files(lake, table.name, commit_id)
        changed[table.name] = {relative_name(p.with_name(PART_FILE)) for p in staged}
        for path in staged:
            final = path.with_name(PART_FILE)
            if path.suffix == ".pending":
                replace(path, final)
            elif path.suffix == ".delete":
                final.unlink(missing_ok=True)
                path.unlink()
                remove_empty_dir(final.parent)
        if staged:
            fsync_dir(lake.table_dir(table.name))
        if staged or recovering or not lake.manifest_file(table.name).exists():
            touched.append(table)
    if recovering:
        rebuild_keys(lake)
    elif documents_days or not lake.keys_complete.exists():
        update_keys(lake, documents_days)
    fingerprint, versions = inputs_fingerprint(lake), done["versions"]
    for table in touched:
        only = None if recovering else changed[table.name]
        write_manifest(lake, table, commit_id=commit_id, versions=versions, fingerprint=fingerprint, changed=only)
    marker.unlink()
    remove_empty_dir(marker.parent)


def recover(lake: Lake) -> list[str]:
    """Finish the commits a stopped run had marked and drop what uncommitted runs staged.

    Call it holding the lake's lock. Returns the ids of the commits it finished.
    """
    finished = []
    for marker in sorted(lake.commits_dir.glob("*.json")):
        _apply(lake, marker, recovering=True)
        finished.append(marker.stem)
    for table in TABLES:
        for leftover in staged_files(lake, table):
            leftover.unlink()
            remove_empty_dir(leftover.parent)
    for leftover in list(lake.commits_dir.glob(".*.tmp")) + list(lake.root.glob("*/._manifest.json.*")):
        leftover.unlink()
    return finished


def pending_commits(lake: Lake) -> list[str]:
    """The commits marked but not finished."""
    return [m.stem for m in sorted(lake.commits_dir.glob("*.json"))]
