"""Assignments that travel: a released assignment folder carries course_lib/, the student's work
moves between assignments with ``grader carry-over`` (their own files only, never over their edits),
``grader submit`` zips the folder's layout, and intake takes it, nbgrader's collected layout and
the older repository layout alike. (That a folder copied alone runs its notebook is
tests/test_notebooks.py's slow tests, which run every notebook that way.)"""

from __future__ import annotations

import argparse
import shutil
import zipfile
from pathlib import Path

import pytest

from grader import paths
from grader.autograde import intake
from grader.cli import carry_over
from grader.cli import check as run
from grader.cli.release import released_course_libs, released_stubs
from grader.release.stubs import BEGIN, END
from grader.student import submit, workspace

A1, A2 = "a1_fully_connected", "a2_optimizers"


def solved(module: str) -> str:
    """The reference ``module`` as a student who solved every task would have it (no markers)."""
    lines = (paths.SOLUTION_LIB / f"{module}.py").read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if line.strip() not in (BEGIN, END))


def fetched(home: Path, assignment: str, name: str | None = None) -> Path:
    """The released folder of ``assignment`` copied alone under ``home`` (as nbgrader fetches it)."""
    folder = home / (name or assignment)
    shutil.copytree(paths.ASSIGNMENTS / assignment, folder)
    return folder


def test_the_release_puts_course_lib_in_every_assignment_folder():
    files = released_course_libs(dict(released_stubs()), list(paths.ASSIGNMENT_NAMES))
    for assignment in paths.ASSIGNMENT_NAMES:
        lib = paths.ASSIGNMENTS / assignment / "course_lib"
        for module in (*paths.GIVEN_MODULES, *paths.TASK_MODULES):
            expected = (paths.COURSE_LIB / f"{module}.py").read_text()
            assert files[lib / f"{module}.py"] == expected == (lib / f"{module}.py").read_text(), (
                f"{assignment}/course_lib/{module}.py differs from the released course_lib"
            )
        setup = (paths.ASSIGNMENTS / assignment / f"{assignment}.ipynb").read_text()
        assert "parents[1]" in setup and "sys.path.insert(0, str(HERE))" in setup


def _carry(home: Path, source: str, target: str, force: bool = False) -> int:
    return carry_over.main(argparse.Namespace(source=source, target=target, force=force))


def test_carry_over_copies_only_the_students_changed_files(tmp_path, monkeypatch, capsys):
    a1, a2 = fetched(tmp_path, A1), fetched(tmp_path, A2)
    for module in ("layers", "fc_net"):
        (a1 / "course_lib" / f"{module}.py").write_text(solved(module))
    monkeypatch.chdir(tmp_path)
    assert _carry(tmp_path, A1, A2) == 0
    out = capsys.readouterr().out
    assert "copied    layers.py" in out and "copied    fc_net.py" in out
    assert "skipped   optim.py" in out  # a1's optim.py is still the released stub
    for module in ("layers", "fc_net"):
        assert (a2 / "course_lib" / f"{module}.py").read_text() == solved(module)
    assert (a2 / "course_lib" / "optim.py").read_bytes() == (paths.COURSE_LIB / "optim.py").read_bytes()

    # Edited in a2 since: refused without --force (nothing touched), kept as .bak with it.
    mine = a2 / "course_lib" / "layers.py"
    mine.write_text(solved("layers") + "\n# my a2 fix\n")
    (a1 / "course_lib" / "layers.py").write_text(solved("layers") + "\n# a later a1 edit\n")
    assert _carry(tmp_path, A1, A2) == 1
    assert "refused   layers.py" in capsys.readouterr().out
    assert mine.read_text().endswith("# my a2 fix\n")
    assert _carry(tmp_path, A1, str(a2), force=True) == 0  # TO named by its folder
    assert mine.read_text().endswith("# a later a1 edit\n")
    assert (a2 / "course_lib" / "layers.py.bak").read_text().endswith("# my a2 fix\n")
    assert "same      fc_net.py" in capsys.readouterr().out


def test_carry_over_never_copies_reference_code(tmp_path, monkeypatch, capsys):
    a1, a2 = fetched(tmp_path, A1), fetched(tmp_path, A2)
    shutil.copyfile(paths.SOLUTION_LIB / "layers.py", a1 / "course_lib" / "layers.py")
    monkeypatch.chdir(tmp_path)
    assert _carry(tmp_path, A1, A2) == 1
    assert "reference solution markers" in capsys.readouterr().out
    assert (a2 / "course_lib" / "layers.py").read_bytes() == (paths.COURSE_LIB / "layers.py").read_bytes()
    monkeypatch.chdir(paths.REPO)
    assert _carry(paths.REPO, "solutions", A2) == 2  # not an assignment folder


def test_check_and_submit_find_the_folder_they_run_in(tmp_path, monkeypatch):
    folder = fetched(tmp_path, A1, name="downloaded a1")  # unzipped under another name
    (folder / "course_lib" / "layers.py").write_text(solved("layers"))
    monkeypatch.chdir(folder)
    assert workspace.locate(A1).folder == folder.resolve()
    assert run._submission(None, [A1]) == folder.resolve() / "course_lib"
    assert submit.validate(A1) == []
    zip_path = submit.build(A1, tmp_path / "upload.zip")
    names = set(zipfile.ZipFile(zip_path).namelist())
    assert names == {"course_lib/layers.py", "course_lib/fc_net.py", "course_lib/optim.py",
                     f"{A1}.ipynb", "manifest.json"}  # fmt: skip
    taken = intake.intake(tmp_path / "upload.zip", A1, tmp_path / "taken")
    assert taken.problems == [] and len(taken.notebooks) == 1
    assert (taken.root / "course_lib" / "layers.py").read_text() == solved("layers")


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return path


def test_intake_prefers_the_assignment_folder_over_a_zipped_repository_root(tmp_path):
    stub, work = (paths.COURSE_LIB / "layers.py").read_bytes(), solved("layers").encode()
    notebook = (paths.ASSIGNMENTS / A1 / f"{A1}.ipynb").read_bytes()
    upload = _zip(
        tmp_path / "s1.zip",
        {
            "bundle/course_lib/layers.py": stub,
            f"bundle/assignments/{A1}/course_lib/layers.py": work,
            f"bundle/assignments/{A1}/{A1}.ipynb": notebook,
        },
    )
    taken = intake.intake(upload, A1, tmp_path / "taken")
    assert (taken.root / "course_lib" / "layers.py").read_bytes() == work
    assert [p.name for p in taken.notebooks] == [f"{A1}.ipynb"]
    old = _zip(tmp_path / "s2.zip", {"course_lib/layers.py": work, f"assignments/{A1}/{A1}.ipynb": notebook})
    taken = intake.intake(old, A1, tmp_path / "taken-old")
    assert (taken.root / "course_lib" / "layers.py").read_bytes() == work and len(taken.notebooks) == 1


def test_intake_takes_nbgraders_collected_layout(tmp_path):
    """``submitted/<student>/`` as ``nbgrader collect`` writes it, with two assignments inside."""
    student = tmp_path / "submitted" / "alice"
    for assignment, module in ((A1, "layers"), (A2, "optim")):
        folder = fetched(student, assignment)
        (folder / "course_lib" / f"{module}.py").write_text(solved(module))
        (folder / "timestamp.txt").write_text("2026-03-01 12:34:56.789000 UTC")
        (folder / "submission_secret.txt").write_text("ab" * 64)
    taken = intake.intake(student, A2, tmp_path / "taken")
    assert (taken.root / "course_lib" / "optim.py").read_text() == solved("optim")
    assert (taken.root / "course_lib" / "layers.py").read_bytes() == (
        paths.COURSE_LIB / "layers.py"
    ).read_bytes()
    assert [p.name for p in taken.notebooks] == [f"{A2}.ipynb"]
    assert taken.timestamp == "2026-03-01 12:34:56.789000 UTC" and taken.secret == "ab" * 64
    assert taken.problems == []


@pytest.mark.parametrize("secret", ["", "not hex at all", "ab" * 200])
def test_a_malformed_nbgrader_secret_is_ignored(tmp_path, secret):
    folder = fetched(tmp_path / "bob", A1)
    (folder / "submission_secret.txt").write_text(secret)
    assert intake.intake(tmp_path / "bob", A1, tmp_path / "taken").secret is None
