"""`python -m upload_pipeline_tests.bench [--quick] [--only NAME ...] [--out DIR]`: run the benchmarks, print
the tables, write results.json and tables.md into --out and the plots into --plots (docs/ by default)."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from upload_pipeline_tests.bench import latency, plots, shard_memory, suite

ALL = ("memory", "latency", *suite.NAMES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs and one repetition, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=ALL, help="run these benchmarks only")
    parser.add_argument("--base-mb", type=float, default=None, help="1× input size for the memory benchmark")
    parser.add_argument("--size-mb", type=float, default=None, help="landing set size (default 1000; quick 50)")
    parser.add_argument("--files", type=int, default=20, help="files in the landing set, over 3 splits")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case (default 3; quick 1)")
    parser.add_argument("--s3", choices=["radosgw", "moto"], default=None,
                        help="S3 server (default radosgw, moto when it cannot start; quick: moto)")
    parser.add_argument("--work", type=Path, default=None, help="keep the generated landing set here for reuse")
    parser.add_argument("--out", type=Path, default=Path("bench_out"), help="where results.json goes")
    parser.add_argument("--plots", type=Path, default=None, help="where the PNGs go (default docs/; quick: --out)")
    args = parser.parse_args()
    selected = set(args.only or ALL)
    plots_dir = args.plots or (args.out if args.quick else Path("docs"))
    args.out.mkdir(parents=True, exist_ok=True)
    results, sections = {}, []

    def emit(section: str) -> None:
        print("\n" + section, flush=True)
        sections.append(section)

    try:
        _run(args, selected, plots_dir, results, emit)
    finally:  # whatever finished is kept
        (args.out / "results.json").write_text(json.dumps(results, indent=1))
        (args.out / "tables.md").write_text("\n\n".join(sections) + "\n")


def _run(args: argparse.Namespace, selected: set[str], plots_dir: Path, results: dict,
         emit: Callable[[str], None]) -> None:
    if "memory" in selected:
        base = args.base_mb or (20 if args.quick else 250)
        with tempfile.TemporaryDirectory(prefix="upload-pipeline-bench-") as tmp:
            results["shard_memory"] = shard_memory.run(Path(tmp), base)
        emit("## Peak memory of the shard step\n\n" + shard_memory.table(results["shard_memory"]))
        plots.memory(results["shard_memory"], plots_dir / "bench-memory.png")
    if "latency" in selected:
        results["latency"] = latency.landing_latency(3 if args.quick else 7)
        results["sensor_tick"] = latency.sensor_tick(1000 if args.quick else 10_000)
        emit("## File landed → published (dagster dev, local default)\n\n"
             + latency.tables(results["latency"], results["sensor_tick"]))
    if selected & set(suite.NAMES):
        settings = suite.Settings(megabytes=args.size_mb or (50 if args.quick else 1000), files=args.files,
                                  reps=args.reps or (1 if args.quick else 3),
                                  s3_server=args.s3 or ("moto" if args.quick else "radosgw"), work=args.work)
        suite.run(settings, selected, plots_dir, emit, results.setdefault("suite", {}))


if __name__ == "__main__":
    main()
