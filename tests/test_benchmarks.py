"""The benchmarks still run (smoke mode). Their numbers are reported, never asserted: see BENCHMARKS.md."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grader import paths


@pytest.mark.slow
@pytest.mark.parametrize("script", ["train_step", "gradcheck", "batch_grading"])
def test_benchmark_runs_and_prints_a_ratio(script):
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{script}", "--quick"],
        cwd=paths.REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio" in done.stdout or "rate vs nbgrader" in done.stdout, done.stdout
    print(done.stdout)
