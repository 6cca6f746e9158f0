"""The days a backfill has committed, kept in the lake so that the same backfill run again resumes."""

import hashlib
import json
from datetime import date

from newslake.tasks.lake.layout import Lake
from newslake.tasks.lake.storage import remove_empty_dir, write_text


class BackfillProgress:
    """The committed days of one backfill, named by what identifies it (range, tables, versions)."""

    def __init__(self, lake: Lake, **identity) -> None:
        key = hashlib.blake2b(json.dumps(identity, sort_keys=True, default=str).encode(), digest_size=8).hexdigest()
        self.path = lake.backfill_progress(key)
        found = json.loads(self.path.read_text()) if self.path.exists() else {"done": []}
        self.done = {date.fromisoformat(d) for d in found["done"]}

    def mark(self, day: date) -> None:
        self.done.add(day)
        write_text(self.path, json.dumps({"done": sorted(d.isoformat() for d in self.done)}))

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)
        remove_empty_dir(self.path.parent)
