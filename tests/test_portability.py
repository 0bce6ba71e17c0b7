"""The grader works on any machine: stored references are compared by dtype-aware tolerances,
the child runs the grader's float kernels, no activated venv is needed, and nothing a student
or grader reads names a path of the grading machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grader import paths
from grader.checks.reference import REPRODUCE_TOLERANCE, ReferenceStore, values_equal
from grader.sandbox import launch
from grader.sandbox.redact import redact


def _ulps(value: torch.Tensor, count: int) -> torch.Tensor:
    """``value`` moved ``count`` units in the last place away from zero."""
    result = value.clone()
    for _ in range(count):
        result = torch.nextafter(result, result.sign() * torch.inf)
    return result


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float_references_tolerate_last_bit_differences_only(dtype: torch.dtype):
    stored = torch.tensor([1.0, -3.5, 1e-3, 250.0], dtype=dtype)
    assert values_equal(_ulps(stored, 4), stored)
    rtol, _ = REPRODUCE_TOLERANCE[dtype]
    assert not values_equal(stored * (1 + 20 * rtol), stored)
    assert not values_equal(stored.to(torch.float16), stored)
    assert not values_equal(stored[:3], stored)
    nan = stored.clone()
    nan[0] = torch.nan
    assert values_equal(nan.clone(), nan) and not values_equal(stored, nan)


def test_tolerance_is_relative_to_the_tensor_scale():
    """A value near zero from cancellation is compared at the scale of its tensor."""
    stored = torch.tensor([1000.0, 1e-9], dtype=torch.float32)
    assert values_equal(torch.tensor([1000.0, 2e-6]), stored)
    assert not values_equal(torch.tensor([1000.0, 1e-2]), stored)


def test_everything_but_floats_reproduces_exactly():
    assert not values_equal(torch.tensor([1, 2]), torch.tensor([1, 3]))
    assert not values_equal(torch.tensor([True]), torch.tensor([False]))
    assert not values_equal(3, 4) and not values_equal(1, 1.0) and not values_equal("a", "b")
    assert values_equal({"a": (1, 2.0)}, {"a": (1, 2.0 * (1 + 1e-9))})
    assert not values_equal({"a": (1, 2.0)}, {"a": [1, 2.0]})


def test_the_child_runs_the_graders_float_kernels(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.setenv("SOME_SECRET", "x")
    environment = launch.child_environment()
    assert environment["ATEN_CPU_CAPABILITY"] == "default"
    assert "SOME_SECRET" not in environment


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("(/sandbox/inbox/18928194/course_lib/layers.py)", "(course_lib/layers.py)"),
        ('File "/tmp/grader-x1/course_lib/fc_net.py", line 3', 'File "course_lib/fc_net.py", line 3'),
        ("\x1b[32m/sandbox/work/course_lib/optim.py:9\x1b[39m", "\x1b[32mcourse_lib/optim.py:9\x1b[39m"),
        ("course_lib from /sandbox/work/course_lib; torch", "course_lib from course_lib; torch"),
        (f"{paths.REPO}/course_lib/data.py", "course_lib/data.py"),
        ("see https://example.org/assignments/a1", "see https://example.org/assignments/a1"),
    ],
)
def test_redact_names_the_students_files(text: str, shown: str):
    assert redact(text) == shown


def test_redact_hides_the_python_installation():
    site_packages = Path(torch.__file__).parent.parent
    assert redact(f'File "{site_packages}/torch/x.py"') == 'File "site-packages/torch/x.py"'


#: Written by the batch for students and graders (``submitted/`` holds the students' own files).
OUTPUTS = ("exports", "results", "autograded", "summary.json")


@pytest.mark.slow
def test_demo_without_an_activated_venv_names_no_machine_path(tmp_path: Path):
    """The venv's python alone (as cron or systemd would call it) grades the sample class;
    no output file names a sandbox folder, the repository or the Python installation, and the
    notebooks run without fontconfig noise or errors."""
    environment = {
        key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    environment["PATH"] = "/usr/bin:/bin"
    out = tmp_path / "demo"
    process = subprocess.run(
        [sys.executable, "-m", "grader", "demo", "--out", str(out)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert process.returncode == 0, process.stdout + process.stderr
    course = out / "course"
    assert set(json.loads((course / "summary.json").read_text())["full_marks"]) == {"alice", "carol"}
    forbidden = ["/sandbox/", "Fontconfig error", str(paths.REPO), sys.prefix, str(tmp_path)]
    found = []
    for name in OUTPUTS:
        for file in [course / name, *(course / name).rglob("*")]:
            if file.is_file():
                text = file.read_text(errors="replace")
                found += [f"{file.relative_to(course)}: {word}" for word in forbidden if word in text]
    assert not found, found
    # The reference's notebook, executed in the sandbox for graders, runs without an error.
    executed = json.loads(
        (course / "autograded/alice/a1_fully_connected/a1_fully_connected.ipynb").read_text()
    )
    errors = [o for c in executed["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, [(o["ename"], o["evalue"]) for o in errors]


def test_regenerating_references_keeps_what_reproduces(tmp_path: Path):
    """``references`` rewrites no file whose values all reproduce (another CPU's last bits
    included), and ``--check`` names stored values no check asks for any more."""
    fake_reference = object()
    first = ReferenceStore("record", fake_reference, root=tmp_path)
    first.value("public/a.npz", "c/x", lambda _: torch.tensor([1.0, 2.0]))
    first.value("public/a.npz", "c/old", lambda _: 3)
    assert first.save() == [tmp_path / "public/a.npz"]
    again = ReferenceStore("record", fake_reference, root=tmp_path)
    again.value("public/a.npz", "c/x", lambda _: torch.tensor([1.0, 2.0 + 1e-7]))
    again.value("public/a.npz", "c/old", lambda _: 3)
    assert again.save() == []
    verify = ReferenceStore("verify", fake_reference, root=tmp_path)
    verify.value("public/a.npz", "c/x", lambda _: torch.tensor([1.0, 2.0]))
    assert verify.mismatches == []
    assert verify.unused() == ["public/a.npz: c/old is stored but no check asks for it"]
