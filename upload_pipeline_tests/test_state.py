"""The bookkeeping files: JSON lines survive a line torn by a crash (audit log, the local Hub's commit log)."""

from __future__ import annotations

import json

from upload_pipeline.state import append_jsonl, read_json, read_jsonl, write_json_atomic


def test_a_record_appended_after_a_torn_line_is_kept_and_the_torn_line_skipped(tmp_path, caplog):
    log = tmp_path / "audit.jsonl"
    append_jsonl(log, {"run": 1})
    append_jsonl(log, {"run": 2, "files": ["data/train-00000.parquet"]})
    log.write_bytes(log.read_bytes()[:-12])  # the process died (or the disk filled) mid-write
    append_jsonl(log, {"run": 3})
    assert read_jsonl(log) == [{"run": 1}, {"run": 3}]
    assert "line 2 is not a complete record" in caplog.text
    assert json.loads(log.read_text().splitlines()[-1]) == {"run": 3}


def test_appends_to_an_intact_file_add_one_line_each(tmp_path):
    log = tmp_path / "sub" / "log.jsonl"
    for n in range(3):
        append_jsonl(log, {"n": n})
    assert log.read_text() == "".join(f'{{"n": {n}}}\n' for n in range(3))
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_state_file_is_on_disk_before_it_replaces_the_old_one(tmp_path, request):
    """Renamed over the old file before its bytes are synced, a power loss could leave an empty or partial file
    in its place: neither the old state nor the new (os calls recorded, still made)."""
    path = tmp_path / "sources.json"
    write_json_atomic(path, {"old": True})
    events = request.getfixturevalue("file_syncs")
    write_json_atomic(path, {"new": True})
    [renamed] = [i for i, event in enumerate(events) if event[0] == "rename"]
    assert ("sync", events[renamed][1]) in events[:renamed]
    assert read_json(path) == {"new": True} and [p.name for p in tmp_path.iterdir()] == ["sources.json"]
