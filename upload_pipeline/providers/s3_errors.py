"""Credentials and botocore errors, in messages that say what to change and never hold a secret.

botocore's own messages carry the operation, the error code and the server's text, never the keys; these
add what to do about it. The number of attempts comes from the client's own retry config, so a message
about a server that kept failing says how hard we tried.
"""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError, ProfileNotFound
from dagster_aws.s3 import S3Resource

from upload_pipeline.providers.base import MissingCredentials, ProviderError

SET_CREDENTIALS = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), "
                   "or AWS_PROFILE, or give boto3 another source it reads (~/.aws, SSO, an instance role)")
PERMISSIONS = ("s3:ListBucket, s3:ListBucketMultipartUploads, s3:ListMultipartUploadParts, s3:GetObject, "
               "s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload")
# Codes by which S3 says the signature or the keys are wrong; radosgw and moto use the same names.
_CREDENTIAL_CODES = frozenset({"InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
                               "TokenRefreshRequired", "InvalidClientTokenId"})
# Codes by which a server says the body does not match the Content-MD5 or checksum sent with it.
_DIGEST_CODES = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"})


def credential_source(s3: S3Resource) -> str:
    """Resolve credentials the way the client will (boto3's chain), without a request.

    Returns:
        What signs the requests, e.g. "access key …WXYZ (env)"; the key itself is never shown.

    Raises:
        MissingCredentials: none found, or half of a pair; the message names the variables to set.
    """
    if s3.use_unsigned_session:
        return "anonymous (unsigned requests)"
    if bool(s3.aws_access_key_id) != bool(s3.aws_secret_access_key):
        raise MissingCredentials("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together")
    if s3.aws_access_key_id:
        return f"access key …{s3.aws_access_key_id[-4:]} (explicit)"
    try:
        creds = boto3.session.Session(profile_name=s3.profile_name).get_credentials()
    except ProfileNotFound as exc:
        raise missing_profile(exc) from None
    if creds is None:
        raise MissingCredentials(f"no AWS credentials found for UPLOAD_PIPELINE_S3=s3: {SET_CREDENTIALS}")
    return f"access key …{creds.access_key[-4:]} ({creds.method})"


def missing_profile(exc: ProfileNotFound) -> MissingCredentials:
    return MissingCredentials(f"{exc}; set AWS_PROFILE to a profile in ~/.aws/config, or unset it")


def bucket_error(exc: BaseException, bucket: str, endpoint: str, attempts: int) -> Exception:
    """What HeadBucket's failure means; HEAD errors carry no body, so only the status tells."""
    code = error_code(exc)
    if code in ("404", "NoSuchBucket"):
        return ProviderError(f"bucket {bucket!r} does not exist at {endpoint}: create it (e.g. `aws s3 mb "
                             f"s3://{bucket}`) or set s3.bucket in the datasets file (S3_BUCKET for the sample)")
    if code in ("403", "AccessDenied"):
        return ProviderError(f"bucket {bucket!r} at {endpoint}: access denied (403): the credentials are wrong "
                             f"or may not use this bucket; {SET_CREDENTIALS}")
    return explain(exc, f"open bucket {bucket}", attempts)


def error_code(exc: BaseException) -> str | None:
    return str(exc.response.get("Error", {}).get("Code")) if isinstance(exc, ClientError) else None


def status_code(exc: BaseException) -> int | None:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") if isinstance(exc, ClientError) else None


def explain(exc: BaseException, what: str, attempts: int) -> Exception:
    """An exception whose message says what failed and what to change; unknown exceptions pass through.

    Args:
        exc: what boto3 or s3transfer raised.
        what: the operation, e.g. "upload s3://bucket/prefix/data/x.parquet".
        attempts: attempts per request the client makes, for messages about errors it retried.
    """
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return MissingCredentials(f"{what}: no AWS credentials; {SET_CREDENTIALS}")
    if isinstance(exc, ClientError):
        return _client_error(exc, what, attempts)
    if isinstance(exc, BotoCoreError):  # connection refused or reset, timeouts: all retried by botocore
        return ProviderError(f"{what}: {exc} (after {attempts} attempts); check that the S3 endpoint is up and "
                             "reachable (AWS_ENDPOINT_URL), then publish again: only what is missing is sent")
    return exc


def first_failure(failures: dict[str, BaseException], total: int, bucket: str, attempts: int) -> Exception:
    """The first of several failed uploads, explained, with how many failed in all."""
    key, exc = next(iter(failures.items()))
    first = explain(exc, f"upload s3://{bucket}/{key}", attempts)
    if isinstance(first, ProviderError) and len(failures) > 1:
        first = type(first)(f"{first} ({len(failures)} of {total} objects failed)")
    return first


def _client_error(exc: ClientError, what: str, attempts: int) -> ProviderError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code"))
    status = status_code(exc) or 0
    message = (error.get("Message") or "").strip()
    detail = f"{code}: {message}" if message and message != code else code
    if code in _CREDENTIAL_CODES:
        return MissingCredentials(f"{what}: S3 refused the credentials ({code}); {SET_CREDENTIALS}")
    if code in _DIGEST_CODES:
        return ProviderError(f"{what}: the server rejected the bytes it received ({detail}): they changed "
                             "between the local file and the server, so nothing was stored under that key; "
                             "publish again, and check the network path if it repeats")
    if code in ("AccessDenied", "403") or status == 403:
        return ProviderError(f"{what}: access denied (403); the credentials need {PERMISSIONS} on the bucket "
                             "and prefix")
    if status >= 500 or code in ("SlowDown", "RequestTimeout", "Throttling"):
        return ProviderError(f"{what}: the server kept failing ({detail}; HTTP {status}) for {attempts} "
                             "attempts; publish again later: only what is missing is sent")
    return ProviderError(f"{what}: {detail} (HTTP {status})")
