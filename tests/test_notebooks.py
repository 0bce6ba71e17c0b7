"""The assignment notebooks: nbgrader accepts the sources, grade cells carry the registry's points,
the release gives nothing away, and (slow) the released notebooks run as students will run them.

Every assignment with a source notebook in solutions/<assignment>/ is covered. The slow tests copy
a released assignment folder (notebook and course_lib/) alone to an empty temporary folder, with
the public grader as the only installed package, and run its notebook in two situations: with the reference code of every task up to
and including the assignment (it must run to the end and draw its plots), and with the reference
code of the earlier assignments only (quick tests print the stub's line; "Run All" stops at the first
check cell, after its table, on one short line).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import notebook_support as nbs
import pytest
from nbgrader.nbgraderformat import MetadataValidator

from grader import paths
from grader.checks.registry import load_checks, task_points
from grader.checks.tasks import TASKS
from grader.release.stubs import make_stub, not_implemented_message, tasks_in

NOTEBOOKS = nbs.source_notebooks()
IDS = [assignment for assignment, _ in NOTEBOOKS]
#: CI budget for one notebook run with the reference code, in seconds.
BUDGET_SECONDS = 60
#: Kernel environment of the slow runs: no cached CIFAR-10, so DATASET = "auto" picks the offline
#: digits; one thread, as the autograder runs notebooks (tiny models get slower with more threads
#: on a busy machine). PYTHONPATH is set per run to the student's installed packages (grader and a
#: pristine course_lib), so the runs prove that the setup cell makes the folder's course_lib win.
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="no source notebooks yet")


@pytest.fixture(scope="module")
def checks():
    return load_checks()


@pytest.fixture(scope="module")
def released_from_source() -> dict[Path, str]:
    """nbgrader's release of every source notebook, made now (takes a few seconds)."""
    from grader.release.notebooks import released_notebooks

    return released_notebooks()


def _released(assignment: str, source: Path):
    path = nbs.released_path(assignment, source)
    assert path.is_file(), f"{path} is missing: run python -m grader release"
    return nbs.read(path)


# -------------------------------------------------------------------------- 1. nbgrader source


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_source_is_valid_nbgrader_notebook(assignment, source):
    nb = nbs.read(source)
    MetadataValidator().validate_nb(nb)  # schema, grade_id pattern, points, duplicate ids
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5), "save as nbformat 4.5 (cell ids)"
    assert nb.metadata.kernelspec.name == "python3"
    grade_ids = [nbs.nbgrader_meta(c)["grade_id"] for c in nb.cells if nbs.nbgrader_meta(c).get("grade_id")]
    assert len(grade_ids) == len(set(grade_ids)), "grade ids must be unique"
    dirty = [c.id for c in nb.cells if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"the source notebook has outputs in cells {dirty}: clear them"
    setup = nb.cells[[c.cell_type for c in nb.cells].index("code")]
    assert nbs.nbgrader_meta(setup).get("grade_id") == "setup" and nbs.nbgrader_meta(setup)["locked"], (
        "the first code cell is the locked setup cell"
    )


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_release_is_in_sync(assignment, source, released_from_source):
    path = nbs.released_path(assignment, source)
    assert path in released_from_source
    committed = path.read_text(encoding="utf-8") if path.is_file() else None
    assert committed == released_from_source[path], (
        f"{path.relative_to(paths.REPO)} is stale: run python -m grader release"
    )


# --------------------------------------------------------------------------- 2. grade cells


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_check_cells_carry_registry_points(assignment, source, checks):
    points = task_points(checks)
    expected = {task for (a, task) in points if a == assignment}
    nb = nbs.read(source)
    seen: list[str] = []
    for cell in nb.cells:
        meta, task = nbs.nbgrader_meta(cell), nbs.check_task(cell)
        if cell.cell_type == "code" and meta.get("grade"):
            assert task, f'grade cell {meta["grade_id"]!r} must be exactly check("<task>")'
        if task is None:
            continue
        assert task in expected, f"check({task!r}): {assignment} has no checks of that task"
        assert nbs.check_call(cell)[1] in (None, assignment), f"check({task!r}) names another assignment"
        assert meta.get("grade") and meta.get("locked") and not meta.get("solution"), (
            f"check({task!r}) must be a locked, graded, non-solution cell"
        )
        assert meta["grade_id"] == nbs.grade_id_for(task)
        assert meta["points"] == points[(assignment, task)], (
            f"{task}: cell has {meta['points']} points, the checks {points[(assignment, task)]:g}"
        )
        seen.append(task)
    assert len(seen) == len(set(seen)), "one check cell per task"
    assert set(seen) == expected, f"tasks without a check cell: {sorted(expected - set(seen))}"


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_written_questions(assignment, source):
    nb = nbs.read(source)
    for index, cell in enumerate(nb.cells):
        meta = nbs.nbgrader_meta(cell)
        if cell.cell_type != "markdown" or not meta.get("grade"):
            continue
        assert meta["solution"] and not meta["locked"] and meta["grade_id"].startswith("q_")
        assert 1 <= meta["points"] <= 3
        assert cell.source.strip(), f"{meta['grade_id']}: write a model answer"
        question = nb.cells[index - 1]
        assert question.cell_type == "markdown" and nbs.nbgrader_meta(question).get("locked"), (
            f"{meta['grade_id']}: the question goes in a locked markdown cell right above the answer"
        )


# ------------------------------------------------------------------------------ 3. the release


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_release_gives_nothing_away(assignment, source, checks):
    src, released = nbs.read(source), _released(assignment, source)
    text = nbs.released_path(assignment, source).read_text(encoding="utf-8")
    assert nbs.BEGIN not in text and nbs.END not in text
    assert nbs.HIDDEN_TESTS.lower() not in text.lower()
    by_id = {cell.id: cell for cell in released.cells}
    released_lines = {line.strip() for cell in released.cells for line in cell.source.splitlines()}
    for cell in src.cells:
        region = nbs.solution_region_lines(cell.source)
        if region:
            out = by_id[cell.id].source.splitlines()
            leaked = [line for line in region if line in {o.strip() for o in out}]
            assert not leaked, f"solution lines of cell {cell.id} were released: {leaked}"
        elif nbs.nbgrader_meta(cell).get("solution"):  # a model answer: replaced as a whole
            answer = {line.strip() for line in cell.source.splitlines() if len(line.strip()) > 3}
            leaked = sorted(answer & released_lines)
            assert not leaked, f"model answer {nbs.nbgrader_meta(cell)['grade_id']} was released: {leaked}"
    for item in checks:
        if item.visibility == "hidden":
            assert not re.search(rf"\b{re.escape(item.name)}\b", text), f"hidden check {item.name} named"


@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_release_is_clean_and_locked(assignment, source):
    released = _released(assignment, source)
    for cell in released.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"cell {cell.id} has outputs"
        meta = nbs.nbgrader_meta(cell)
        if meta.get("grade") or meta.get("locked"):
            assert "checksum" in meta, f"{meta['grade_id']} has no checksum"
        if meta.get("grade") and not meta.get("solution"):
            assert meta["locked"], f"grade cell {meta['grade_id']} is not locked"


def test_stub_tree_uses_the_release_stubs():
    """The slow tests' partial stubs equal the release's when every task is stubbed."""
    for module in paths.TASK_MODULES:
        source = (paths.SOLUTION_LIB / f"{module}.py").read_text(encoding="utf-8")
        assert nbs.stub_source(source, module, set(tasks_in(source))) == make_stub(source, module)


# --------------------------------------------------------------------- 4./5. running (slow)


def _run_in_student_tree(tmp_path: Path, assignment: str, source: Path, solved: set[str]) -> nbs.Run:
    folder, packages = nbs.student_tree(tmp_path / "student", assignment, solved)
    env = {**KERNEL_ENV, "COURSE_DATA_DIR": str(tmp_path / "no-data"), "PYTHONPATH": str(packages)}
    run = nbs.execute(folder / source.name, probe=True, env=env)
    print(f"{assignment}: ran for {run.seconds:.1f} s (budget {BUDGET_SECONDS} s)")
    return run


def _describe(run: nbs.Run) -> str:
    failed = nbs.error_cell(run.notebook)
    if failed is None:
        return str(run.error)
    index, output = failed
    return f"cell {index} ({run.notebook.cells[index].id}) raised {output['ename']}: {output['evalue']}"


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_notebook_runs_with_solutions(assignment, source, checks, tmp_path):
    solved = nbs.tasks_solved_by(assignment, checks, including=True)
    run = _run_in_student_tree(tmp_path, assignment, source, solved)
    if run.error is not None:
        pytest.fail(_describe(run))

    imported = nbs.probed_imports(run.notebook)
    folder = tmp_path / "student" / "download" / f"{assignment}-unzipped"
    assert Path(imported["course_lib"]).parent == folder / "course_lib", imported  # the folder's own
    assert Path(imported["grader"]).is_relative_to(tmp_path / "student" / "packages"), imported

    images = {index for index, _ in nbs.png_outputs(run.notebook)}
    plotting = [
        index
        for index, cell in enumerate(run.notebook.cells)
        if cell.cell_type == "code" and re.search(r"\bvis\.\w+\(|plt\.show\(\)", cell.source)
    ]
    assert images, "the notebook displayed no image/png"
    assert not set(plotting) - images, f"cells {sorted(set(plotting) - images)} drew no image/png"

    results = [
        o
        for c in run.notebook.cells
        if nbs.check_task(c)
        for o in c.outputs
        if o.output_type == "execute_result"
    ]
    assert not results, f"check cells must return nothing (nbgrader would read it as a grade): {results}"

    if run.seconds > BUDGET_SECONDS:
        warnings.warn(f"{assignment} took {run.seconds:.0f} s (budget {BUDGET_SECONDS} s)", stacklevel=1)
    assert run.seconds < 3 * BUDGET_SECONDS


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "source"), NOTEBOOKS, ids=IDS)
def test_notebook_stops_at_first_task_on_stubs(assignment, source, checks, tmp_path):
    cells = nbs.read(nbs.released_path(assignment, source)).cells
    setup = next(i for i, c in enumerate(cells) if nbs.nbgrader_meta(c).get("grade_id") == "setup")
    first_check = next(i for i, c in enumerate(cells) if nbs.check_task(c))
    task = nbs.check_task(cells[first_check])

    solved = nbs.tasks_solved_by(assignment, checks, including=False)
    run = _run_in_student_tree(tmp_path, assignment, source, solved)
    failed = nbs.error_cell(run.notebook)
    assert run.error is not None and failed is not None, "the notebook ran through on the stubs"
    index, output = failed
    assert index == first_check, f"expected the first check cell ({task}) to stop Run All; {_describe(run)}"
    # The quick test before it printed the stub's line instead of raising.
    printed = [o.get("text", "") for c in run.notebook.cells[setup + 1 : index] for o in c.get("outputs", [])]
    assert any(not_implemented_message(task, TASKS[task].module) in text for text in printed), printed
    # The check cell shows its table, then one short line (no traceback into the grader).
    kinds = [o["output_type"] for o in run.notebook.cells[index].outputs]
    assert kinds == ["display_data", "error"], kinds
    assert output["ename"] == "ChecksFailed", _describe(run)
    assert len(output["traceback"]) == 1 and task in output["traceback"][0], output["traceback"]
    assert not_implemented_message(task, TASKS[task].module) in output["evalue"], output["evalue"]
