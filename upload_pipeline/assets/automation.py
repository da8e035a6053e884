"""How the steps run: the automation condition of every step after landed_files, and the staging pool.

`eager()` materializes a step after its upstream changed; the blocking-checks gate is added because eager alone
ignores a failed blocking check from an earlier run (dagster-notes §6), which would let shards follow landed
files that failed validation under `on_bad_file: fail`.
"""

import dagster as dg

DOWNSTREAM = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()


def staging_pool(name: str) -> str:
    """landed_files, shards and dataset_card of one dataset write its staged tree and state (the shards' journal
    and scratch folder among them), so across runs they go one at a time: a second run's recovery of the journal
    must never meet a first run's shards half-written. dagster.yaml limits every pool to 1."""
    return f"staging/{name}"
