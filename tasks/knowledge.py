"""Where the knowledge the annotation rules read comes from, as data: the packaged files of
`lexicon/` (aliases, titles, cue verbs, places, themes, tone word lists), and a user's additions.

A user adds knowledge with an alias table (`--aliases`) and a knowledge folder (`--knowledge`)
whose files extend the packaged ones of the same name: `aliases.csv`, `not_entities.txt`,
`places.csv`, `themes.csv`, `tone.csv` and `count_types.csv` (see docs/rules.md).
"""

import csv
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from importlib.resources import files
from pathlib import Path
from typing import TypeVar


@dataclass(frozen=True)
class KnowledgeFiles:
    """A user's additions, as paths every worker reads: an alias table, and a folder of files
    that extend the packaged ones of the same name."""

    aliases: str | None = None
    folder: str | None = None

    def extra(self, name: str) -> str | None:
        """The user's file that extends a packaged one, if there is one."""
        if name == "aliases.csv" and self.aliases:
            return self.aliases
        path = Path(self.folder) / name if self.folder else None
        return str(path) if path and path.is_file() else None


PACKAGED = KnowledgeFiles()  # the packaged knowledge alone
T = TypeVar("T")


def installed_version(distribution: str) -> str:
    """The installed version of a distribution (a library, a model), or `unknown`: part of what
    a run's rows, and a reject's settings, come from."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def packaged_and_extra(name: str, extra: str | None, *, what: str, expected: str) -> list[str]:
    """The text of a packaged knowledge file (`lexicon/<name>`), and of the user's file that
    extends it, if any; a ValueError saying what to give when the user's file is missing."""
    texts = [(files("newslake.tasks") / "lexicon" / name).read_text(encoding="utf-8")]
    if extra:
        if not Path(extra).is_file():
            raise ValueError(f"{what} {extra} does not exist: give {expected}")
        texts.append(Path(extra).read_text(encoding="utf-8"))
    return texts


def csv_rows(text: str, *, required: tuple[str, ...], what: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a knowledge CSV (lines starting with # are comments), with their line numbers;
    a ValueError naming `what` when a required column is missing."""
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if not set(required) <= set(reader.fieldnames or ()):
        raise ValueError(f"{what} needs the columns {','.join(required)}; got {reader.fieldnames}")
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k is not None}


def cached_by_file(load: Callable[..., T]) -> Callable[..., T]:
    """Cache a loader of packaged knowledge plus a user's files (paths or None) by the files'
    paths and times of change: each process reads a file once, and again once it is edited (a
    notebook's next run)."""
    cached = functools.lru_cache(maxsize=8)(lambda extras, changed: load(*extras))

    @functools.wraps(load)
    def loader(*extras: str | None) -> T:
        changed = tuple(os.stat(e).st_mtime_ns if e and os.path.exists(e) else None for e in extras)
        return cached(extras, changed)

    return loader
