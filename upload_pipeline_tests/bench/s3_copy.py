"""Benchmark 3: copying the staged tree to S3 — ours against boto3 and the AWS CLI, same files, same server.

* ours: `remote.sync` through `S3StorageResource` with its defaults — verification on: on every request the
  digest the server checks (`upload_checksum: auto`; on radosgw Pacific, Content-MD5), a HEAD of every object
  after, sha256 metadata — from a cold state folder (no HEAD cache) and a new provider, so each repetition
  pays for the checksum probe too. The staged tree's hashes come from the shard step, which hashes each shard
  as it writes it, as in a pipeline run; reading them (and hashing the card) is timed as `hash_s`;
* ours with `upload_checksum: sha256`: the same with a SHA256 on every request instead; radosgw Pacific
  ignores it, so there the difference between the two rows is the price of a digest the server checks;
* boto3: `upload_file` per file with the provider's TransferConfig, a default client (CRC32 checksums);
* aws s3 sync: the AWS CLI with the same part size, threshold and concurrency in its config file, when `aws` is
  on PATH.

An untimed boto3 copy warms the server up first. Each repetition copies into a new bucket (deleted after, so
the server does not fill up) and runs the cases in a rotated order.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from dagster_aws.s3 import S3Resource

from upload_pipeline import remote, steps
from upload_pipeline.config import DatasetConfig, S3Target
from upload_pipeline.providers.s3 import S3StorageResource
from upload_pipeline.steps import DatasetPaths
from upload_pipeline_tests.bench.measure import mb, median_rep, medians, ratio, rotate, secs, verdict
from upload_pipeline_tests.s3_server import S3Endpoint, create_bucket, delete_bucket, unique_bucket_name

CASES = ("ours", "ours_sha256", "boto3", "aws")
TARGET = 0.9


def provider(endpoint: S3Endpoint, state: Path | None, upload_checksum: str = "auto") -> S3StorageResource:
    s3 = S3Resource(endpoint_url=endpoint.url, region_name=endpoint.region, aws_access_key_id=endpoint.access_key,
                    aws_secret_access_key=endpoint.secret_key, max_attempts=4)
    return S3StorageResource(s3=s3, state_dir=str(state) if state else None, upload_checksum=upload_checksum)


def run(ds: DatasetConfig, paths: DatasetPaths, endpoint: S3Endpoint, server: str, work: Path,
        reps: int) -> dict[str, Any]:
    """Copy the staged tree at `paths.staged` `reps` times per case."""
    files = sorted(p for p in paths.staged.rglob("*") if p.is_file())
    total = sum(p.stat().st_size for p in files)
    aws = shutil.which("aws")
    cases = [c for c in CASES if c != "aws" or aws]
    client = endpoint.client()
    # One untimed copy first: the server's first writes (radosgw creates its data pool then) made whichever
    # case came first in the first repetition about 30 % slower, and rotation always puts ours there.
    warm = create_bucket(client, unique_bucket_name("warm"))
    try:
        _boto3(endpoint, paths.staged, files, warm, provider(endpoint, None))
    finally:
        delete_bucket(client, warm)
    results = []
    for r in range(reps):
        bucket = create_bucket(client, unique_bucket_name("bench"))
        rep: dict[str, dict] = {}
        try:
            for case in rotate(cases, r):
                if case == "ours":
                    rep[case] = _ours(endpoint, ds, paths, bucket, work / f"s3-state-{r}")
                elif case == "ours_sha256":
                    rep[case] = _ours(endpoint, ds, paths, bucket, work / f"s3-state-sha-{r}", "sha256")
                elif case == "boto3":
                    rep[case] = _boto3(endpoint, paths.staged, files, bucket, provider(endpoint, None))
                else:
                    rep[case] = _aws_cli(aws, endpoint, paths.staged, bucket, work)
                rep[case]["mb_s"] = total / 1e6 / rep[case]["total_s"]
        finally:
            delete_bucket(client, bucket)
        results.append(rep)
    return {"server": server, "bytes": total, "files": len(files), "reps": results, "median": medians(results),
            "aws_cli": _aws_version(aws) if aws else None}


def _ours(endpoint: S3Endpoint, ds: DatasetConfig, paths: DatasetPaths, bucket: str, state: Path,
          upload_checksum: str = "auto") -> dict:
    ds = ds.model_copy(update={"s3": S3Target(bucket=bucket, prefix=f"ours-{upload_checksum}")})
    t0 = time.perf_counter()
    steps.staged_files(paths)  # the shard step's hashes; sync_request below reads the same cache
    t1 = time.perf_counter()
    result = remote.sync(provider(endpoint, state, upload_checksum), ds.s3,
                         remote.sync_request(ds, paths, "s3", "benchmark"))
    t2 = time.perf_counter()
    return {"hash_s": t1 - t0, "sync_s": t2 - t1, "total_s": t2 - t0,
            "checksums_compared": result.metadata["checksums_compared"],
            "upload_checksum": result.metadata["upload_checksum"]}


def _boto3(endpoint: S3Endpoint, staged: Path, files: list[Path], bucket: str, ours: S3StorageResource) -> dict:
    config = ours.transfer_config()
    t = time.perf_counter()
    client = endpoint.client()  # timed, as ours makes its client inside the sync (about 0.3 s either way)
    for path in files:
        client.upload_file(str(path), bucket, f"boto3/{path.relative_to(staged).as_posix()}", Config=config)
    return {"total_s": time.perf_counter() - t}


def _aws_cli(aws: str, endpoint: S3Endpoint, staged: Path, bucket: str, work: Path) -> dict:
    # The provider's TransferConfig in the CLI's own terms (its MB is MiB); path-style like every other client.
    config = work / "aws-config"
    config.write_text("[default]\ns3 =\n  max_concurrent_requests = 4\n  multipart_threshold = 64MB\n"
                      "  multipart_chunksize = 64MB\n  addressing_style = path\n")
    env = {**os.environ, **endpoint.env(), "AWS_CONFIG_FILE": str(config),
           "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-credentials")}
    t = time.perf_counter()
    subprocess.run([aws, "s3", "sync", str(staged), f"s3://{bucket}/aws", "--endpoint-url", endpoint.url,
                    "--only-show-errors", "--no-progress"], env=env, check=True)
    return {"total_s": time.perf_counter() - t}


def _aws_version(aws: str) -> str:
    out = subprocess.run([aws, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).strip()


def table(res: dict[str, Any], limits: dict[str, Any] | None = None) -> str:
    m = res["median"]
    o, b = m["ours"], m["boto3"]
    lines = [f"{res['files']} files, {mb(res['bytes'])} (our staged tree), server: {res['server']}.", "",
             "| case | wall time (median) | throughput | × boto3 | × raw PUT |", "|---|---:|---:|---:|---:|"]
    raw = limits["s3_put"]["mb_s"] if limits else None

    def row(name: str, c: dict) -> str:
        of_raw = f"{c['mb_s'] / raw:.2f}×" if raw else "—"
        return (f"| {name} | {secs(c['total_s'])} | {c['mb_s']:.0f} MB/s | {ratio(c['mb_s'], b['mb_s']):.2f}× | "
                f"{of_raw} |")

    op = median_rep(res["reps"], "ours")  # its hash and sync add up to the median total
    lines.append(row(f"**ours**: read hashes {secs(op['hash_s'])} + sync with verification {secs(op['sync_s'])}; "
                     f"sent: {op['upload_checksum']}", o))
    sha = median_rep(res["reps"], "ours_sha256")
    lines.append(row(f"ours with `upload_checksum: sha256`; sent: {sha['upload_checksum']}", m["ours_sha256"]))
    lines.append(row("boto3 `upload_file` per file, same TransferConfig", b))
    if "aws" in m:
        lines.append(row(f"`aws s3 sync` ({res['aws_cli'].split()[0]}), same part size and concurrency", m["aws"]))
    else:
        lines.append("| `aws s3 sync` | not measured: no `aws` on PATH | | | |")
    if limits:
        put = limits["s3_put"]
        lines.append(f"| limit: boto3 `put_object` of a {mb(put['blob_bytes'])} in-memory blob "
                     f"(best of 1 and {put['streams']} streams) | — | {raw:.0f} MB/s | "
                     f"{ratio(raw, b['mb_s']):.2f}× | 1.00× |")
    lines += ["", f"Ours vs boto3, verification on: {verdict(ratio(o['mb_s'], b['mb_s']), TARGET, at_most=False)}."]
    return "\n".join(lines)
