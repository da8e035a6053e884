"""Roll-forward journals: make a set of file moves and deletions all-or-nothing across crashes.

New files are first written complete into a scratch folder. Then one journal file listing every move and
deletion is written atomically; only then is the change applied. A crash before the journal exists leaves the
target untouched (the scratch folder is dropped on the next run); a crash after it is finished by `recover`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from upload_pipeline.state import read_json, write_json_atomic

JOURNAL = "JOURNAL.json"


def commit(scratch: Path, target: Path, moves: list[str], deletes: list[str]) -> None:
    """Move `scratch/<path>` to `target/<path>` for each of `moves`, delete `target/<path>` for `deletes`."""
    write_json_atomic(scratch / JOURNAL, {"moves": moves, "deletes": deletes})
    recover(scratch, target)


def recover(scratch: Path, target: Path) -> bool:
    """Finish a journalled change left by a crash, or drop an unjournalled one. True if one was finished."""
    journal = read_json(scratch / JOURNAL)
    if journal is not None:
        for rel in journal["moves"]:
            src = scratch / rel
            if src.exists():  # moved already when the crash came after it
                (target / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target / rel)
        for rel in journal["deletes"]:
            (target / rel).unlink(missing_ok=True)
            _prune_empty_parents(target / rel, target)
    shutil.rmtree(scratch, ignore_errors=True)
    return journal is not None


def _prune_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
