"""Roll-forward journals: make a set of file moves and deletions all-or-nothing across crashes.

New files are first written complete into a scratch folder. Then one journal file listing every move and
deletion is written atomically; only then is the change applied. A crash before the journal exists leaves the
target untouched (the scratch folder is dropped on the next run); a crash after it is finished by `recover`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from upload_pipeline.state import fsync_dir, read_json, write_json_atomic

JOURNAL = "JOURNAL.json"


def commit(scratch: Path, target: Path, moves: list[str], deletes: list[str]) -> None:
    """Move `scratch/<path>` to `target/<path>` for each of `moves`, delete `target/<path>` for `deletes`."""
    # The files' entries before the journal's: `recover` takes a move whose file is missing for one done already.
    _sync_folders(scratch, moves)
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
        # Durable before the journal goes: a power loss could otherwise keep its removal and undo the renames.
        _sync_folders(target, journal["moves"] + journal["deletes"])
    shutil.rmtree(scratch, ignore_errors=True)
    return journal is not None


def _sync_folders(root: Path, paths: list[str]) -> None:
    """fsync the folders of `root/<path>` up to root's parent: a folder made for them is an entry of its parent."""
    folders = {root / folder for rel in paths for folder in PurePosixPath(rel).parents} | {root, root.parent}
    for folder in sorted((f for f in folders if f.is_dir()), key=lambda f: len(f.parts), reverse=True):
        fsync_dir(folder)


def _prune_empty_parents(path: Path, stop: Path) -> None:
    parent = path.parent
    while parent != stop and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()
        parent = parent.parent
