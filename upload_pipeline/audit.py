"""The audit trail: one JSON line per publish that changed a remote copy, appended, never rewritten."""

from __future__ import annotations

import getpass
import os
import socket
import time
from pathlib import Path

from upload_pipeline.providers.base import SyncResult
from upload_pipeline.state import append_jsonl


def audit_file(state_root: Path) -> Path:
    return state_root / "audit.jsonl"


def record_publish(state_root: Path, *, run_id: str, dataset: str, role: str, result: SyncResult) -> dict:
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "run_id": run_id, "dataset": dataset,
        "role": role, "who": f"{_user()}@{socket.gethostname()}", "target": result.url,
        "commit_id": result.commit_id, "files_added": [u.path for u in result.plan.uploads],
        "files_deleted": result.plan.deletes, "bytes": result.bytes_sent,
        "uris": result.metadata.get("s3_uris") or ([result.url] if result.url else []),
    }
    append_jsonl(audit_file(state_root), entry)
    return entry


def _user() -> str:
    """The account running the publish. getpass fails in containers whose uid has no passwd entry and no USER:
    the line, written after the remote changed, must not be lost for that, so the uid stands in."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
