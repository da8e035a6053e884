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


_HUB = {"local": _local_hub, "hf": _hf_hub}
_S3 = {"local": _local_s3}


def build_resources(cfg: PipelineConfig, environ: Mapping[str, str]) -> dict[str, StorageResource]:
    """The `hub` and `s3` resources for this deployment; an unknown provider name is a clear error."""
    return {"hub": _choose(HUB_ENV, _HUB, cfg, environ), "s3": _choose(S3_ENV, _S3, cfg, environ)}


def _choose(var: str, choices: dict, cfg: PipelineConfig, environ: Mapping[str, str]) -> StorageResource:
    name = (environ.get(var) or "local").strip().lower()
    if name not in choices:
        raise ProviderError(f"{var}={name!r} is not a provider here; choose one of: {', '.join(sorted(choices))}")
    return choices[name](cfg, environ)
