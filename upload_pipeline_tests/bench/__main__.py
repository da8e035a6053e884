"""`python -m upload_pipeline_tests.bench [--quick] [--out DIR]`: run the benchmarks and print tables."""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from upload_pipeline_tests.bench import latency, shard_memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--base-mb", type=float, default=None, help="1× input size for the memory benchmark")
    parser.add_argument("--out", type=Path, default=Path("bench_out"), help="where results.json goes")
    parser.add_argument("--only", choices=["memory", "latency"], help="run one benchmark")
    args = parser.parse_args()
    base = args.base_mb or (20 if args.quick else 250)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.only in (None, "memory"):
        with tempfile.TemporaryDirectory(prefix="upload-pipeline-bench-") as tmp:
            results["shard_memory"] = shard_memory.run(Path(tmp), base)
        print("## Peak memory of the shard step\n")
        print(shard_memory.table(results["shard_memory"]))
    if args.only in (None, "latency"):
        results["latency"] = latency.landing_latency(3 if args.quick else 7)
        results["sensor_tick"] = latency.sensor_tick(1000 if args.quick else 10_000)
        print("\n## File landed → published (dagster dev, local default)\n")
        print(latency.tables(results["latency"], results["sensor_tick"]))
    (args.out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
