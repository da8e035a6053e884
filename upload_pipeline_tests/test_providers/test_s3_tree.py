"""The remote tree (providers/s3_tree) against moto through the fault proxy: where each object's sha256 comes from,
and the HEAD cache, across versions too (entries written before the cache kept each object's encryption)."""

from __future__ import annotations

import json

import pytest

from upload_pipeline.providers.s3_tree import HeadCache

from .conftest import s3_provider, stage
from .test_s3 import PREFIX, publish, read_back, staged


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


def test_an_object_rewritten_with_as_many_other_bytes_is_not_taken_from_the_cache(workspace, moto, bucket, tmp_path):
    """Another tool rewrote an object with other bytes of the same size: its ETag changed, so the cached sha256
    is not used and the sync puts the staged bytes back."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    state = tmp_path / "state"
    publish(s3_provider(moto.endpoint, state), ds, paths)
    shard = "data/train-00000.parquet"
    size = (paths.staged / shard).stat().st_size
    moto.client().put_object(Bucket=bucket, Key=PREFIX + shard, Body=bytes(size))
    result = publish(s3_provider(moto.endpoint, state), ds, paths)
    assert [u.path for u in result.plan.uploads] == [shard]
    assert read_back(moto.client(), bucket) == staged(paths)


def test_an_object_whose_metadata_claims_the_staged_sha256_is_judged_by_the_servers_checksum(workspace, moto,
                                                                                            bucket):
    """A single-part object's sha256 is the server's own checksum of its bytes where there is one: a metadata
    sha256 (written by another tool, or copied with the object) that contradicts the bytes is not believed."""
    workspace.land("train/a.parquet", rows=50)
    ds, paths = stage(workspace, bucket)
    publish(s3_provider(moto.endpoint), ds, paths)
    shard = "data/train-00000.parquet"
    moto.client().put_object(Bucket=bucket, Key=PREFIX + shard, Body=b"not the shard", ChecksumAlgorithm="SHA256",
                             Metadata={"sha256": staged(paths)[shard]})
    result = publish(s3_provider(moto.endpoint), ds, paths)
    assert [u.path for u in result.plan.uploads] == [shard]
    assert read_back(moto.client(), bucket) == staged(paths)
