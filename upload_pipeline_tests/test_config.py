"""The datasets file: `${VAR}` resolution, .env, and one clear error naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from upload_pipeline.config import ConfigError
from upload_pipeline.config_file import load_config

GOOD = """
datasets:
  - name: sample
    hub: {repo_id: "${HF_REPO_ID:-local/sample}"}
    s3: {bucket: "${S3_BUCKET:-my-bucket}", prefix: "${S3_PREFIX:-datasets/sample}"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def error(tmp_path: Path, text: str, environ: dict | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={} if environ is None else environ)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    return message


def test_defaults_apply_when_variables_are_unset(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), environ={})
    ds = cfg.datasets[0]
    assert ds.hub.repo_id == "local/sample"
    assert (ds.s3.bucket, ds.s3.prefix) == ("my-bucket", "datasets/sample")
    assert ds.shard_size == 500_000_000 and ds.compression == "zstd" and ds.splits == {"train": ["**"]}


def test_variables_come_from_the_environment(tmp_path):
    cfg = load_config(write(tmp_path, GOOD), environ={"HF_REPO_ID": "org/name", "S3_PREFIX": "/p/q/"})
    assert cfg.datasets[0].hub.repo_id == "org/name"
    assert cfg.datasets[0].s3.prefix == "p/q"


def test_dotenv_fills_in_and_the_environment_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("HF_REPO_ID=dotenv/repo\nS3_BUCKET=dotenv-bucket\n")
    monkeypatch.setenv("S3_BUCKET", "env-bucket")
    monkeypatch.delenv("HF_REPO_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.datasets[0].hub.repo_id == "dotenv/repo"
    assert cfg.datasets[0].s3.bucket == "env-bucket"


def test_config_path_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("UPLOAD_PIPELINE_CONFIG", str(write(tmp_path, GOOD)))
    assert load_config().datasets[0].name == "sample"


def test_sizes_are_read_with_units(tmp_path):
    cfg = load_config(write(tmp_path, "datasets: [{name: a, shard_size: 64MiB, row_group_bytes: '1 MB'}]"), {})
    assert cfg.datasets[0].shard_size == 64 * 2**20
    assert cfg.datasets[0].row_group_bytes == 10**6


@pytest.mark.parametrize(("text", "expected"), [
    ("datasets: [{name: a, bogus: 1}]", "datasets[0].bogus: unknown key"),
    ("datasets: [{name: a, shard_size: lots}]", "datasets[0].shard_size: 'lots' is not a size"),
    ("datasets: [{name: a, settle_seconds: soon}]", "datasets[0].settle_seconds: Input should be a valid number"),
    ("datasets: [{name: a, compression: zip}]", "datasets[0].compression: Input should be"),
    ("datasets: [{name: a, hub: {repo_id: noslash}}]", "datasets[0].hub.repo_id: String should match"),
    ("datasets: [{name: a}, {name: a}]", "datasets[1].name: 'a' is used by two datasets"),
    ("datasets: [{name: a, splits: {train-x: ['**']}}]", "datasets[0].splits: split name 'train-x'"),
    ("datasets: [{name: 'bad name'}]", "datasets[0].name: String should match"),
    ("datasets: [{name: a, s3: {bucket: Bad_Bucket}}]", "datasets[0].s3.bucket: String should match"),
    ("datasets: [{name: a, config_name: ..}]", "datasets[0].config_name: String should match"),
    ("datasets: [{name: a, config_name: a..b}]", "datasets[0].config_name: config_name 'a..b' must not contain '..'"),
    ("datasets: [{name: a, config_name: .hidden}]", "datasets[0].config_name: String should match"),
    ("datasets: [{name: a, config_name: archives}]", "datasets[0].config_name: config_name 'archives' is reserved"),
    ("datasets: [{name: a, config_name: data}]", "datasets[0].config_name: config_name 'data' is reserved"),
    ("datasets: [{name: a, hub: {repo_id: o/r}}, {name: b, hub: {repo_id: O/R}}]",
     "datasets[1].config_name: 'default' is also datasets[0]'s ('a') in the Hub repo O/R"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: x}}, {name: b, s3: {bucket: bkt, prefix: x/y}}]",
     "datasets[1].s3.prefix: 'x/y' overlaps datasets[0]'s ('a') 'x' in the bucket bkt"),
    ("datasets: [{name: a, s3: {bucket: bkt}}, {name: b, s3: {bucket: bkt, prefix: y}}]",
     "datasets[1].s3.prefix: 'y' overlaps datasets[0]'s ('a') '' in the bucket bkt"),
    ("paths: {landing: x}", "datasets: Field required"),
    ("datasets: [{name: a}]\ndatasets: []", "duplicate key 'datasets'"),
    ("datasets: [{name: a\n", "not valid YAML"),
    ("- just a list", "the top level must be a mapping"),
])
def test_mistakes_name_the_file_and_key(tmp_path, text, expected):
    assert expected in error(tmp_path, text)


def test_unset_variable_without_default_names_key_and_variable(tmp_path):
    message = error(tmp_path, "datasets: [{name: a, hub: {repo_id: '${NOPE_REPO}'}}]")
    assert "datasets[0].hub.repo_id: environment variable NOPE_REPO is not set" in message


def test_missing_file_says_how_to_point_elsewhere(tmp_path):
    with pytest.raises(ConfigError, match="UPLOAD_PIPELINE_CONFIG"):
        load_config(tmp_path / "absent.yaml", environ={})


def test_repository_config_is_valid():
    cfg = load_config(Path(__file__).parent.parent / "upload_pipeline.yaml", environ={})
    assert [d.name for d in cfg.datasets] == ["sample"]
