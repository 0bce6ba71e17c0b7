"""The capstone earns points only for a training the grader runs itself: a configuration that
claims an accuracy earns nothing, an over-budget or malformed one is refused with a message."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader import paths
from grader.checks.reference import load_reference
from grader.cli.check import grade
from grader.sandbox.launch import SandboxPolicy

REFERENCE = load_reference()
LOCAL = SandboxPolicy(use_bwrap=False)
WEAK = (
    '{"hidden_dims": [16], "weight_scale": 0.01, "update_rule": "sgd", "learning_rate": 0.01, '
    '"batch_size": 128, "num_epochs": 1}'
)


def submission_returning(tmp_path: Path, body: str) -> Path:
    """A submission whose get_capstone_config runs ``body`` (the rest is the reference)."""
    source = (paths.SOLUTION_LIB / "fc_net.py").read_text()
    start = source.index("def get_capstone_config()")
    head, _, _ = source[start:].partition("    ### BEGIN SOLUTION\n")
    folder = tmp_path / "course_lib"
    folder.mkdir()
    (folder / "fc_net.py").write_text(source[:start] + head + body)
    for module in ("layers", "optim"):
        (folder / f"{module}.py").write_text((paths.SOLUTION_LIB / f"{module}.py").read_text())
    return tmp_path


def capstone(submission: Path) -> dict[str, tuple[bool, str]]:
    results = grade(submission, ["a4_normalization"], hidden=True, tasks=["get_capstone_config"],
                    policy=LOCAL, reference=REFERENCE)  # fmt: skip
    return {r.check: (r.passed, r.message) for r in results}


def test_reference_configuration_earns_every_point():
    results = capstone(paths.SOLUTIONS)
    assert len(results) == 4 and all(passed for passed, _ in results.values()), results


def test_forged_accuracy_earns_nothing(tmp_path):
    body = f"    return {{**{WEAK}, 'accuracy': 1.0}}\n"
    results = capstone(submission_returning(tmp_path, body))
    assert not any(passed for passed, _ in results.values()), results
    assert all("unknown keys ['accuracy']" in message for _, message in results.values()), results


def test_weak_configuration_is_trained_not_believed(tmp_path):
    """The student's code prints and stores a perfect accuracy; the grader's own training decides."""
    body = (
        "    print('test accuracy: 1.0')\n"
        "    import builtins\n"
        "    builtins.CAPSTONE_ACCURACY = 1.0\n"
        f"    return {WEAK}\n"
    )
    results = capstone(submission_returning(tmp_path, body))
    assert results["capstone_config_valid"] == (True, "")
    for name in ("capstone_accuracy_090", "capstone_accuracy_095", "capstone_accuracy_0965"):
        passed, message = results[name]
        assert not passed and "mean test accuracy of" in message, (name, message)


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ('{"hidden_dims": [1024, 1024], "weight_scale": 0.05, "update_rule": "adam", "learning_rate": 1e-3, '
         '"batch_size": 64, "num_epochs": 10}', "parameters, over the budget of 100,000"),
        ('{"hidden_dims": [100], "weight_scale": 0.05, "update_rule": "adam", "learning_rate": 1e-3, '
         '"batch_size": 64, "num_epochs": 500}', "'num_epochs' must be an int in 1..20"),
        ('{"hidden_dims": [100], "weight_scale": 0.05, "update_rule": "adam", "learning_rate": float("nan"), '
         '"batch_size": 64, "num_epochs": 5}', "'learning_rate' must be a float in (0, 10]"),
        ('{"hidden_dims": [100], "update_rule": "adam", "learning_rate": 1e-3, "batch_size": 64, "num_epochs": 5}',
         "has no 'weight_scale'"),
        ('"adam with lr 1e-3"', "expected a dict"),
    ],
    ids=["over-budget", "too-many-epochs", "nan", "missing-key", "not-a-dict"],
)  # fmt: skip
def test_malformed_or_over_budget_is_refused_with_a_message(tmp_path, returned, expected):
    results = capstone(submission_returning(tmp_path, f"    return {returned}\n"))
    assert not any(passed for passed, _ in results.values()), results
    for _, message in results.values():
        assert expected in message, message
