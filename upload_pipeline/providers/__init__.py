"""Provider selection: which implementation fills the Hub role and the S3 role.

`UPLOAD_PIPELINE_HUB` and `UPLOAD_PIPELINE_S3` choose it once, when the definitions load; `local` (the default)
is the embedded default under `paths.remote`. Credentials are not read here: real providers take them as
`EnvVar`s, resolved when a run starts.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from upload_pipeline.config import PipelineConfig
from upload_pipeline.providers.base import ProviderError, StorageResource
from upload_pipeline.providers.hf_hub import HfHubResource
from upload_pipeline.providers.local_hub import LocalHubResource
from upload_pipeline.providers.local_s3 import LocalS3Resource

HUB_ENV = "UPLOAD_PIPELINE_HUB"
S3_ENV = "UPLOAD_PIPELINE_S3"


def _local_hub(cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    return LocalHubResource(root=str(cfg.path(cfg.paths.remote) / "hub"))


def _local_s3(cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    return LocalS3Resource(root=str(cfg.path(cfg.paths.remote) / "s3"))


def _hf_hub(cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    # EnvVar keeps the value out of the UI and the event log; it is only used when the variable is set, so that
    # HF_HUB_TOKEN or huggingface_hub's token file can stand in for HF_TOKEN.
    return HfHubResource(token=dg.EnvVar("HF_TOKEN") if environ.get("HF_TOKEN") else None,
                         endpoint=dg.EnvVar("HF_ENDPOINT") if environ.get("HF_ENDPOINT") else None)


def _s3(cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    # Imported here: boto3 and dagster-aws cost ~45 MB and ~1 s to import, and the default deployment never
    # needs them.
    from dagster_aws.s3 import S3Resource

    from upload_pipeline.providers.s3 import S3StorageResource

    def env(*names: str) -> dg.EnvVar | None:
        # The first of these that is set, as an EnvVar (resolved at run time, never shown). When none is,
        # the field stays empty and boto3's own chain applies (~/.aws, SSO, instance roles...).
        return next((dg.EnvVar(n) for n in names if environ.get(n)), None)

    # The endpoint variables are boto3's own (the S3-specific one wins, as in boto3); so is AWS_MAX_ATTEMPTS,
    # which counts attempts, while S3Resource.max_attempts counts retries (see providers/s3.py).
    s3 = S3Resource(endpoint_url=env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                    region_name=env("AWS_REGION", "AWS_DEFAULT_REGION"), profile_name=env("AWS_PROFILE"),
                    aws_access_key_id=env("AWS_ACCESS_KEY_ID"), aws_secret_access_key=env("AWS_SECRET_ACCESS_KEY"),
                    aws_session_token=env("AWS_SESSION_TOKEN"), max_attempts=_attempts(environ) - 1)
    return S3StorageResource(s3=s3, retry_mode=_retry_mode(environ), state_dir=str(cfg.path(cfg.paths.state)))


def _attempts(environ: Mapping[str, str]) -> int:
    value = environ.get("AWS_MAX_ATTEMPTS", "5").strip()
    if not value.isdigit() or int(value) < 1:
        raise ProviderError(f"AWS_MAX_ATTEMPTS={value!r}: attempts per S3 request must be a whole number >= 1")
    return int(value)


def _retry_mode(environ: Mapping[str, str]) -> str:
    mode = environ.get("AWS_RETRY_MODE", "standard").strip().lower()
    if mode not in ("standard", "adaptive"):
        raise ProviderError(f"AWS_RETRY_MODE={mode!r}: the S3 provider supports standard or adaptive")
    return mode


_HUB = {"local": _local_hub, "hf": _hf_hub}
_S3 = {"local": _local_s3, "s3": _s3}


def build_resources(cfg: PipelineConfig, environ: Mapping[str, str]) -> dict[str, StorageResource]:
    """The `hub` and `s3` resources for this deployment; an unknown provider name is a clear error."""
    return {"hub": _choose(HUB_ENV, _HUB, cfg, environ), "s3": _choose(S3_ENV, _S3, cfg, environ)}


def _choose(var: str, choices: dict, cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    name = (environ.get(var) or "local").strip().lower()
    if name not in choices:
        raise ProviderError(f"{var}={name!r} is not a provider here; choose one of: {', '.join(sorted(choices))}")
    return choices[name](cfg, environ)
