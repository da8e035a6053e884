"""Where an S3 server is and how to talk to it: endpoint + credentials, boto3 client, bucket helpers."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

REGION = "us-east-1"


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = REGION

    def with_url(self, url: str) -> S3Endpoint:
        """Same credentials behind another URL, e.g. a FaultProxy in front of this server."""
        return dataclasses.replace(self, url=url)

    def env(self) -> dict[str, str]:
        """Environment variables for code under test that builds its own client."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "S3_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": self.region,
        }

    def client(self, **config: Any):
        """A boto3 S3 client for this endpoint; `config` is passed to botocore Config.

        Path-style addressing, because the local servers have no wildcard DNS for bucket
        subdomains. Pass e.g. retries={"mode": "standard", "total_max_attempts": 5}.
        """
        config.setdefault("s3", {"addressing_style": "path"})
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(**config),
        )


def unique_bucket_name(prefix: str = "test") -> str:
    # S3 names: 3-63 chars, lowercase; a random suffix keeps tests sharing a server apart.
    return f"{prefix}-{uuid.uuid4().hex[:16]}"


def create_bucket(client, name: str | None = None) -> str:
    name = name or unique_bucket_name()
    client.create_bucket(Bucket=name)
    return name


def empty_bucket(client, bucket: str) -> None:
    """Delete every object and abort every in-progress multipart upload in `bucket`."""
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
        if keys:
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def delete_bucket(client, bucket: str) -> None:
    empty_bucket(client, bucket)
    client.delete_bucket(Bucket=bucket)
