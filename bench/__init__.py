"""Benchmarks: each script measures the project and its baseline in one run and prints the ratio."""
