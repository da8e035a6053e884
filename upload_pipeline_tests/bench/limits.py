"""Benchmark 6: the physical limits of this run, so every other figure can be read as a fraction of one.

* parquet: pyarrow alone reading each landed file whole and writing it back with our compression (zstd) — what
  sharding would cost with no validation, no hashing, no streaming — and with snappy, the codec `datasets`
  writes; plus a read-only pass and sha256 of the same bytes, the two other things our validation does;
* Hub server: raw LFS PUTs of in-memory blobs just under the server's multipart threshold (one request each,
  straight to the upload URL the batch API hands out, no client library);
* S3 server: boto3 `put_object` of an in-memory blob, in one stream and in 4 parallel ones (the concurrency of
  the S3 provider), the better of the two being the ceiling.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
from huggingface_hub import HfApi

from upload_pipeline_tests.bench.landing_set import LandingSet
from upload_pipeline_tests.bench.measure import mb, secs
from upload_pipeline_tests.hub_server.testing import DEFAULT_TOKEN
from upload_pipeline_tests.s3_server import S3Endpoint, create_bucket, delete_bucket, unique_bucket_name

MIB = 1024 * 1024
HUB_BLOB = 60 * MIB  # the local Hub server answers multipart above 64 MiB
S3_STREAMS = 4


def parquet(landing: LandingSet) -> dict[str, Any]:
    def rewrite(codec: str) -> float:
        with tempfile.TemporaryDirectory(prefix="bench-rewrite-") as tmp:
            t = time.perf_counter()
            for i, f in enumerate(landing.files):
                pq.write_table(pq.read_table(f), Path(tmp) / f"{i}.parquet", compression=codec)
            return time.perf_counter() - t

    t = time.perf_counter()
    for f in landing.files:
        pq.read_table(f)
    read = time.perf_counter() - t
    t = time.perf_counter()
    for f in landing.files:
        with f.open("rb") as fh:
            hashlib.file_digest(fh, "sha256")
    sha = time.perf_counter() - t
    # snappy too: what the codec alone costs, since `datasets` writes snappy and we write zstd.
    zstd, snappy = rewrite("zstd"), rewrite("snappy")
    n = landing.bytes / 1e6
    return {"read_s": read, "rewrite_s": zstd, "rewrite_snappy_s": snappy, "sha256_s": sha,
            "read_mb_s": n / read, "rewrite_mb_s": n / zstd, "rewrite_snappy_mb_s": n / snappy, "sha256_mb_s": n / sha}


def hub_put(url: str, total: int) -> dict[str, Any]:
    """Raw basic LFS PUTs of `total` bytes (at least one blob): MB/s of the PUT requests alone."""
    api = HfApi(endpoint=url, token=DEFAULT_TOKEN)
    repo = f"bench/raw-put-{os.getpid()}-{time.monotonic_ns()}"
    api.create_repo(repo, repo_type="dataset")
    host = urlsplit(url)
    blobs = max(1, min(8, round(total / HUB_BLOB)))
    seconds = 0.0
    for _ in range(blobs):
        blob = os.urandom(min(HUB_BLOB, max(MIB, total)))
        oid = hashlib.sha256(blob).hexdigest()
        batch = _http(host.hostname, host.port, "POST", f"/datasets/{repo}.git/info/lfs/objects/batch",
                      json.dumps({"operation": "upload", "transfers": ["basic"], "hash_algo": "sha256",
                                  "objects": [{"oid": oid, "size": len(blob)}]}).encode(),
                      {"Authorization": f"Bearer {DEFAULT_TOKEN}", "Content-Type": "application/vnd.git-lfs+json",
                       "Accept": "application/vnd.git-lfs+json"})
        href = urlsplit(json.loads(batch)["objects"][0]["actions"]["upload"]["href"])
        t = time.perf_counter()
        _http(href.hostname, href.port, "PUT", href.path, blob, {"Content-Type": "application/octet-stream"})
        seconds += time.perf_counter() - t
    size = blobs * len(blob)
    return {"blobs": blobs, "blob_bytes": len(blob), "seconds": seconds, "mb_s": size / 1e6 / seconds}


def s3_put(endpoint: S3Endpoint, total: int) -> dict[str, Any]:
    size = min(256 * MIB, max(8 * MIB, total // 4))
    blob = os.urandom(size)
    client = endpoint.client()
    bucket = create_bucket(client, unique_bucket_name("bench-raw"))
    try:
        t = time.perf_counter()
        client.put_object(Bucket=bucket, Key="one", Body=blob)
        one = time.perf_counter() - t
        part = size // S3_STREAMS
        t = time.perf_counter()
        with ThreadPoolExecutor(S3_STREAMS) as pool:
            list(pool.map(lambda i: client.put_object(Bucket=bucket, Key=f"many-{i}",
                                                      Body=blob[i * part:(i + 1) * part]), range(S3_STREAMS)))
        many = time.perf_counter() - t
    finally:
        delete_bucket(client, bucket)
    best = max(size / one, S3_STREAMS * part / many) / 1e6
    return {"blob_bytes": size, "streams": S3_STREAMS, "one_stream_mb_s": size / 1e6 / one,
            "streams_mb_s": S3_STREAMS * part / 1e6 / many, "mb_s": best}


def _http(host: str, port: int, method: str, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=300)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data[:200]!r}")
        return data
    finally:
        conn.close()


def table(res: dict[str, Any]) -> str:
    p = res["parquet"]
    lines = ["| limit | time | throughput |", "|---|---:|---:|",
             f"| pyarrow `read_table` of the landed files ({mb(res['input_bytes'])}) | {secs(p['read_s'])} | "
             f"{p['read_mb_s']:.0f} MB/s |",
             f"| pyarrow `read_table` + `write_table` (zstd, as ours), file by file | {secs(p['rewrite_s'])} | "
             f"{p['rewrite_mb_s']:.0f} MB/s |",
             f"| the same with snappy (as `datasets`) | {secs(p['rewrite_snappy_s'])} | "
             f"{p['rewrite_snappy_mb_s']:.0f} MB/s |",
             f"| sha256 of the landed files | {secs(p['sha256_s'])} | {p['sha256_mb_s']:.0f} MB/s |"]
    if "hub_put" in res:
        h = res["hub_put"]
        lines.append(f"| local Hub server: raw LFS PUT, {h['blobs']} × {mb(h['blob_bytes'])} | "
                     f"{secs(h['seconds'])} | {h['mb_s']:.0f} MB/s |")
    if "s3_put" in res:
        s = res["s3_put"]
        lines.append(f"| S3 server: boto3 `put_object` of {mb(s['blob_bytes'])}, 1 stream / {s['streams']} streams | "
                     f"— | {s['one_stream_mb_s']:.0f} / {s['streams_mb_s']:.0f} MB/s |")
    return "\n".join(lines)
