"""The batch grader runs on any concurrent.futures.Executor: here a Dask LocalCluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import paths
from grader.autograde.batch import BatchOptions, autograde
from grader.demo import ASSIGNMENT, _student_files, _zip
from grader.results import SubmissionResult
from grader.sandbox.launch import SandboxPolicy, bwrap_path


def _uploads(folder: Path) -> list[Path]:
    folder.mkdir()
    partial = _student_files(paths.COURSE_LIB)
    partial["course_lib/layers.py"] = (paths.SOLUTION_LIB / "layers.py").read_bytes()
    uploads = {"ada": _student_files(paths.SOLUTION_LIB), "ben": partial}
    for student, files in uploads.items():
        (folder / f"{student}.zip").write_bytes(_zip(files))
    return sorted(folder.iterdir())


def _checks(results: list[SubmissionResult]) -> dict[str, list[tuple[str, float, str]]]:
    return {r.student: [(c.check, c.points, c.message) for c in r.checks] for r in results}


@pytest.mark.slow
def test_dask_cluster_grades_like_the_local_pool(tmp_path: Path):
    distributed = pytest.importorskip("distributed")
    uploads = _uploads(tmp_path / "uploads")
    policy = SandboxPolicy(use_bwrap=bwrap_path() is not None)
    local = autograde(uploads, BatchOptions(ASSIGNMENT, tmp_path / "local", policy, execute_notebooks=False))
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        distributed.Client(cluster) as client,
    ):
        options = BatchOptions(ASSIGNMENT, tmp_path / "dask", policy, execute_notebooks=False)
        remote = autograde(uploads, options, executor=client.get_executor())
    assert _checks(remote) == _checks(local)
    scores = {r.student: r.score for r in remote}
    assert scores["ada"] == max(r.max_score for r in remote) > scores["ben"] > 0
    assert (tmp_path / "dask" / "exports" / "grades.csv").read_text() == (
        tmp_path / "local" / "exports" / "grades.csv"
    ).read_text()
