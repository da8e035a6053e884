"""Moving bytes to S3 and proving they arrived: s3transfer uploads, per-request digests, verification after.

Integrity comes in layers, because servers check different things (see the README, "Moving to the real S3"):

* Every PutObject and UploadPart carries the digest the server checks, learned per bucket (s3_checksum): a
  flexible SHA256 checksum computed by botocore from the bytes it sends, which AWS and newer servers check and
  keep, or a Content-MD5, which radosgw Pacific checks, or both where the server keeps a SHA256 unchecked.
* After the upload, `verify` HEADs the object and compares its size, our `sha256` metadata and, when the
  server keeps flexible checksums, its SHA256 with the staged sha256: directly for a single-part object; for a
  multipart one through the composite (sha256 of the parts' digests), recomputed from the local file with the
  part size s3transfer used, in the same read that checks the file still has the staged sha256. So the
  server's bytes are tied to the hash taken at staging, not just to what was read at upload time.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from boto3.s3.transfer import TransferConfig, create_transfer_manager
from s3transfer.utils import ChunksizeAdjuster

from upload_pipeline.config import S3Target
from upload_pipeline.providers.base import ProviderError

MIB = 1024 * 1024
SHA256_META = "sha256"  # stored as x-amz-meta-sha256: multipart ETags are not MD5s, so we keep our own hash
_CONTENT_TYPES = {".parquet": "application/vnd.apache.parquet", ".md": "text/markdown; charset=utf-8",
                  ".gz": "application/gzip", ".json": "application/json"}


class IntegrityError(ProviderError):
    """An uploaded object is not the local file (size, sha256 or checksum differ)."""


@dataclass(frozen=True)
class Item:
    """One object to upload: a local file or bytes, with the sha256 and size it must have remotely."""

    key: str
    size: int
    sha256: str
    source: Path | None = None
    content: bytes | None = None

    def open(self) -> BinaryIO:
        return io.BytesIO(self.content) if self.content is not None else open(self.source, "rb")

    def body(self) -> str | BinaryIO:
        # A file name lets s3transfer read each part lazily from disk, never a whole file into memory.
        return io.BytesIO(self.content) if self.content is not None else str(self.source)


class Verified(NamedTuple):
    """An uploaded object that is the local file, as its HEAD after the upload showed it."""

    item: Item
    etag: str
    checksum_compared: bool  # the server's SHA256 too, not only size and metadata
    encryption: dict[str, str]  # see encryption_of


def upload(client: Any, bucket: str, items: list[Item], config: TransferConfig, extra_args: dict[str, Any],
           checksum: bool) -> dict[str, BaseException]:
    """Upload `items` through one s3transfer TransferManager, so all files share `max_concurrency` threads.

    A multipart upload that fails is aborted by s3transfer; if the server is gone the abort fails too, and the
    next sync continues or aborts it (s3_resume). Returns key → exception for the items that failed.
    """
    failures: dict[str, BaseException] = {}
    with create_transfer_manager(client, config) as manager:
        futures = {item.key: manager.upload(item.body(), bucket, item.key,
                                            extra_args=_args(item, config, extra_args, checksum))
                   for item in items}
        for key, future in futures.items():
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001 - reported per key by the caller
                failures[key] = exc
    return failures


def verify_uploads(client: Any, bucket: str, items: list[Item], failures: dict[str, BaseException],
                   config: TransferConfig, workers: int) -> tuple[list[Verified], dict]:
    """Verify each of `items` that arrived (not in `failures`, key → exception of its upload) in parallel HEADs.

    Returns:
        The verified items, and key → exception for the others.
    """
    def check(item: Item) -> tuple[Item, Verified | BaseException]:
        try:
            return item, verify(client, bucket, item, config)
        except Exception as exc:  # noqa: BLE001 - reported per key by the caller
            return item, exc

    failures = dict(failures)
    verified = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for item, outcome in pool.map(check, [i for i in items if i.key not in failures]):
            if isinstance(outcome, BaseException):
                failures[item.key] = outcome
            else:
                verified.append(outcome)
    # A bad object carries our sha256 metadata all the same; left there, the next plan would take it as done.
    bad = [key for key, exc in failures.items() if isinstance(exc, IntegrityError)]
    try:
        delete_keys(client, bucket, bad)
    except Exception as exc:  # noqa: BLE001 - the integrity error is the news; say the object is still there
        for key in bad:
            failures[key] = IntegrityError(f"{failures[key]} (deleting it failed too: {exc}; delete "
                                           f"s3://{bucket}/{key} before publishing again)")
    return verified, failures


def target_args(target: S3Target) -> dict[str, str]:
    """The dataset's storage class and server-side encryption, as upload arguments."""
    return ({"StorageClass": target.storage_class} if target.storage_class else {}) | encryption_args(target)


def encryption_args(target: S3Target) -> dict[str, str]:
    """The dataset's server-side encryption as upload arguments; empty without `sse` (the bucket's default)."""
    extra = {"ServerSideEncryption": target.sse, "SSEKMSKeyId": target.sse_kms_key_id}
    return {k: v for k, v in extra.items() if v}


def encryption_of(answer: dict[str, Any]) -> dict[str, str]:
    """The server-side encryption an answer names (HEAD, CompleteMultipartUpload), as upload arguments; empty for
    an unencrypted object."""
    return {k: answer[k] for k in ("ServerSideEncryption", "SSEKMSKeyId") if answer.get(k)}


def encryption_problem(got: dict[str, Any], wanted: dict[str, str]) -> str | None:
    """How an object's encryption (an answer naming it, see encryption_of) differs from `wanted` (upload
    arguments), e.g. "with server-side encryption none; the dataset asks for AES256"; None if it does not."""
    algorithm, got_algorithm = wanted.get("ServerSideEncryption"), got.get("ServerSideEncryption")
    if algorithm and got_algorithm != algorithm:
        return f"with server-side encryption {got_algorithm or 'none'}; the dataset asks for {algorithm}"
    key, got_key = wanted.get("SSEKMSKeyId"), got.get("SSEKMSKeyId") or ""
    # S3 answers with the key's ARN; an alias cannot be matched to one without asking KMS, so it is not compared.
    if key and "alias/" not in key and got_key != key and not got_key.endswith("/" + key):
        return "with another KMS key than the dataset's sse_kms_key_id"
    return None


def encryption_failure(bucket: str, done: Verified, wanted: dict[str, str]) -> ProviderError | None:
    """The error for an uploaded object whose HEAD does not show the encryption `wanted` (the dataset's `sse`, as
    upload arguments), None if it does: a store that takes the request header but does not apply it, or does not
    report it. Not an IntegrityError: the object has the staged bytes, so it is kept, and the caller fails loudly
    instead of letting every plan upload it again in silence."""
    problem = encryption_problem(done.encryption, wanted)
    if not problem:
        return None
    key_id = wanted.get("SSEKMSKeyId")
    asked = f"sse: {wanted.get('ServerSideEncryption')}" + (f" with sse_kms_key_id {key_id}" if key_id else "")
    return ProviderError(
        f"s3://{bucket}/{done.item.key}: the server did not apply the server-side encryption the dataset asks for: "
        f"it reports the object {problem}; check that the store supports {asked} (MinIO and Ceph need a KMS/SSE "
        "backend configured), or remove sse from the dataset's s3 section (the object, with the staged bytes, is "
        "left in place; every publish uploads it again and fails like this until then)")


def _args(item: Item, config: TransferConfig, extra: dict[str, Any], checksum: bool) -> dict[str, Any]:
    args = {**extra, "Metadata": {SHA256_META: item.sha256},
            "ContentType": _CONTENT_TYPES.get(Path(item.key).suffix, "application/octet-stream")}
    if checksum:
        # Computed per request from the bytes sent (a precomputed one would be stored unchecked by servers
        # that do not validate, like moto); S3 has no full-object SHA256 for multipart, so it is per part.
        args["ChecksumAlgorithm"] = "SHA256"
    return args


def verify(client: Any, bucket: str, item: Item, config: TransferConfig) -> Verified:
    """HEAD an uploaded object and compare it with the local one.

    Returns:
        The object's ETag, whether the server's SHA256 checksum was compared too (servers without flexible
        checksums, like radosgw Pacific, return none; their Content-MD5 check at upload stands in), and its
        encryption, which the HEAD cache keeps for the next plan.

    Raises:
        ProviderError: the size, the sha256 metadata or the checksum differ.
    """
    head = client.head_object(Bucket=bucket, Key=item.key, ChecksumMode="ENABLED")
    problems = []
    if head["ContentLength"] != item.size:
        problems.append(f"size {head['ContentLength']} remotely, {item.size} locally")
    if head.get("Metadata", {}).get(SHA256_META) != item.sha256:
        problems.append("the sha256 metadata is not the local file's")
    server = head.get("ChecksumSHA256")
    if server:
        parts = _part_count(head["ETag"])
        local = _b64(item.sha256) if parts is None else composite_sha256(item, config, parts)
        if server.split("-")[0] != local:
            problems.append("the server's SHA256 checksum is not that of the local bytes")
    if problems:
        raise IntegrityError(f"s3://{bucket}/{item.key}: integrity check failed after upload: "
                             f"{'; '.join(problems)}; the object is deleted, publish again to upload it anew")
    return Verified(item, head["ETag"], bool(server), encryption_of(head))


def stored_sha256(head: dict[str, Any]) -> str | None:
    """An object's sha256 from a HEAD: the server's own full-object SHA256 where it keeps one (a single-part
    upload with a flexible checksum), else the sha256 in our metadata (None when the object has none)."""
    server = head.get("ChecksumSHA256")
    if server and _part_count(head["ETag"]) is None:
        return base64.b64decode(server).hex()
    return head.get("Metadata", {}).get(SHA256_META)


def composite_sha256(item: Item, config: TransferConfig, parts: int) -> str | None:
    """S3's checksum of a multipart object: sha256 over the parts' sha256 digests, base64. None if the object
    does not have the parts s3transfer would have cut with `config`, or the local bytes no longer have the
    staged sha256."""
    part_size = ChunksizeAdjuster().adjust_chunksize(config.multipart_chunksize, item.size)
    if -(-item.size // part_size) != parts:
        return None
    digests, whole = hashlib.sha256(), hashlib.sha256()
    with item.open() as f:
        for chunk in iter(lambda: f.read(part_size), b""):
            digests.update(hashlib.sha256(chunk).digest())
            whole.update(chunk)
    return base64.b64encode(digests.digest()).decode() if whole.hexdigest() == item.sha256 else None


def delete_keys(client: Any, bucket: str, keys: Iterable[str]) -> None:
    """DeleteObjects in batches of 1000 (the API's limit); a key S3 could not delete is an error."""
    keys = list(keys)
    for i in range(0, len(keys), 1000):
        batch = [{"Key": k} for k in keys[i:i + 1000]]
        errors = client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True}).get("Errors", [])
        if errors:
            shown = ", ".join(f"{e.get('Key')} ({e.get('Code')})" for e in errors[:5])
            raise ProviderError(f"s3://{bucket}: {len(errors)} object(s) could not be deleted: {shown}")


def _part_count(etag: str) -> int | None:
    _, dash, count = etag.strip('"').rpartition("-")
    return int(count) if dash and count.isdigit() else None


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()
