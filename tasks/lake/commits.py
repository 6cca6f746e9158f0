"""Commits: how staged partition files become visible together, and how a stopped commit is finished.

A run stages each new or rewritten partition file beside the live ones under a hidden name,
and marks each file it removes; then it writes a durable commit marker, renames the staged
files into place and removes the marked ones. Each file appears, changes or goes in one step:
a day's new rows are one new file, so a reader sees all of them or none. A run stopped at any
point leaves either the old lake or a marked commit that `recover` finishes. On object storage,
where a rename is a copy, each file is still one object written whole by one upload (staged)
and one server-side copy (committed).
"""

import json
from datetime import date

from newslake.schemas import TABLES
from newslake.tasks.lake.keys import (
    changed_fingerprint,
    documents_digest,
    inputs_fingerprint,
    is_fingerprint,
    keys_complete,
    rebuild_keys,
    update_keys,
)
from newslake.tasks.lake.layout import Lake, live_file, partition_day, relative_name, staged_files
from newslake.tasks.lake.manifests import read_manifest, write_manifest
from newslake.tasks.lake.storage import AnyPath, fsync_dir, remove_empty_dir, replace, write_text


def commit(lake: Lake, commit_id: str, *, versions: dict[str, str], compaction: bool = False) -> None:
    """Make a commit's staged partitions visible: first a durable marker, then the renames.

    A crash before the marker leaves the lake as it was; a crash after it is finished by
    `recover`, so the lake ends as if the commit had gone through uninterrupted. A compaction
    (`compaction=True`) moves rows between files without changing them.
    """
    marker = lake.commit_marker(commit_id)
    write_text(marker, json.dumps({"commit_id": commit_id, "versions": versions, "compaction": compaction}) + "\n")
    _apply(lake, marker)


def _apply(lake: Lake, marker: AnyPath, *, recovering: bool = False) -> None:
    """Rename a marked commit's staged files into place, remove the files it marked, and rewrite
    the touched manifests; a declared table without one gets its first (no rows yet), so that
    every table exists from the first commit on. New files go in before old ones go out.

    Recovering, every manifest and the key index are rewritten: an earlier attempt may have
    stopped after its renames, leaving nothing staged to tell which tables it touched.
    """
    done = json.loads(marker.read_text())
    commit_id = done["commit_id"]
    compaction = done.get("compaction", False)
    touched, changed = [], {}
    staging = {name: staged_files(lake, name, commit_id) for name in TABLES}
    documents = _documents_changes(staging["documents"]) if not compaction else {}
    # What the commit does to the inputs fingerprint, read before its renames replace the files.
    change = None if recovering or compaction else _changes_digest(lake, staging["documents"])
    for table in TABLES.values():
        staged = staging[table.name]
        changed[table.name] = {relative_name(live_file(p)) for p in staged}
        for path in sorted(staged, key=lambda p: p.suffix != ".pending"):
            final = live_file(path)
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
        rebuild_keys(lake, commit_id)
    elif documents or not keys_complete(lake):
        update_keys(lake, commit_id, documents)
    # A compaction moves rows between files: the manifests keep their versions, and their
    # fingerprint unless it is being recovered (an older manifest may be gone or stale then).
    versions = None if compaction else done["versions"]
    fingerprint = None if compaction and not recovering else _fingerprint(lake, change)
    for table in touched:
        only = None if recovering else changed[table.name]
        write_manifest(lake, table, commit_id=commit_id, versions=versions, fingerprint=fingerprint, changed=only)
    marker.unlink()
    remove_empty_dir(marker.parent)
    lake.staging(commit_id).unmark_staged()


def _changes_digest(lake: Lake, staged: list[AnyPath]) -> int:
    """The digest of the documents a commit adds and removes: its `staged` documents files, and
    the live files they replace or remove (0 when it leaves documents alone)."""
    files = []
    for path in staged:
        final = live_file(path)
        files += ([path] if path.suffix == ".pending" else []) + ([final] if final.exists() else [])
    return documents_digest(lake, files)


def _fingerprint(lake: Lake, change: int | None) -> str:
    """The inputs fingerprint after a commit: the documents manifest's, changed by the digest of
    what the commit added and removed (a run reads no more than that); computed from the key
    index when recovering (`change` unknown) or when the manifest has none of this form."""
    try:
        held = read_manifest(lake, "documents") if change is not None else None
    except ValueError:
        held = None
    kept = (held or {}).get("inputs_fingerprint")
    return changed_fingerprint(kept, change) if is_fingerprint(kept) else inputs_fingerprint(lake)


def _documents_changes(staged: list[AnyPath]) -> dict[date, list[AnyPath]]:
    """The days whose documents a commit changes (its `staged` documents files), each with the
    files it adds to them; a day where it also rewrites or removes a file maps to no files (its
    keys are read again)."""
    added: dict[date, list[AnyPath]] = {}
    rewritten: set[date] = set()
    for path in staged:
        final = live_file(path)
        if path.suffix == ".pending" and not final.exists():
            added.setdefault(partition_day(final), []).append(final)
        else:
            rewritten.add(partition_day(final))
    return {day: [] if day in rewritten else added[day] for day in sorted(added.keys() | rewritten)}


def recover(lake: Lake) -> list[str]:
    """Finish the commits a stopped run had marked and drop what uncommitted runs staged.

    A writer stages files beside the partitions only while `LAKE/_staging/` holds its folder (a
    run's batches, or the mark of `Staging.mark_staged`), and every command that finishes leaves
    none, so the partitions are searched for leftovers only when that folder exists (a lake of
    a million documents has some 10,000 partition folders to list). Call it holding the lake's
    lock. Returns the ids of the commits it finished.
    """
    finished = []
    for marker in sorted(lake.commits_dir.glob("*.json")):
        _apply(lake, marker, recovering=True)
        finished.append(marker.stem)
    staging = lake.staging_root.exists()  # gone after every command that finished
    marks = list(lake.staging_root.glob("*/_staged")) if staging else []
    for table in TABLES if staging else ():
        for leftover in staged_files(lake, table):
            leftover.unlink()
            remove_empty_dir(leftover.parent)
    for mark in marks:
        lake.staging(mark.parent.name).unmark_staged()
    remove_empty_dir(lake.staging_root)
    for leftover in list(lake.commits_dir.glob(".*.tmp")) + list(lake.root.glob("*/._manifest.json.*")):
        leftover.unlink()
    return finished


def pending_commits(lake: Lake) -> list[str]:
    """The commits marked but not finished."""
    return [m.stem for m in sorted(lake.commits_dir.glob("*.json"))]
