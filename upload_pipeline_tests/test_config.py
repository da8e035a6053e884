"""The datasets file: `${VAR}` resolution, .env, and one clear error naming the file and the key."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_a_variable_set_empty_counts_as_unset_and_hides_no_dotenv_value(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("HF_REPO_ID=dotenv/repo\nS3_BUCKET=\n")
    monkeypatch.setenv("HF_REPO_ID", "")  # e.g. `export HF_REPO_ID=` left in a shell profile
    monkeypatch.setenv("S3_BUCKET", "env-bucket")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.datasets[0].hub.repo_id == "dotenv/repo"
    assert cfg.datasets[0].s3.bucket == "env-bucket"


def test_config_path_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("UPLOAD_PIPELINE_CONFIG", str(write(tmp_path, GOOD)))
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")  # no upload_pipeline.yaml here: only the variable names the file
    assert load_config().datasets[0].name == "sample"


def test_variables_given_explicitly_are_all_there_is_even_none(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("S3_BUCKET=dotenv-bucket\n")
    monkeypatch.setenv("HF_REPO_ID", "env/repo")
    monkeypatch.chdir(tmp_path)
    ds = load_config(write(tmp_path, GOOD), environ={}).datasets[0]
    assert (ds.hub.repo_id, ds.s3.bucket) == ("local/sample", "my-bucket")


def test_relative_paths_are_relative_to_the_folder_run_from_not_to_the_file(tmp_path, monkeypatch):
    (tmp_path / "conf").mkdir()
    monkeypatch.chdir(tmp_path)
    cfg = load_config(Path("conf") / write(tmp_path / "conf", "paths: {landing: in}\ndatasets: [{name: a}]").name, {})
    assert cfg.path(cfg.paths.landing).resolve() == tmp_path / "in"


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
    ("datasets: [{name: a, hub: {repo_id: o/r}, card: {license: mit}},"
     " {name: b, config_name: b, hub: {repo_id: o/r}, card: {license: apache-2.0}}]",
     "datasets[1].card.license: 'apache-2.0' differs from datasets[0]'s ('a') 'mit'; they share the Hub repo o/r"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: x}}, {name: b, s3: {bucket: bkt, prefix: x/y}}]",
     "datasets[1].s3.prefix: 'x/y' overlaps datasets[0]'s ('a') 'x' in the bucket bkt"),
    # the other way round: the second dataset's mirror would delete the first one's objects under x/y/
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: x/y}}, {name: b, s3: {bucket: bkt, prefix: x}}]",
     "datasets[1].s3.prefix: 'x' overlaps datasets[0]'s ('a') 'x/y' in the bucket bkt"),
    ("datasets: [{name: a, s3: {bucket: bkt}}, {name: b, s3: {bucket: bkt, prefix: y}}]",
     "datasets[1].s3.prefix: 'y' overlaps datasets[0]'s ('a') '' in the bucket bkt"),
    ("paths: {landing: x}", "datasets: Field required"),
    ("datasets: []", "datasets: List should have at least 1 item"),
    ("datasets: [{name: a, shard_size: 1.5}]", "datasets[0].shard_size: 1.5 is not a whole number of bytes"),
    ("datasets: [{name: a, shard_size: lots, compression: zip}]", "shard_size: 'lots' is not a size; use e.g. 500MB, "
     "64MiB or a number of bytes (and 1 more)"),
    ("datasets: [{name: a}]\ndatasets: []", "duplicate key 'datasets'"),
    ("datasets: [&a {name: a}, {<<: *a, name: b, name: c}]", "duplicate key 'name'"),
    ("? [a, b]\n: 1\ndatasets: []",
     "not valid YAML: a mapping key must be a plain value, not a list at line 1, column 3"),
    ("datasets: [{name: a}]\nautomation: {reconcile_cron: every night}",
     "automation.reconcile_cron: 'every night' is not a cron expression Dagster accepts"),
    ("datasets: [{name: a}]\nautomation: {publish_cron: '0 3 30 2 *'}",
     "automation.publish_cron: '0 3 30 2 *' is not a cron expression"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: ..}}]", "datasets[0].s3.prefix: '..' is a folder in the bucket"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: b/../a}}]", "datasets[0].s3.prefix: 'b/../a' is a folder"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: /./a}}]", "datasets[0].s3.prefix: './a' is a folder"),
    ("datasets: [{name: a, s3: {bucket: bkt, prefix: a//b}}]", "no empty, '.' or '..' parts between slashes"),
    ("datasets: [{name: a, hub: {repo_id: o/r, revision: ../x}}]", "datasets[0].hub.revision: '../x' is a branch"),
    ("datasets: [{name: a, hub: {repo_id: o/r, revision: ''}}]", "datasets[0].hub.revision: '' is a branch name"),
    ("datasets: [{name: a\n", "not valid YAML"),
    ("- just a list", "the top level must be a mapping"),
])
def test_mistakes_name_the_file_and_key(tmp_path, text, expected):
    assert expected in error(tmp_path, text)


def test_unset_variable_without_default_names_key_and_variable(tmp_path):
    message = error(tmp_path, "datasets: [{name: a, hub: {repo_id: '${NOPE_REPO}'}}]")
    assert ": datasets[0].hub.repo_id: environment variable NOPE_REPO is not set" in message


def test_a_variable_set_to_empty_is_reported_as_empty(tmp_path):
    message = error(tmp_path, "datasets: [{name: a, hub: {repo_id: '${EMPTY_REPO}'}}]", {"EMPTY_REPO": ""})
    assert "datasets[0].hub.repo_id: environment variable EMPTY_REPO is set but empty and has no default" in message


@pytest.mark.parametrize(("value", "form"), [
    ("$S3_PREFIX/x", "$S3_PREFIX"),
    ("${S3_PREFIX-datasets/x}", "${S3_PREFIX-datasets/x}"),
    ("${S3_PREFIX:?say it}", "${S3_PREFIX:?say it}"),
    ("${S3_PREFIX:-${OTHER:-a}}", "${S3_PREFIX:-${OTHER:-a}}"),
    ("costs$", "$"),
    ("${1:-a}", "${1:-a}"),  # a shell positional parameter, not a variable name
])
def test_a_dollar_form_that_is_not_resolved_is_an_error(tmp_path, value, form):
    message = error(tmp_path, f"datasets: [{{name: a, s3: {{bucket: bkt, prefix: '{value}'}}}}]",
                    {"S3_PREFIX": "datasets/real", "OTHER": "o"})
    assert f"datasets[0].s3.prefix: `{form}` is not a form this file understands: write ${{VAR}} or " in message


def test_an_empty_default_is_a_value_not_a_missing_one(tmp_path):
    cfg = load_config(write(tmp_path, "datasets: [{name: a, card: {description: 'a${NONE:-}b'}}]"), environ={})
    assert cfg.datasets[0].card.description == "ab"


def test_double_dollar_is_a_dollar_and_values_are_not_resolved_again(tmp_path):
    text = "datasets: [{name: a, card: {description: '$$5 ${PRICE} ${NONE:-$$0}'}}]"
    cfg = load_config(write(tmp_path, text), environ={"PRICE": "$NOT_A_VAR"})
    assert cfg.datasets[0].card.description == "$5 $NOT_A_VAR $0"


@pytest.mark.parametrize("seed", ["1", "2"])
def test_dotenv_next_to_the_config_wins_over_the_current_folders(tmp_path, seed):
    # An unordered read made the winner depend on the hash seed, so each seed is a fresh process; relative
    # config paths keep the order the same from one run to the next.
    (tmp_path / ".env").write_text("HF_REPO_ID=cwd/repo\nS3_BUCKET=cwd-bucket\n")
    for i in range(8):
        (tmp_path / f"conf{i}").mkdir()
        (write(tmp_path / f"conf{i}", GOOD).parent / ".env").write_text(f"HF_REPO_ID=next/repo{i}\n")
    script = ("from upload_pipeline.config_file import load_config\n"
              "for i in range(8):\n"
              "    ds = load_config(f'conf{i}/pipeline.yaml').datasets[0]\n"
              "    print(ds.hub.repo_id, ds.s3.bucket)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_REPO_ID", "S3_BUCKET")} | {"PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == [word for i in range(8) for word in (f"next/repo{i}", "cwd-bucket")]


def test_dotenv_in_the_config_folder_and_the_current_one_is_read_once(tmp_path, monkeypatch):
    import dotenv

    reads = []
    monkeypatch.setattr(dotenv, "dotenv_values", lambda path: reads.append(path) or {"HF_REPO_ID": "once/repo"})
    monkeypatch.delenv("HF_REPO_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("HF_REPO_ID=once/repo\n")
    assert load_config(write(tmp_path, GOOD)).datasets[0].hub.repo_id == "once/repo"
    assert len(reads) == 1


def test_merge_keys_share_settings_and_a_written_key_overrides(tmp_path):
    text = ("datasets:\n  - &base {name: a, settle_seconds: 10, s3: {bucket: bkt, prefix: a}}\n"
            "  - <<: *base\n    name: b\n    s3: {bucket: bkt, prefix: b}\n")
    a, b = load_config(write(tmp_path, text), environ={}).datasets
    assert (b.name, b.settle_seconds, b.s3.prefix) == ("b", 10, "b") and a.name == "a"


def test_a_file_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_bytes("datasets:\n  - name: a\n    card: {description: 'Donn\u00e9es'}\n".encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert str(info.value) == f"{path}: not UTF-8 text (byte 0xe9 at line 3); save the file as UTF-8"


def test_missing_file_says_how_to_point_elsewhere(tmp_path):
    with pytest.raises(ConfigError, match="UPLOAD_PIPELINE_CONFIG"):
        load_config(tmp_path / "absent.yaml", environ={})


def test_repository_config_is_valid():
    cfg = load_config(Path(__file__).parent.parent / "upload_pipeline.yaml", environ={})
    assert [d.name for d in cfg.datasets] == ["sample"]
