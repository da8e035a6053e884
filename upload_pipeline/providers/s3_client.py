"""The S3 provider's connection: dagster-aws's S3Resource, the client made from it, transfer settings.

Retries are botocore's, configured by dagster-aws's S3Resource as `Config(retries={"mode": "standard",
"max_attempts": s3.max_attempts})`. botocore counts that `max_attempts` as *retries* (its `total_max_attempts`
is one more), whatever the field's description says: `s3.max_attempts=4` means 5 attempts per request. The
provider reads the real number back from the client for its messages. The Dagster asset has no RetryPolicy.
Path-style addressing: botocore uses it whenever an endpoint URL is set, which is what S3-compatible stores
without wildcard DNS need.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, ProfileNotFound
from botocore.retries import adaptive
from dagster_aws.s3 import S3Resource
from pydantic import Field, PrivateAttr

from upload_pipeline.config import S3Target
from upload_pipeline.providers.base import StorageResource
from upload_pipeline.providers.s3_checksum import FIXED, PROBE_NAME, Digests, Mode, add_content_md5, probe
from upload_pipeline.providers.s3_errors import bucket_error, error_code, explain, missing_profile
from upload_pipeline.providers.s3_transfer import MIB
from upload_pipeline.providers.s3_tree import HeadCache

T = TypeVar("T")


class S3Connection(StorageResource):
    """The deployment's S3 settings and the client made from them; the S3 role is S3StorageResource."""

    s3: S3Resource = Field(description="dagster-aws S3Resource: credentials, region, endpoint, profile; its "
                                       "max_attempts counts retries (attempts per request = max_attempts + 1)")
    multipart_threshold_mib: int = Field(default=64, ge=5, description="files this big or bigger go in parts")
    multipart_chunksize_mib: int = Field(default=64, ge=5, description="part size (S3: at least 5 MiB; raised "
                                                                       "when a file would need > 10,000 parts)")
    max_concurrency: int = Field(default=4, ge=1, description="parallel requests, shared by all files' parts")
    retry_mode: Literal["standard", "adaptive"] = Field(
        default="standard", description="adaptive adds botocore's client-side rate limiting on throttling")
    upload_checksum: Mode = Field(
        default="auto", description="digest sent with every upload request: auto (the one the server checks, "
                                    "asked once per bucket), sha256, content_md5 or both")
    state_dir: str | None = Field(default=None, description="folder for the HEAD cache (paths.state); "
                                                            "none: every object is HEADed on every sync")

    _client: Any = PrivateAttr(default=None)
    _digests: dict[str, Digests] = PrivateAttr(default_factory=dict)  # bucket → what its uploads carry

    def client(self) -> Any:
        """The boto3 S3 client (from `s3.get_client()`, made once), with our request hooks."""
        if self._client is None:
            try:
                client = self.s3.get_client()
            except ProfileNotFound as exc:
                raise missing_profile(exc) from None
            if self.retry_mode == "adaptive":
                # S3Resource fixes mode="standard"; "adaptive" is standard plus this limiter, registered the
                # way botocore registers it for mode="adaptive".
                adaptive.register_retry_handler(client)
            add_content_md5(client, lambda bucket: self._digests.get(bucket, FIXED["both"]).content_md5)
            # Each upload's digests are chosen per bucket (s3_checksum). botocore's default, "when_supported",
            # would add a CRC32 to every Content-MD5 upload: a fourth pass over the bytes for a checksum that a
            # bucket in that mode ignores (or was told not to rely on). Operations that require a checksum
            # (DeleteObjects) still get one. S3Resource has no field for it; the client reads it per request.
            client.meta.config.request_checksum_calculation = "when_required"
            self._client = client
        return self._client

    def digests(self, target: S3Target) -> Digests:
        """The digests uploads to the target's bucket carry: fixed by `upload_checksum`, or asked of the
        server once per bucket (s3_checksum.probe, under the dataset's prefix)."""
        if target.bucket not in self._digests:
            found = FIXED.get(self.upload_checksum) or self._call(
                f"learn which checksums {self.uri(target)} checks",
                lambda: probe(self.client(), target.bucket, key_prefix(target) + PROBE_NAME))
            self._digests[target.bucket] = found
        return self._digests[target.bucket]

    @property
    def attempts(self) -> int:
        return self.client().meta.config.retries["total_max_attempts"]

    def transfer_config(self) -> TransferConfig:
        return TransferConfig(multipart_threshold=self.multipart_threshold_mib * MIB,
                              multipart_chunksize=self.multipart_chunksize_mib * MIB,
                              max_concurrency=self.max_concurrency, preferred_transfer_client="classic")

    def uri(self, target: S3Target, path: str = "") -> str:
        return f"s3://{target.bucket}/{key_prefix(target)}{path}"

    def _check_bucket(self, target: S3Target) -> None:
        try:
            self.client().head_bucket(Bucket=target.bucket)
        except Exception as exc:  # noqa: BLE001 - explained: no bucket, no access, no credentials, no server
            raise bucket_error(exc, target.bucket, self.client().meta.endpoint_url, self.attempts) from None

    def _unless_absent(self, what: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except ClientError as exc:
            if error_code(exc) in ("NoSuchKey", "404"):
                return None
            raise explain(exc, what, self.attempts) from None

    def _cache(self, target: S3Target) -> HeadCache:
        folder = Path(self.state_dir) / "s3-heads" if self.state_dir else None
        return HeadCache(folder, target.bucket, target.prefix)

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - explained, or re-raised as it was
            raise explain(exc, what, self.attempts) from None


def key_prefix(target: S3Target) -> str:
    """The key prefix of a target: "<prefix>/", or "" for a whole bucket."""
    return f"{target.prefix}/" if target.prefix else ""
