"""The datasets file's schema (`upload_pipeline.yaml`): datasets, targets, paths and automation, in pydantic.

The file lists the datasets to publish. It holds no secrets: tokens and keys are `EnvVar`s on the resources.
Reading it (`${VAR}` resolution, YAML, one-line errors) is `config_file`; every problem with it raises
`ConfigError`, whose message names the file and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from dagster._utils.schedules import is_valid_cron_string  # what ScheduleDefinition checks; no public API
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from upload_pipeline.sizes import parse_size

# The Hub's guidance for the dataset viewer and for download speed is parquet files of a few hundred MB;
# `datasets.push_to_hub` uses 500 MB, so do we (counted in parquet bytes, not Arrow bytes).
DEFAULT_SHARD_SIZE = 500 * 1000 * 1000
# Row groups small enough for the viewer's random access (datasets caps them at 100 MB uncompressed).
DEFAULT_ROW_GROUP_BYTES = 32 * 1024 * 1024
DEFAULT_ROW_GROUP_ROWS = 100_000
# A landed row group is decoded whole by the parquet reader; past this it would dominate memory, so such a
# file is reported instead of read.
DEFAULT_MAX_INPUT_ROW_GROUP = 1024 * 1024 * 1024


class ConfigError(Exception):
    """The datasets file is wrong. The message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardConfig(_Strict):
    """Fields of the dataset card that a person chooses; the rest of the card is generated."""

    pretty_name: str | None = None
    description: str | None = None
    license: str | None = None
    tags: list[str] = Field(default_factory=list)
    task_categories: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)


class HubTarget(_Strict):
    repo_id: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="namespace/name of the dataset repo")
    private: bool = True
    revision: str = "main"
    create_pr: bool = Field(default=False, description="publish each change as a pull request, left open")

    @field_validator("revision")
    @classmethod
    def _revision_segments(cls, value: str) -> str:
        return _folder_segments(value, "a branch name")

    def same_repo(self, other: HubTarget) -> bool:
        return self.repo_id.lower() == other.repo_id.lower()  # the Hub's names are not case-sensitive

    def same_branch(self, other: HubTarget) -> bool:
        return self.same_repo(other) and self.revision == other.revision


class S3Target(_Strict):
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    prefix: str = Field(default="", description="the dataset's folder in the bucket; all of it is the dataset's")
    delete_policy: Literal["mirror", "keep"] = Field(
        default="mirror", description="mirror: delete objects under the prefix that staging no longer has "
                                      "(archives/ aside); keep: never delete")
    # Upper case like the API; S3-compatible stores may define their own classes (Ceph does).
    storage_class: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]*$",
                                      description="e.g. STANDARD_IA, INTELLIGENT_TIERING; default the bucket's")
    sse: Literal["AES256", "aws:kms", "aws:kms:dsse"] | None = Field(
        default=None, description="server-side encryption; default the bucket's")
    sse_kms_key_id: str | None = Field(default=None, description="KMS key id or ARN, with sse: aws:kms")
    archive: bool = Field(default=False, description="also upload a tar.gz of each published version")

    @field_validator("prefix")
    @classmethod
    def _strip_slashes(cls, value: str) -> str:
        value = value.strip("/")
        return _folder_segments(value, "a folder in the bucket") if value else value

    @model_validator(mode="after")
    def _kms_key_needs_kms(self) -> S3Target:
        if self.sse_kms_key_id and not (self.sse or "").startswith("aws:kms"):
            raise ValueError("sse_kms_key_id needs sse: aws:kms (or aws:kms:dsse)")
        return self


class DatasetConfig(_Strict):
    # A Dagster asset-key prefix and group name, so letters, digits and underscores only.
    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    landing: str | None = Field(default=None, description="folder under paths.landing (default: name)")
    include: list[str] = Field(default_factory=lambda: ["**/*.parquet"])
    exclude: list[str] = Field(default_factory=list)
    splits: dict[str, list[str]] = Field(default_factory=lambda: {"train": ["**"]})
    # Also the shards' folder in the repo, so no leading dot (hidden, never uploaded) and no `..`.
    config_name: str = Field(default="default", pattern=r"^\w[\w.-]*$")
    shard_size: int = DEFAULT_SHARD_SIZE
    row_group_bytes: int = DEFAULT_ROW_GROUP_BYTES
    row_group_rows: int = Field(default=DEFAULT_ROW_GROUP_ROWS, gt=0)
    max_input_row_group_bytes: int = DEFAULT_MAX_INPUT_ROW_GROUP
    compression: Literal["zstd", "snappy", "gzip", "brotli", "lz4", "none"] = "zstd"
    # Stage a landed file that already fits a shard (schema, codec, row groups, size) as it is: see `copying`.
    copy_fitting_files: bool = False
    schema_policy: Literal["strict", "promote"] = "strict"
    on_bad_file: Literal["skip", "fail"] = "skip"
    settle_seconds: float = Field(default=5.0, ge=0)
    card: CardConfig = Field(default_factory=CardConfig)
    hub: HubTarget | None = None
    s3: S3Target | None = None

    @field_validator("shard_size", "row_group_bytes", "max_input_row_group_bytes", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> int:
        return parse_size(value)

    @field_validator("splits")
    @classmethod
    def _split_names(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for split, patterns in value.items():
            # `datasets` accepts only these split names, and our shard names start with them.
            if not re.fullmatch(r"\w+(\.\w+)*", split):
                raise ValueError(f"split name {split!r} must match \\w+(\\.\\w+)*")
            if not patterns:
                raise ValueError(f"split {split!r} has no patterns")
        if not value:
            raise ValueError("at least one split is needed")
        return value

    @field_validator("config_name")
    @classmethod
    def _config_folder(cls, value: str) -> str:
        if ".." in value:
            raise ValueError(f"config_name {value!r} must not contain '..' (it names the shards' folder)")
        if value == "archives":  # the S3 copy keeps its tar.gz archives in <prefix>/archives/
            raise ValueError("config_name 'archives' is reserved: the S3 copy keeps its archives in "
                             "<prefix>/archives/")
        if value == "data":  # the default config's folder: the two would write the same shards
            raise ValueError("config_name 'data' is reserved: it is the folder of the 'default' config")
        return value

    @property
    def landing_folder(self) -> str:
        return self.landing or self.name


class PathsConfig(_Strict):
    landing: str = "data/process"
    staging: str = "data/staging"
    state: str = "data/state"
    remote: str = Field(default="data/remote", description="root of the embedded local Hub and S3 copies")


class AutomationConfig(_Strict):
    """How the pipeline runs itself; see the README's "Automation" section."""

    sensors: bool = Field(default=True, description="landing sensors and the automation sensor start running")
    sensor_interval_seconds: int = Field(default=30, ge=1)
    max_batch_wait_seconds: float = Field(
        default=300, ge=0, description="publish even while more files keep arriving, once the oldest waited this")
    batch_retries: int = Field(default=2, ge=0, description="new runs for a batch whose run failed")
    max_hub_commits_per_hour: int = Field(
        default=100, ge=1, description="landing sensors hold a batch back while its Hub repo had this many commits "
                                       "from this pipeline in the last hour (the Hub allows about 128)")
    reconcile_cron: str | None = Field(default="0 3 * * *", description="nightly remote = staged check and repair")
    publish_cron: str | None = Field(default=None, description="publish every dataset on a schedule too")
    slack_channel: str | None = Field(default=None, description="run failures are posted here (SLACK_BOT_TOKEN)")

    @field_validator("reconcile_cron", "publish_cron", "slack_channel", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value in ("", "off", "none") else value

    @field_validator("reconcile_cron", "publish_cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        # The check Dagster's ScheduleDefinition makes, so `make check-config` refuses what Dagster would.
        if value is not None and not is_valid_cron_string(value):
            raise ValueError(f"{value!r} is not a cron expression Dagster accepts: five fields, minute hour "
                             f"day-of-month month day-of-week, e.g. '0 3 * * *'; '' turns it off")
        return value


class PipelineConfig(_Strict):
    paths: PathsConfig = Field(default_factory=PathsConfig)
    automation: AutomationConfig = Field(default_factory=AutomationConfig)
    datasets: list[DatasetConfig] = Field(min_length=1, description="at least one: a file without any does nothing")
    source: str = Field(default="", exclude=True, description="the file this was read from")
    base_dir: str = Field(default=".", exclude=True, description="relative paths resolve against this")

    @model_validator(mode="after")
    def _unique_names(self) -> PipelineConfig:
        seen: set[str] = set()
        for i, ds in enumerate(self.datasets):
            if ds.name in seen:
                raise ValueError(f"datasets[{i}].name: {ds.name!r} is used by two datasets")
            seen.add(ds.name)
        return self

    @model_validator(mode="after")
    def _separate_targets(self) -> PipelineConfig:
        """Two datasets never write the same remote files: each would overwrite and delete the other's."""
        for j, ds in enumerate(self.datasets):
            for i, other in enumerate(self.datasets[:j]):
                if ds.hub and other.hub and ds.hub.same_branch(other.hub):
                    if ds.config_name == other.config_name:
                        raise ValueError(
                            f"datasets[{j}].config_name: {ds.config_name!r} is also datasets[{i}]'s ({other.name!r}) "
                            f"in the Hub repo {ds.hub.repo_id}; datasets sharing a repo need their own config_name")
                    _same_repo_card(ds, other, j, i)
                if ds.s3 and other.s3 and ds.s3.bucket == other.s3.bucket and _nested(ds.s3.prefix, other.s3.prefix):
                    raise ValueError(
                        f"datasets[{j}].s3.prefix: {ds.s3.prefix!r} overlaps datasets[{i}]'s ({other.name!r}) "
                        f"{other.s3.prefix!r} in the bucket {ds.s3.bucket}; each dataset owns all of its prefix")
        return self

    def dataset(self, name: str) -> DatasetConfig:
        for ds in self.datasets:
            if ds.name == name:
                return ds
        raise KeyError(f"{self.source}: no dataset named {name!r}")

    def path(self, value: str) -> Path:
        """Resolve a path from the file against the folder the pipeline runs in."""
        p = Path(value)
        return p if p.is_absolute() else Path(self.base_dir) / p


def _folder_segments(value: str, what: str) -> str:
    """The local copies use these as folders: `..` would leave the dataset's folder (and the mirror delete
    files outside it), and `a/../b`, `a/./b` or `a//b` would escape the check that prefixes do not overlap."""
    if any(part in ("", ".", "..") for part in value.split("/")):
        raise ValueError(f"{value!r} is {what}: no empty, '.' or '..' parts between slashes")
    return value


def _same_repo_card(ds: DatasetConfig, other: DatasetConfig, j: int, i: int) -> None:
    """The card fields that are the repo's, not a config's, agree between two datasets sharing a Hub repo:
    otherwise each publish would set its own value and every publish of either would commit a new README."""
    for name in ("pretty_name", "license", "tags", "task_categories", "language"):
        mine, theirs = getattr(ds.card, name), getattr(other.card, name)
        if mine and theirs and mine != theirs:
            raise ValueError(
                f"datasets[{j}].card.{name}: {mine!r} differs from datasets[{i}]'s ({other.name!r}) {theirs!r}; "
                f"they share the Hub repo {ds.hub.repo_id}, whose card has one {name}: give both the same value "
                "or set it on one of them only")


def _nested(a: str, b: str) -> bool:
    """Whether one S3 prefix is the other or inside it ("" is the whole bucket)."""
    a, b = a.strip("/") + "/", b.strip("/") + "/"
    return a == "/" or b == "/" or a.startswith(b) or b.startswith(a)
