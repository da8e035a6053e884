"""Which digest each upload request carries: the one the server checks, learned once per bucket.

Servers differ (see the README, "Integrity"): AWS S3 and newer S3-compatible stores check a flexible SHA256
checksum and keep it; Ceph radosgw Pacific ignores flexible checksums but checks Content-MD5; moto keeps a
SHA256 it does not check. Sending both digests on every request costs an MD5 and a SHA256 pass over every
byte, which on a 2-core machine is what held the copy to 0.8× boto3's throughput. So `auto` asks the
bucket, with a multipart upload that never becomes an object:

1. CreateMultipartUpload with a SHA256 checksum. A server that does not answer with the algorithm ignores
   flexible checksums (or, refusing the request with a 400 or 501, does not know them): Content-MD5 alone,
   the digest it does check.
2. Otherwise the same small part twice, with the right SHA256 and then a wrong one. If the wrong one is refused
   (400), the server checks SHA256: that alone. If accepted, it keeps a SHA256 it does not check — still worth
   sending, since the HEAD after the upload compares it — and Content-MD5 goes too, in case that is checked.
3. The upload is aborted (and were that to fail, the next sync's clean-up of stale uploads would abort it).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from botocore.exceptions import ClientError

from upload_pipeline.providers.s3_errors import status_code
from upload_pipeline.providers.s3_transfer import MIB

Mode = Literal["auto", "sha256", "content_md5", "both"]
PROBE_NAME = ".upload-pipeline-checksum-probe"
_PROBE_BODY = b"upload_pipeline checksum probe\n" * 32


@dataclass(frozen=True)
class Digests:
    """What the upload requests to one bucket carry, and why."""

    sha256: bool
    content_md5: bool
    reason: str

    def describe(self) -> str:
        sent = " + ".join(n for n, on in (("Content-MD5", self.content_md5), ("SHA256", self.sha256)) if on)
        return f"{sent} ({self.reason})"


FIXED = {"sha256": Digests(True, False, "set by upload_checksum"),
         "content_md5": Digests(False, True, "set by upload_checksum"),
         "both": Digests(True, True, "set by upload_checksum")}


def probe(client: Any, bucket: str, key: str) -> Digests:
    """Find out what the server at `client` does with checksums on `bucket` (steps 1-3 above)."""
    try:
        up = client.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
    except ClientError as exc:
        if status_code(exc) not in (400, 501):
            raise
        # A store that predates flexible checksums may refuse the header outright (NotImplemented).
        return Digests(False, True, "the server refuses flexible checksums; it gets Content-MD5")
    try:
        if up.get("ChecksumAlgorithm") != "SHA256":
            return Digests(False, True, "the server ignores flexible checksums; it checks Content-MD5")
        part = partial(client.upload_part, Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1,
                       Body=_PROBE_BODY)
        part(ChecksumSHA256=_b64_sha256(_PROBE_BODY))
        try:
            part(ChecksumSHA256=_b64_sha256(b"not the body"))
        except ClientError as exc:
            if status_code(exc) != 400:
                raise
            return Digests(True, False, "the server checks SHA256 checksums")
        return Digests(True, True, "the server keeps SHA256 checksums without checking them")
    finally:
        client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"])


def add_content_md5(client: Any, wanted: Callable[[str], bool]) -> None:
    """Send Content-MD5 with the PutObject and UploadPart requests to the buckets `wanted` says yes to.

    boto3 ≥ 1.36 stopped sending it; it is set here as the request's own `ContentMD5` parameter, computed from
    the body before any other hook or the signer sees it.
    """
    for op in ("PutObject", "UploadPart"):
        client.meta.events.register(f"before-parameter-build.s3.{op}", partial(_content_md5, wanted),
                                    unique_id=f"upload-pipeline-md5-{op}")


def _content_md5(wanted: Callable[[str], bool], params: dict, **_: Any) -> None:
    body = params.get("Body")
    if body is None or params.get("ContentMD5") or not wanted(params.get("Bucket", "")):
        return
    digest = hashlib.md5(usedforsecurity=False)
    if isinstance(body, (bytes, bytearray)):
        digest.update(body)
    else:  # s3transfer's ReadFileChunk: seekable, and read again by botocore after us
        start = body.tell()
        for chunk in iter(lambda: body.read(MIB), b""):
            digest.update(chunk)
        body.seek(start)
    params["ContentMD5"] = base64.b64encode(digest.digest()).decode()


def _b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
