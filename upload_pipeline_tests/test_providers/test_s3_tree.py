"""The remote tree's HEAD cache (providers/s3_tree) across versions, against moto through the fault proxy: entries
written before the cache kept each object's encryption."""

from __future__ import annotations

import json

import pytest

from upload_pipeline.providers.s3_tree import HeadCache

from .conftest import s3_provider, stage
from .test_s3 import PREFIX, publish, staged


def forget_encryption(state, bucket: str) -> None:
    """Make the HEAD cache the previous version's: {etag, size, sha256} per object, no encryption."""
    cache = HeadCache(state / "s3-heads", bucket, "datasets/ds").file
    data = json.loads(cache.read_text())
    for entry in data["objects"].values():
        entry.pop("encryption", None)
    cache.write_text(json.dumps(data))


@pytest.mark.parametrize("sse, heads", [("AES256", 2), (None, 0)])
def test_entries_without_the_encryption_are_headed_once_where_it_is_compared(workspace, bucket, proxied, proxy,
                                                                              tmp_path, sse, heads):
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket, **({"sse": sse} if sse else {}))
    state = tmp_path / "state"
    publish(s3_provider(proxied, state), ds, paths)
    forget_encryption(state, bucket)
    proxy.reset_counters()
    assert publish(s3_provider(proxied, state), ds, paths).plan.noop
    assert proxy.counts["HeadObject"] == heads and proxy.counts["PutObject"] == 0
    proxy.reset_counters()
    assert publish(s3_provider(proxied, state), ds, paths).plan.noop
    assert proxy.counts["HeadObject"] == 0


def test_an_entry_without_the_encryption_is_not_taken_as_encrypted(workspace, moto, bucket, tmp_path):
    workspace.land("train/a.parquet", rows=50)
    state = tmp_path / "state"
    publish(s3_provider(moto.endpoint, state), *stage(workspace, bucket))
    forget_encryption(state, bucket)
    ds, paths = stage(workspace, bucket, sse="AES256")
    result = publish(s3_provider(moto.endpoint, state), ds, paths)
    assert moto.client().head_object(Bucket=bucket, Key=PREFIX + "README.md").get("ServerSideEncryption") == "AES256"
    assert result.plan.reencrypted == sorted(staged(paths)) and result.metadata["objects_reencrypted"] == 2
