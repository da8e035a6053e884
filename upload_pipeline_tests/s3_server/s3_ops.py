"""Name the S3 API operation of a raw HTTP request (path-style addressing), for counters and fault matching."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

# Query keys that select a sub-resource rather than parameterise the object/bucket operation,
# e.g. PUT /b/k?tagging is PutObjectTagging, not PutObject.
SUBRESOURCES = frozenset(
    "accelerate acl analytics attributes cors encryption intelligent-tiering inventory legal-hold "
    "lifecycle location logging metrics notification object-lock ownershipControls policy "
    "publicAccessBlock replication requestPayment restore retention select tagging torrent "
    "versioning versions website".split()
)

_OBJECT = {"PUT": "PutObject", "GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}
_UPLOAD = {
    "PUT": "UploadPart",
    "POST": "CompleteMultipartUpload",
    "DELETE": "AbortMultipartUpload",
    "GET": "ListParts",
}
_BUCKET = {"PUT": "CreateBucket", "HEAD": "HeadBucket", "DELETE": "DeleteBucket", "GET": "ListObjects"}


def s3_operation(method: str, target: str, headers: Mapping[str, str] | None = None) -> str:
    """E.g. ("PUT", "/bkt/key?partNumber=2&uploadId=x") -> "UploadPart".

    Sub-resource requests come back as "<METHOD> ?<subresource>" (e.g. "GET ?tagging"),
    anything unrecognised as "<METHOD> <bucket|object>".
    """
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = parts.path.lstrip("/").partition("/")
    copy = headers is not None and "x-amz-copy-source" in {h.lower() for h in headers}
    sub = next((q for q in query if q in SUBRESOURCES), None)
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method} /"
    if sub == "versions" and method == "GET":
        return "ListObjectVersions"
    if sub:
        return f"{method} ?{sub}"
    if key:
        if "uploadId" in query:
            op = _UPLOAD.get(method, f"{method} upload")
            return "UploadPartCopy" if op == "UploadPart" and copy else op
        if "uploads" in query:
            return "CreateMultipartUpload" if method == "POST" else f"{method} object"
        op = _OBJECT.get(method, f"{method} object")
        return "CopyObject" if op == "PutObject" and copy else op
    if method == "GET" and "uploads" in query:
        return "ListMultipartUploads"
    if method == "GET" and query.get("list-type") == ["2"]:
        return "ListObjectsV2"
    if method == "POST" and "delete" in query:
        return "DeleteObjects"
    return _BUCKET.get(method, f"{method} bucket")
