"""Declarative automation: downstream steps follow landed_files, and a failed blocking check holds them back."""

from __future__ import annotations

import dagster as dg
import pytest

from upload_pipeline.definitions import build_definitions
from upload_pipeline_tests.test_validation import raw

DOWNSTREAM = ["shards", "dataset_card", "hub_copy", "s3_copy"]


def keys(names):
    return {dg.AssetKey(["ds", n]) for n in names}


def requested(result) -> set[str]:
    return {k.path[-1] for k in keys(DOWNSTREAM + ["landed_files"]) if result.get_num_requested(k)}


def materialize(defs, instance, names):
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection=keys(names))
    return job.execute_in_process(instance=instance, raise_on_error=False)


def test_after_landed_files_everything_downstream_is_requested_in_one_tick(workspace):
    workspace.land("train/a.parquet", rows=10)
    defs = build_definitions(workspace.config(), environ={})
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert requested(first) == set()  # nothing has been materialized: landed_files is the sensor's job
        assert materialize(defs, instance, ["landed_files"]).success
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert requested(second) == set(DOWNSTREAM)


def test_a_full_publish_run_leaves_nothing_for_automation(workspace):
    workspace.land("train/a.parquet", rows=10)
    defs = build_definitions(workspace.config(), environ={})
    with dg.instance_for_test() as instance:
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        assert defs.resolve_job_def("publish_ds").execute_in_process(instance=instance).success
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert requested(result) == set()


@pytest.mark.parametrize("policy, passes, follows", [
    ("fail", False, set()),  # a failed blocking check holds the later steps back
    # Dagster's automation takes any failed blocking check as "not passed", whatever its severity: under skip the
    # check blocks nothing, or one bad file left in landing would stop the dataset's automation for good.
    ("skip", True, set(DOWNSTREAM)),
])
def test_a_bad_file_holds_the_later_steps_back_only_under_fail(workspace, policy, passes, follows):
    workspace.dataset(on_bad_file=policy)
    workspace.land("train/a.parquet", rows=10)
    raw(workspace, "train/bad.parquet", b"not parquet")
    defs = build_definitions(workspace.config(), environ={})
    with dg.instance_for_test() as instance:
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        run = materialize(defs, instance, ["landed_files"])
        assert run.success is passes and not run.get_asset_check_evaluations()[0].passed
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert requested(result) & set(DOWNSTREAM) == follows
