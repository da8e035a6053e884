"""The code location loads (in-process and through the Dagster CLI); a bad datasets file is one clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml

from upload_pipeline.config_file import load_config
from upload_pipeline.definitions import build_definitions

REPO = Path(__file__).resolve().parent.parent
DAGSTER = str(Path(sys.executable).parent / "dagster")


def test_repository_definitions_load():
    defs = build_definitions(load_config(REPO / "upload_pipeline.yaml", environ={}), environ={})
    dg.Definitions.validate_loadable(defs)
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == ["sample/dataset_card", "sample/hub_copy", "sample/landed_files", "sample/s3_copy",
                    "sample/shards"]
    assert {j.name for j in defs.resolve_all_job_defs()} >= {"publish_sample"}
    # a step's process would cost seconds of imports: every job runs its steps in the run's own process
    assert {j.executor_def.name for j in defs.resolve_all_job_defs()} == {"in_process"}


def run_dagster(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DAGSTER_HOME": str(tmp_path), **env}
    return subprocess.run([DAGSTER, *args], cwd=REPO, env=environ, capture_output=True, text=True, timeout=120)


def test_cli_validates_the_code_location(tmp_path):
    result = run_dagster(["definitions", "validate"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_bad_datasets_file_is_a_load_error_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("datasets:\n  - name: x\n    shard_size: huge\n")
    result = run_dagster(["definitions", "validate"], tmp_path, UPLOAD_PIPELINE_CONFIG=str(bad))
    assert result.returncode != 0
    assert f"{bad}: datasets[0].shard_size: 'huge' is not a size" in result.stdout + result.stderr


def test_an_unknown_provider_is_a_clear_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "upload_pipeline.cli", "check"], cwd=REPO, capture_output=True,
                            text=True, env={**os.environ, "UPLOAD_PIPELINE_HUB": "ftp"}, timeout=60)
    assert result.returncode == 2
    assert "UPLOAD_PIPELINE_HUB='ftp' is not a provider here; choose one of: hf, local" in result.stderr


def test_steps_that_write_one_datasets_staging_share_a_pool_and_copies_take_theirs(workspace):
    """With dagster.yaml's limit of 1 per pool, two runs never write one staged tree (or commit to one repo) at once."""
    defs = build_definitions(workspace.config(), environ={})
    graph = defs.resolve_asset_graph()
    pools = {key.path[-1]: graph.get(key).pools for key in graph.materializable_asset_keys}
    assert pools == {"landed_files": {"staging/ds"}, "shards": {"staging/ds"}, "dataset_card": {"staging/ds"},
                     "hub_copy": {"hub_commit/tests/ds"}, "s3_copy": {"s3_upload"}}


def test_datasets_sharing_a_hub_repo_share_its_commit_pool_whatever_the_case_of_its_name(workspace):
    data = yaml.safe_load(workspace.config_file.read_text())
    data["datasets"][0]["hub"] = {"repo_id": "Org/Repo"}
    data["datasets"].append({**data["datasets"][0], "name": "other", "config_name": "other",
                             "hub": {"repo_id": "org/repo"}, "s3": None})
    workspace.config_file.write_text(yaml.safe_dump(data, sort_keys=False))
    graph = build_definitions(workspace.config(), environ={}).resolve_asset_graph()
    assert graph.get(dg.AssetKey(["ds", "hub_copy"])).pools == {"hub_commit/org/repo"}
    assert graph.get(dg.AssetKey(["other", "hub_copy"])).pools == {"hub_commit/org/repo"}


def test_make_points_out_an_instance_whose_settings_are_not_the_repos(tmp_path):
    """The instance's dagster.yaml is copied on first use and never overwritten: one an older checkout made
    (without run monitoring, say) is pointed out, not silently kept."""
    for name in ("Makefile", "dagster.yaml"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}

    def make() -> subprocess.CompletedProcess:
        return subprocess.run(["make", "-s", "instance"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60)

    first = make()
    assert first.returncode == 0 and first.stderr == ""
    assert (tmp_path / ".dagster_home" / "dagster.yaml").read_bytes() == (REPO / "dagster.yaml").read_bytes()
    (tmp_path / ".dagster_home" / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    second = make()
    assert second.returncode == 0 and "differs from the repo's dagster.yaml" in second.stderr
    assert (tmp_path / ".dagster_home" / "dagster.yaml").read_text() == "telemetry: {enabled: false}\n"
