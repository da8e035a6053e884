"""The automation condition of every step after landed_files.

`eager()` materializes a step after its upstream changed; the blocking-checks gate is added because eager alone
ignores a failed blocking check from an earlier run (dagster-notes §6), which would let shards follow landed
files that failed validation under `on_bad_file: fail`.
"""

import dagster as dg

DOWNSTREAM = dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
