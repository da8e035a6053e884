"""The benchmarks that need the landing set and the servers: hub, append, s3, limits — one run, shared data.

Everything lives under a scratch folder that is emptied before and after, and every server is stopped on the
way out, whatever failed. Only the generated landing set may be kept between runs (`work` given), because
generating it is the slow part and it is deterministic.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from upload_pipeline_tests.bench import append, hub_publish, landing_set, limits, plots, s3_copy, servers, workspace
from upload_pipeline_tests.bench.measure import mb

NAMES = ("hub", "append", "s3", "limits")


@dataclass(frozen=True)
class Settings:
    megabytes: float = 1000
    files: int = 20
    reps: int = 3
    s3_server: str = "radosgw"
    work: Path | None = None  # keeps the landing set between runs; a temporary folder otherwise


def run(settings: Settings, selected: set[str], plots_dir: Path, emit: Callable[[str], None] = print,
        results: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the `selected` benchmarks, `emit` each one's markdown section as it ends and write the plots.

    The results go into `results` as each benchmark ends (so a caller keeps what finished if a later one
    fails), which is also returned.
    """
    results = {} if results is None else results
    results["settings"] = {**settings.__dict__, "work": str(settings.work)}
    with ExitStack() as stack:
        stack.enter_context(_quiet())
        work = settings.work or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="upload-pipeline-bench-")))
        scratch = work / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)  # runs after the servers stopped
        landing = landing_set.make(work / "landing-set", settings.megabytes, settings.files)
        results["landing"] = {"bytes": landing.bytes, "rows": landing.rows, "files": len(landing.files),
                              "append_bytes": landing.append_file.stat().st_size}
        print(f"landing set: {mb(landing.bytes)}, {landing.rows:,} rows in {len(landing.files)} files",
              flush=True)
        hub = stack.enter_context(servers.hub_server(scratch / "hub")) if selected - {"s3"} else None
        s3 = stack.enter_context(servers.s3_server(settings.s3_server, scratch)) if selected & {"s3", "limits"} \
            else None
        lim = None
        if "limits" in selected:  # first, while the servers are empty
            lim = {"input_bytes": landing.bytes, "parquet": limits.parquet(landing),
                   "hub_put": limits.hub_put(hub.info, landing.bytes), "s3_put": limits.s3_put(s3[0], landing.bytes)}
            results["limits"] = lim
            emit("## Physical limits\n\n" + limits.table(lim))
        if "hub" in selected:
            res = results["hub"] = hub_publish.run(landing, hub, scratch / "hub-runs", settings.reps)
            emit("## Full publish to the Hub\n\n" + hub_publish.table(res, lim))
            plots.hub(res, lim, plots_dir / "bench-hub.png")
        if "append" in selected:
            res = results["append"] = append.run(landing, hub, scratch / "append-runs", settings.reps)
            emit("## Append one file\n\n" + append.table(res))
            plots.append(res, plots_dir / "bench-append.png")
        if "s3" in selected:
            ds = workspace.dataset()
            paths = workspace.folder(scratch / "s3-staged", landing)
            workspace.stage(ds, paths)
            # Twice the repetitions: one takes seconds, and the server's throughput varies by ±10 % between them.
            res = results["s3"] = s3_copy.run(ds, paths, s3[0], s3[1], scratch, 2 * settings.reps)
            emit("## S3 copy\n\n" + s3_copy.table(res, lim))
            plots.s3(res, lim, plots_dir / "bench-s3.png")
    return results


@contextmanager
def _quiet() -> Iterator[None]:
    """No progress bars or per-shard log lines from the clients while the benchmarks run: the tables are the
    output. Restored after, since a test process goes on."""
    import datasets
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    from huggingface_hub.utils import logging as hub_logging

    saved = (datasets.is_progress_bar_enabled(), datasets.logging.get_verbosity(), are_progress_bars_disabled(),
             hub_logging.get_verbosity())
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    disable_progress_bars()
    hub_logging.set_verbosity_error()
    try:
        yield
    finally:
        if saved[0]:
            datasets.enable_progress_bars()
        datasets.logging.set_verbosity(saved[1])
        if not saved[2]:
            enable_progress_bars()
        hub_logging.set_verbosity(saved[3])
