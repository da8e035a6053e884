"""One PNG per benchmark, drawn from the run's results (medians; a stacked bar is the median repetition, whose
parts add up to the median total), so the plots always match the tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display here, and none wanted: files only
import matplotlib.pyplot as plt  # after the backend is chosen

from upload_pipeline_tests.bench.measure import mb, median_rep

_OURS, _PEER, _LIMIT = "#1f77b4", "#ff7f0e", "#9e9e9e"
_PARTS = ("#1f77b4", "#6baed6", "#c6dbef", "#08519c")


def _stacked(ax, rows: list[tuple[str, list[tuple[str, float]], str | None]], xlabel: str) -> None:
    """Horizontal bars, each a stack of (part, seconds); `color` None colours the parts one by one."""
    for y, (_, parts, color) in enumerate(reversed(rows)):
        left = 0.0
        for i, (part, value) in enumerate(parts):
            ax.barh(y, value, left=left, color=color or _PARTS[i % len(_PARTS)], edgecolor="white",
                    hatch="//" if color == _LIMIT else None)
            if value > 0.08 * max(sum(v for _, v in p) for _, p, _ in rows):
                ax.text(left + value / 2, y, part, ha="center", va="center", fontsize=7)
            left += value
        ax.text(left, y, f"  {left:.1f} s" if left >= 1 else f"  {left:.2f} s", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=8)
    ax.set_xlabel(xlabel)
    ax.margins(x=0.12)


def hub(res: dict[str, Any], limits: dict[str, Any] | None, path: Path) -> None:
    o, c, f, fc, p = (median_rep(res["reps"], case)
                      for case in ("ours", "ours_copy", "upload_folder", "upload_folder_copy", "push_to_hub"))
    rows = [("ours", [("validate", o["validate_s"]), ("shard", o["shard_s"]), ("card", o["card_s"]),
                      ("upload", o["upload_s"])], None),
            ("ours, copying\nfitting files", [("validate", c["validate_s"]), ("copy", c["shard_s"]),
                                              ("card", c["card_s"]), ("upload", c["upload_s"])], None),
            ("upload_folder\n(our shards)", [("upload", f["total_s"])], _PEER),
            ("upload_folder\n(copied tree)", [("upload", fc["total_s"])], _PEER),
            ("load_dataset +\npush_to_hub", [("load", p["load_s"]), ("push", p["push_s"])], _PEER)]
    if limits:
        put = o["lfs_bytes"] / (limits["hub_put"]["mb_s"] * 1e6)
        rows.append(("limit: pyarrow\nrewrite + raw PUT", [("rewrite", limits["parquet"]["rewrite_s"]),
                                                            ("PUT", put)], _LIMIT))
    fig, ax = plt.subplots(figsize=(8, 4.2))
    _stacked(ax, rows, "seconds (median)")
    ax.set_title(f"Full publish to the local Hub, {res['input_bytes'] / 1e6:.0f} MB of parquet in "
                 f"{res['files']} files", fontsize=10)
    _save(fig, path)


def append(res: dict[str, Any], path: Path) -> None:
    m = res["median"]
    o, p, full = m["ours"], m["push_to_hub"], m["ours_full"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3))
    _bars(left, [("new shard", o["new_shard_bytes"] / 1e6, _LIMIT), ("ours", o["bytes_sent"] / 1e6, _OURS),
                 ("push_to_hub\nagain", p["bytes_sent"] / 1e6, _PEER)], "MB sent (median)")
    _bars(right, [("ours: append", o["wall_s"], _OURS), ("ours: full\npublish", full["total_s"], _LIMIT),
                  ("push_to_hub\nagain", p["wall_s"], _PEER)], "seconds (median)")
    fig.suptitle(f"Append {mb(res['append_bytes'])} to {mb(res['input_bytes'])} published",
                 fontsize=10)
    _save(fig, path)


def s3(res: dict[str, Any], limits: dict[str, Any] | None, path: Path) -> None:
    m = res["median"]
    bars = [("ours", m["ours"]["mb_s"], _OURS),
            ("ours\nupload_checksum:\nsha256", m["ours_sha256"]["mb_s"], _OURS),
            ("boto3\nupload_file", m["boto3"]["mb_s"], _PEER)]
    if "aws" in m:
        bars.append(("aws s3 sync", m["aws"]["mb_s"], _PEER))
    if limits:
        put = limits["s3_put"]
        bars += [("raw PUT\n1 stream", put["one_stream_mb_s"], _LIMIT),
                 (f"raw PUT\n{put['streams']} streams", put["streams_mb_s"], _LIMIT)]
    fig, ax = plt.subplots(figsize=(8, 3))
    _bars(ax, bars, "MB/s (median)")
    ax.set_title(f"S3 copy of {res['bytes'] / 1e6:.0f} MB in {res['files']} files — {res['server']}", fontsize=10)
    _save(fig, path)


def memory(results: list[dict[str, Any]], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3))
    x = [r["input_mb"] for r in results]
    ax.plot(x, [r["ours"]["rss_mb"] for r in results], "o-", color=_OURS, label="ours (validate + shard)")
    ax.plot(x, [r["peer"]["rss_mb"] for r in results], "s--", color=_PEER, label="pyarrow read_table + write_table")
    ax.set_xlabel("input MB")
    ax.set_ylabel("peak RSS MB")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title("Peak memory of the shard step", fontsize=10)
    _save(fig, path)


def _bars(ax, bars: list[tuple[str, float, str]], ylabel: str) -> None:
    ax.bar(range(len(bars)), [v for _, v, _ in bars], color=[c for _, _, c in bars], edgecolor="white")
    for i, (_, value, _) in enumerate(bars):
        ax.text(i, value, f"{value:.0f}" if value >= 10 else f"{value:.1f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(bars)), [label for label, _, _ in bars], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.margins(y=0.15)


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
