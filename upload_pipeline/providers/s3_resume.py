"""Unfinished multipart uploads left by a crash: continued where their parts are the local bytes, else aborted.

s3transfer cannot continue an upload it did not start, so a run killed in the middle of a large file would send
all of it again. At the start of a sync every unfinished upload under the prefix is looked at. One is continued
when it is for a file this sync uploads and every part the server holds is that file's: cut with the part size
this sync would use, the same size, and the same bytes (the part's SHA256 checksum, else its ETag, which is the
part's MD5 when the object is not KMS-encrypted), started with the same kind of digest and storage class this
sync uses. The missing parts are then uploaded and the upload completed, and the object is verified like any
other (see s3_transfer). The object's metadata (our sha256) is the crashed run's, fixed when the upload started:
if the file at that key has changed since while keeping its first parts, the verification fails, the object is
deleted and the file is sent whole in the same sync (S3 provider). Its server-side encryption is the crashed
run's too, and S3 lists no upload's: the completion's answer names it, and an object not encrypted as the
dataset now asks is deleted and sent whole the same way (should a crash come before the deletion, the next
plan sees the encryption in the object's HEAD and sends the file again). Every other unfinished upload is
aborted: its parts cost storage and would never become an object. One sync per prefix at a time is assumed
(the `s3_upload` pool), as for the staged tree.
"""

from __future__ import annotations

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from s3transfer.utils import ChunksizeAdjuster, ReadFileChunk

from upload_pipeline.providers.s3_errors import error_code, status_code
from upload_pipeline.providers.s3_transfer import IntegrityError, Item, encryption_problem

# The completion was refused for good: the upload can never be completed, so it is aborted.
_UNCOMPLETABLE = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


@dataclass
class Resumable:
    """An unfinished upload of `item` whose parts on the server are all the local file's."""

    item: Item
    upload_id: str
    part_size: int
    done: dict[int, dict[str, str]]  # part number → its entry for CompleteMultipartUpload

    @property
    def parts(self) -> int:
        return -(-self.item.size // self.part_size)

    @property
    def bytes_held(self) -> int:
        """Bytes the server already has: not sent again."""
        return sum(self.size_of(n) for n in self.done)

    def size_of(self, number: int) -> int:
        """The size of part `number` (1-based): the part size, less for the last part."""
        return min(self.part_size, self.item.size - (number - 1) * self.part_size)


def claim_stale_uploads(client: Any, bucket: str, prefix: str, items: list[Item], config: TransferConfig,
                        checksum: bool, storage_class: str | None = None,
                        spare: tuple[str, ...] = ()) -> tuple[dict[str, Resumable], list[str]]:
    """Look at every unfinished upload under `prefix`, but those under the `spare` key prefixes (another step's
    to continue): key → the one to continue for each of `items` that has one (the one holding the most bytes),
    and the keys of the uploads aborted."""
    wanted = {item.key: item for item in items if item.source is not None and item.size >= config.multipart_threshold}
    uploads = [up for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix)
               for up in page.get("Uploads", []) if not up["Key"].startswith(spare)]
    claimed: dict[str, Resumable] = {}
    for up in uploads:
        item = wanted.get(up["Key"])
        found = _resumable(client, bucket, item, up, config, checksum) if item and _same_start(
            up, checksum, storage_class) else None
        best = claimed.get(up["Key"])
        if found and (best is None or found.bytes_held > best.bytes_held):
            claimed[up["Key"]] = found
    kept = {r.upload_id for r in claimed.values()}
    aborted = []
    for up in uploads:
        if up["UploadId"] not in kept:
            abort(client, bucket, up["Key"], up["UploadId"])
            aborted.append(up["Key"])
    return claimed, aborted


def _same_start(up: dict[str, Any], checksum: bool, storage_class: str | None) -> bool:
    """Whether `up` was started as this sync would start an upload."""
    # The parts and the completion must carry the digest the upload was started with (none, or SHA256).
    if up.get("ChecksumAlgorithm") != ("SHA256" if checksum else None):
        return False
    return not storage_class or up.get("StorageClass", storage_class) == storage_class


def abort(client: Any, bucket: str, key: str, upload_id: str) -> None:
    """Abort an unfinished upload; one already gone (completed, aborted, expired by a lifecycle rule) is fine."""
    try:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    except ClientError as exc:
        if error_code(exc) != "NoSuchUpload":
            raise


def _resumable(client: Any, bucket: str, item: Item, up: dict[str, Any], config: TransferConfig,
               checksum: bool) -> Resumable | None:
    part_size = ChunksizeAdjuster().adjust_chunksize(config.multipart_chunksize, item.size)
    found = Resumable(item, up["UploadId"], part_size, {})
    try:
        listed = [part for page in client.get_paginator("list_parts").paginate(
            Bucket=bucket, Key=item.key, UploadId=up["UploadId"]) for part in page.get("Parts", [])]
    except ClientError as exc:
        if status_code(exc) == 403:  # no s3:ListMultipartUploadParts: aborted instead, as before continuing
            return None
        raise
    if not listed:
        return None
    with open(item.source, "rb") as f:
        for part in listed:
            number = part["PartNumber"]
            if number > found.parts or part["Size"] != found.size_of(number):
                return None
            f.seek((number - 1) * found.part_size)
            data = f.read(part["Size"])
            sha256 = base64.b64encode(hashlib.sha256(data).digest()).decode()
            # Not every server lists the parts' checksums (moto does not); the ETag is the part's MD5 then.
            if part.get("ChecksumSHA256", sha256) != sha256:
                return None
            if not part.get("ChecksumSHA256") and part["ETag"].strip('"') != md5_hex(data):
                return None
            found.done[number] = _entry({**part, "ChecksumSHA256": sha256} if checksum else part)
    return found


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _entry(part: dict[str, Any]) -> dict[str, Any]:
    """A part as CompleteMultipartUpload lists it: with its SHA256 when the upload was started with one."""
    entry = {"PartNumber": part["PartNumber"], "ETag": part["ETag"]}
    if part.get("ChecksumSHA256"):
        entry["ChecksumSHA256"] = part["ChecksumSHA256"]
    return entry


def resume(client: Any, bucket: str, uploads: list[Resumable], checksum: bool, workers: int,
           encryption: dict[str, str]) -> dict[str, BaseException]:
    """Upload the missing parts of `uploads` (`workers` at a time, read lazily from disk) and complete them;
    `encryption` is the dataset's ServerSideEncryption / SSEKMSKeyId upload arguments, which each completed
    object must have (an IntegrityError for the caller to delete it and send the file whole otherwise).

    An upload whose part failed stays on the server for the next sync to continue; one the server refuses to
    complete for good (a part it does not have) is aborted. Returns key → exception for the uploads that failed.
    """
    def send_part(up: Resumable, number: int) -> dict[str, Any]:
        size = up.size_of(number)
        args = {"ChecksumAlgorithm": "SHA256"} if checksum else {}
        with ReadFileChunk.from_filename(str(up.item.source), (number - 1) * up.part_size, size) as body:
            response = client.upload_part(Bucket=bucket, Key=up.item.key, UploadId=up.upload_id,
                                          PartNumber=number, Body=body, **args)
        return _entry({"PartNumber": number, **response})

    failures: dict[str, BaseException] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {up.item.key: [(n, pool.submit(send_part, up, n))
                                 for n in range(1, up.parts + 1) if n not in up.done] for up in uploads}
        for up in uploads:
            try:
                parts = dict(up.done) | {n: future.result() for n, future in pending[up.item.key]}
            except Exception as exc:  # noqa: BLE001 - reported per key by the caller
                failures[up.item.key] = exc
                continue
            try:
                done = client.complete_multipart_upload(
                    Bucket=bucket, Key=up.item.key, UploadId=up.upload_id,
                    MultipartUpload={"Parts": [parts[n] for n in sorted(parts)]})
                problem = encryption_problem(done, encryption)
                if problem:
                    failures[up.item.key] = IntegrityError(
                        f"s3://{bucket}/{up.item.key}: the continued upload was started {problem}")
            except Exception as exc:  # noqa: BLE001 - reported per key by the caller
                if error_code(exc) == "NoSuchUpload":
                    continue  # a retried completion whose first try succeeded: the HEAD after decides
                failures[up.item.key] = exc
                if error_code(exc) in _UNCOMPLETABLE:
                    # Start afresh next time. Anything else (the server gone, 5xx, expired credentials) leaves
                    # the upload for the next sync to continue.
                    try:
                        abort(client, bucket, up.item.key, up.upload_id)
                    except Exception:  # noqa: BLE001 - the next sync aborts it; the completion error is the news
                        pass
    return failures
