"""Small helpers shared by the benchmarks: medians over repetitions, case order, and the figures' wording."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any


def rotate(cases: Sequence[str], rep: int) -> list[str]:
    """The cases in another order each repetition, so none always runs first (cold caches, a fresh server)
    or last (a fuller server)."""
    k = rep % len(cases)
    return [*cases[k:], *cases[:k]]


def medians(reps: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """case → metric → median over the repetitions, for every numeric metric."""
    out: dict[str, dict[str, float]] = {}
    for case in reps[0]:
        metrics = [k for k, v in reps[0][case].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        out[case] = {m: statistics.median(rep[case][m] for rep in reps) for m in metrics}
    return out


def median_rep(reps: list[dict[str, dict[str, Any]]], case: str, key: str = "total_s") -> dict[str, Any]:
    """The repetition of `case` whose `key` is the median (the lower one of two middles): its parts add up to
    the median total, which medians taken part by part do not."""
    ordered = sorted((rep[case] for rep in reps), key=lambda c: c[key])
    return ordered[(len(ordered) - 1) // 2]


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def verdict(value: float, limit: float, at_most: bool = True) -> str:
    met = value <= limit if at_most else value >= limit
    return f"{'met' if met else '**missed**'} ({value:.2f}×, target {'≤' if at_most else '≥'} {limit}×)"


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


def secs(s: float) -> str:
    return f"{s:.1f} s" if s >= 1 else f"{s:.2f} s"
