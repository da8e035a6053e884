"""Benchmarks (`make bench`): ratios against named peers measured in one run, never timed test assertions."""
