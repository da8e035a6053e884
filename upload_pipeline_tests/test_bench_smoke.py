"""The benchmark harness runs end to end at a tiny size, so it does not rot between `make bench` runs.

One repetition of every suite benchmark (hub, append, s3 on moto, limits) on a few MB; only the shape of the
results is checked, never a time.
"""

from __future__ import annotations

import pytest

from upload_pipeline_tests.bench import suite


@pytest.mark.timeout(120)
def test_every_benchmark_runs_and_reports(tmp_path):
    sections = []
    settings = suite.Settings(megabytes=3, files=4, reps=1, s3_server="moto", work=tmp_path / "work")
    results = suite.run(settings, set(suite.NAMES), tmp_path / "plots", sections.append)

    assert results["landing"]["files"] == 4 and results["landing"]["bytes"] > 1_000_000
    hub = results["hub"]["median"]
    assert set(hub) == {"ours", "upload_folder", "push_to_hub", "ours_snappy", "ours_copy",
                         "upload_folder_copy"}
    assert hub["ours_snappy"]["shard_bytes"] > hub["ours"]["shard_bytes"]  # snappy compresses less than zstd
    assert hub["ours"]["shards"] == 3 and hub["ours"]["commits"] == 1
    assert hub["ours"]["lfs_bytes"] == hub["ours"]["shard_bytes"] == hub["upload_folder"]["lfs_bytes"]
    # Every landed file fits (snappy, small row groups): each is staged as it is, one shard per file.
    assert hub["ours_copy"]["shards"] == 4 and hub["ours_copy"]["shard_bytes"] == results["landing"]["bytes"]
    assert hub["upload_folder_copy"]["lfs_bytes"] == hub["ours_copy"]["lfs_bytes"] == results["landing"]["bytes"]
    assert hub["push_to_hub"]["load_s"] > 0 and hub["push_to_hub"]["push_s"] > 0
    append = results["append"]["median"]
    assert append["ours"]["new_shards"] == 1 and append["ours"]["commits"] == 1
    # Only the new shard travels as LFS; the rest of what is sent is the card and the JSON of the calls.
    assert append["ours"]["lfs_bytes"] == append["ours"]["new_shard_bytes"]
    assert append["push_to_hub"]["bytes_sent"] > append["ours"]["bytes_sent"]
    s3 = results["s3"]
    assert {"ours", "ours_sha256", "boto3"} <= set(s3["median"])
    compared = s3["median"]["ours"]["checksums_compared"]
    assert compared == s3["median"]["ours_sha256"]["checksums_compared"] == s3["files"]
    assert s3["reps"][0]["ours"]["upload_checksum"].startswith("Content-MD5 + SHA256")  # moto: auto sends both
    assert all(case["mb_s"] > 0 for case in s3["median"].values())
    limits = results["limits"]
    assert limits["parquet"]["rewrite_s"] > 0 and limits["hub_put"]["mb_s"] > 0 and limits["s3_put"]["mb_s"] > 0
    assert [s.splitlines()[0] for s in sections] == [
        "## Physical limits", "## Full publish to the Hub", "## Append one file", "## S3 copy"]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "bench-append.png", "bench-hub.png", "bench-s3.png"]
    assert not (tmp_path / "work" / "scratch").exists()  # servers' data and working folders are gone
