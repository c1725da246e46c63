"""Benchmarks; each records its results under bench/results/."""
