"""The audit trail: one JSON line per publish that changed a remote copy, appended, never rewritten.

The line is written once the copy has changed, so a publish killed in between would leave a change without its
line, and the rerun finds nothing to do. Each publish therefore notes its plan first (`note_plan`, one file per
run and role under `data/state/<ds>/audit-pending/`); the next publish of that copy settles the notes of runs
that never wrote their line (`settle`): whatever of a noted plan its own plan no longer has to do was done by
the crashed run, and gets a line of its own marked `recovered`.
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from pathlib import Path

from upload_pipeline.providers.base import SyncPlan, SyncResult
from upload_pipeline.state import append_jsonl, read_json, write_json_atomic


def audit_file(state_root: Path) -> Path:
    return state_root / "audit.jsonl"


def record_publish(state_root: Path, *, run_id: str, dataset: str, role: str, result: SyncResult) -> dict:
    entry = _entry(run_id, dataset, role, result.url, result.commit_id, [u.path for u in result.plan.uploads],
                   result.plan.deletes, result.bytes_sent,
                   result.metadata.get("s3_uris") or ([result.url] if result.url else []))
    append_jsonl(audit_file(state_root), entry)
    return entry


def _entry(run_id: str, dataset: str, role: str, target: str, commit_id: str | None, added: list[str],
           deleted: list[str], sent: int | None, uris: list[str]) -> dict:
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "run_id": run_id, "dataset": dataset,
            "role": role, "who": f"{_user()}@{socket.gethostname()}", "target": target, "commit_id": commit_id,
            "files_added": added, "files_deleted": deleted, "bytes": sent, "uris": uris}


def note_plan(pending: Path, *, run_id: str, role: str, plan: SyncPlan) -> Path:
    """Note, before it is applied, what `plan` is to change; `pending` is the dataset's audit-pending folder."""
    note = pending / f"{role}-{run_id}.json"
    write_json_atomic(note, {"run_id": run_id, "role": role, "target": plan.target,
                             "files_added": [u.path for u in plan.uploads], "files_deleted": plan.deletes})
    return note


def settle(state_root: Path, pending: Path, *, run_id: str, dataset: str, role: str, result: SyncResult) -> list[dict]:
    """Write the lines of earlier runs' noted plans that `result` (this run's publish) found done already, and
    drop every note of this role; returns the lines written."""
    uploads, deletes = {u.path for u in result.plan.uploads}, set(result.plan.deletes)
    written = []
    for note in sorted(pending.glob(f"{role}-*.json")):
        noted = read_json(note)
        if noted and noted["run_id"] != run_id:
            added = [p for p in noted["files_added"] if p not in uploads]
            deleted = [p for p in noted["files_deleted"] if p not in deletes]
            if added or deleted:
                entry = _entry(noted["run_id"], dataset, role, noted["target"], result.commit_id, added, deleted,
                               None, [noted["target"]])
                append_jsonl(audit_file(state_root), {**entry, "recovered": True})
                written.append(entry)
        note.unlink(missing_ok=True)
    return written


def _user() -> str:
    """The account running the publish. getpass fails in containers whose uid has no passwd entry and no USER:
    the line, written after the remote changed, must not be lost for that, so the uid stands in."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
