"""Turn uploads (zips from ``grader submit`` or an LMS, or folders) into checked submission trees.

Only the files a submission may contain are extracted: the task modules of ``course_lib/`` and
the assignment's notebooks, plus the manifest. Paths are never trusted (no absolute paths, no
``..``, no links), sizes are bounded before anything is written, and every problem is recorded
on the submission instead of raised, so one bad upload never stops a batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader import paths, untrusted

MAX_FILE_BYTES = 5 * 1024**2
MAX_TOTAL_BYTES = 20 * 1024**2
MAX_MEMBERS = 500
MAX_ID_LENGTH = 64
STUDENT_ID = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.@-]{{0,{MAX_ID_LENGTH - 1}}}$")
MANIFEST = "manifest.json"
#: How nbgrader writes ``timestamp.txt`` (its ``Exchange.timestamp_format``), always in UTC here.
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


@dataclass
class Submission:
    """One student's files, unpacked under ``root`` with the repository's layout."""

    student: str
    assignment: str
    root: Path
    problems: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    #: When it was submitted, in nbgrader's ``timestamp.txt`` format (see :func:`submission_time`).
    timestamp: str | None = None
    #: The ``submission_secret.txt`` of ``nbgrader submit`` (``release_feedback`` names the
    #: feedback by it, ``fetch_feedback`` finds it by the secret in the student's cache).
    secret: str | None = None

    @property
    def notebooks(self) -> list[Path]:
        return sorted((self.root / "assignments" / self.assignment).glob("*.ipynb"))


def allowed_paths(assignment: str) -> tuple[set[str], str]:
    """Exact task-file paths, and the notebook folder prefix, that a submission may contain."""
    task_files = {f"course_lib/{module}.py" for module in paths.TASK_MODULES}
    return task_files, f"assignments/{assignment}/"


#: nbgrader's submission time and secret, in a folder that ``nbgrader collect`` wrote.
NBGRADER_TIMESTAMP = "timestamp.txt"
NBGRADER_SECRET = "submission_secret.txt"
NBGRADER_FILES = (NBGRADER_TIMESTAMP, NBGRADER_SECRET)
_SECRET = re.compile(r"^[0-9a-f]{32,256}$")


def _destination(name: str, assignment: str) -> str | None:
    """Where an entry (its wrapper stripped) goes in the submission tree, or None if not taken.

    Two layouts: the assignment folder's (``course_lib/<task>.py`` beside ``<notebook>.ipynb``:
    ``grader submit``, ``nbgrader submit``/``collect``, a zipped folder) and the older repository
    layout (``course_lib/<task>.py`` beside ``assignments/<assignment>/<notebook>.ipynb``).
    Notebooks of both land in ``assignments/<assignment>/``."""
    if not name.isprintable():
        return None
    task_files, notebook_dir = allowed_paths(assignment)
    if name in task_files or name == MANIFEST or name in NBGRADER_FILES:
        return name
    if name.endswith(".ipynb") and "/" not in name:
        return notebook_dir + name
    if name.startswith(notebook_dir) and name.endswith(".ipynb") and name.count("/") == 2:
        return name
    return None


def _strip_wrapper(names: list[str], assignment: str) -> str:
    """The folder(s) an LMS, a zip tool or nbgrader wrapped the tree in ('' if none).

    The prefix of a ``course_lib/`` folder, preferring one named after the assignment (nbgrader's
    ``submitted/<student>/`` holds one folder per assignment), then one with a notebook beside it
    (the assignment folder) or beside ``assignments/<assignment>/`` (the repository layout), then
    the shortest. Without any ``course_lib/``: the folder of the notebooks."""
    prefixes = set()
    for name in names:
        parts = PurePosixPath(name).parts
        prefixes.update("".join(f"{p}/" for p in parts[:i]) for i in range(min(len(parts) - 1, 4))
                        if parts[i] == "course_lib")  # fmt: skip
    if prefixes:
        return min(prefixes, key=lambda prefix: (-_prefix_score(prefix, names, assignment), len(prefix)))
    for name in sorted(names, key=len):
        if name.endswith(".ipynb"):
            folder = str(PurePosixPath(name).parent)
            marker = f"assignments/{assignment}"
            if folder.endswith(marker):
                return folder[: -len(marker)]
            return "" if folder == "." else f"{folder}/"
    return ""


def _prefix_score(prefix: str, names: list[str], assignment: str) -> int:
    """How surely ``prefix`` + ``course_lib/`` is the submission's (see :func:`_strip_wrapper`)."""
    rest = [name[len(prefix) :] for name in names if name.startswith(prefix)]
    named = PurePosixPath(prefix).name == assignment
    beside = any(name.endswith(".ipynb") and "/" not in name for name in rest)
    old = any(name.startswith(f"assignments/{assignment}/") and name.endswith(".ipynb") for name in rest)
    return 4 * named + 2 * beside + old


def _safe_name(name: str) -> bool:
    """Relative, no ``..``, no backslash, and printable (no NUL, newline or terminal escapes: names
    end up in reports, in the grader's terminal and on the instructor's disk)."""
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and "\\" not in name and name.isprintable()


def unpack_zip(archive: Path, student: str, assignment: str, dest: Path) -> Submission:
    """Extract the allowed members of ``archive`` into ``dest``; problems are recorded, not raised."""
    submission = Submission(student, assignment, dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        submission.problems.append(f"{archive.name} is not a readable zip file ({error})")
        return _timed(submission, archive)
    with bundle:
        members = bundle.infolist()
        if len(members) > MAX_MEMBERS:
            submission.problems.append(f"{archive.name} has {len(members)} entries (at most {MAX_MEMBERS})")
            return _timed(submission, archive)
        prefix = _strip_wrapper([m.filename for m in members], assignment)
        total = 0
        for member in members:
            if member.is_dir():
                continue
            if not _safe_name(member.filename) or stat.S_ISLNK(member.external_attr >> 16):
                submission.problems.append(f"refused unsafe entry {member.filename!r}")
                continue
            if not member.filename.startswith(prefix):
                continue
            name = _destination(member.filename.removeprefix(prefix), assignment)
            if name is None:
                continue
            if member.file_size > MAX_FILE_BYTES:
                submission.problems.append(
                    f"{name} is {member.file_size} bytes (at most {MAX_FILE_BYTES}); skipped"
                )
                continue
            total += member.file_size
            if total > MAX_TOTAL_BYTES:
                submission.problems.append(
                    f"{archive.name} unpacks to more than {MAX_TOTAL_BYTES} bytes; rest skipped"
                )
                break
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                # zipfile stops at the header's file_size and verifies the CRC, so the size
                # checked above bounds what is written even for a forged archive.
                with bundle.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
                submission.problems.append(f"could not extract {name}: {error}")
                target.unlink(missing_ok=True)
                continue
            if name != MANIFEST and name not in NBGRADER_FILES:
                submission.files.append(name)
    _read_manifest(submission)
    _report_missing(submission)
    newest = max((m.date_time for m in members if not m.is_dir()), default=None)
    submission.timestamp = submission_time(submission.timestamp, newest, archive)
    return submission


def copy_folder(folder: Path, student: str, assignment: str, dest: Path) -> Submission:
    """Take the allowed files of an already unpacked submission folder (either layout, also
    nbgrader's ``submitted/<student>/`` with ``<assignment>/`` inside)."""
    submission = Submission(student, assignment, dest)
    dest.mkdir(parents=True, exist_ok=True)  # even when nothing is taken (the batch copies dest)
    files = {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if not p.is_symlink()}
    prefix = _strip_wrapper([name for name, p in files.items() if p.is_file()], assignment)
    for relative, source in files.items():
        name = (
            _destination(relative.removeprefix(prefix), assignment) if relative.startswith(prefix) else None
        )
        if name is None or not source.is_file():
            continue
        if source.stat().st_size > MAX_FILE_BYTES:
            submission.problems.append(f"{name} is larger than {MAX_FILE_BYTES} bytes; skipped")
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if name != MANIFEST and name not in NBGRADER_FILES:
            submission.files.append(name)
    _read_manifest(submission)
    _report_missing(submission)
    submission.timestamp = submission_time(submission.timestamp, None, _newest_file(folder))
    return submission


def submission_time(manifest: str | None, zip_entry: tuple[int, ...] | None, upload: Path) -> str:
    """When ``upload`` was submitted, in nbgrader's ``timestamp.txt`` format (UTC).

    The manifest's timestamp when ``grader submit`` wrote one (a time without zone is read as
    UTC), else the newest zip entry's time (zip stores local time without zone: read as UTC, as
    an LMS server writes it), else the upload's modification time, else now. A time outside
    1980-2199 is not believed (zip's own range starts in 1980).
    """
    for when in (_manifest_time(manifest), _zip_time(zip_entry), _modified_time(upload)):
        if when is not None and 1980 <= when.year < 2200:
            return when.strftime(TIMESTAMP_FORMAT)
    return dt.datetime.now(dt.UTC).strftime(TIMESTAMP_FORMAT)


def _manifest_time(text: str | None) -> dt.datetime | None:
    if text is None or len(text) > 64:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        return None


def _zip_time(entry: tuple[int, ...] | None) -> dt.datetime | None:
    try:
        return None if entry is None else dt.datetime(*entry, tzinfo=dt.UTC)
    except (TypeError, ValueError):
        return None


def _modified_time(upload: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(upload.stat().st_mtime, dt.UTC)
    except (OSError, ValueError, OverflowError):  # gone, or a forged mtime out of range
        return None


def _newest_file(folder: Path) -> Path:
    """The most recently modified file of an unpacked submission (the folder itself if empty)."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
    return max(files, key=lambda p: p.stat().st_mtime, default=folder)


def _timed(submission: Submission, upload: Path) -> Submission:
    """``submission`` stamped with the upload's modification time (no manifest or zip to read)."""
    submission.timestamp = submission_time(None, None, upload)
    return submission


def _read_manifest(submission: Submission) -> None:
    """The assignment and time a manifest states; without one, nbgrader's ``timestamp.txt``."""
    _read_nbgrader_files(submission)
    manifest = submission.root / MANIFEST
    if not manifest.exists():
        return
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if data.get("assignment") not in (None, submission.assignment):
            submission.problems.append(
                f"the manifest says assignment {data.get('assignment')!r}, graded as {submission.assignment!r}"
            )
        timestamp = data.get("timestamp")
        submission.timestamp = timestamp if isinstance(timestamp, str) else None
    except (ValueError, AttributeError, UnicodeDecodeError):
        submission.problems.append("manifest.json is not valid JSON; ignored")


def _read_nbgrader_files(submission: Submission) -> None:
    """``timestamp.txt`` and ``submission_secret.txt`` as ``nbgrader submit`` writes them
    (``2026-03-01 23:59:00.123456 UTC``; 128 hex digits); anything else is ignored."""
    texts = {}
    for name in NBGRADER_FILES:
        try:
            texts[name] = (submission.root / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            texts[name] = ""
    stamp = texts[NBGRADER_TIMESTAMP].strip()
    if len(stamp) <= 64 and stamp.endswith(" UTC"):
        submission.timestamp = stamp.removesuffix(" UTC")
    if _SECRET.match(texts[NBGRADER_SECRET]):
        submission.secret = texts[NBGRADER_SECRET]


def submitted_files(submission: Submission) -> dict[str, Path]:
    """{path in ``submitted/<student>/<assignment>/``: file of ``submission``}: its task files
    (``course_lib/<module>.py``) and its notebooks (student-chosen names made safe), nothing else."""
    files = {name: submission.root / name for name in submission.files if name.startswith("course_lib/")}
    for notebook in submission.notebooks:
        files[f"{untrusted.file_name(notebook.stem)}.ipynb"] = notebook
    return files


def submission_digest(submission: Submission) -> str:
    """What identifies a graded upload: SHA-256 of the files :func:`submitted_files` keeps, the
    submission time and the problems found taking them. An upload and the ``submitted/`` folder
    the batch wrote from it (which nbgrader's Autograde regrades) have the same digest; any change
    to what grading reads (a task file, a notebook, the time) changes it."""
    digest = hashlib.sha256()
    for name, path in sorted(submitted_files(submission).items()):
        digest.update(b"file\0" + name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    digest.update(b"time\0" + str(submission.timestamp).encode())
    for problem in submission.problems:
        digest.update(b"\0problem\0" + problem.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _report_missing(submission: Submission) -> None:
    task_files, _ = allowed_paths(submission.assignment)
    missing = sorted(task_files - set(submission.files))
    if len(missing) == len(task_files) and not submission.notebooks:
        submission.problems.append(
            "the submission contains none of the expected files (empty or wrong layout)"
        )
    elif missing:
        submission.problems.append(f"missing {', '.join(missing)}: graded as not implemented")


def student_id_for(upload: Path) -> str | None:
    """The student id an upload is named by (``<id>.zip`` or a folder ``<id>``), or None if invalid."""
    name = upload.name.removesuffix(".zip")
    return name if STUDENT_ID.match(name) else None


def record_id_for(upload: Path) -> str:
    """The id an upload is recorded under: its student id, or for a badly named upload a safe
    one derived from the name (``invalid-<letters, digits, _ . @ ->-<hash>``, as long as an id
    may be), so that its raw name never becomes a file name, a CSV row or terminal output."""
    prefix = "invalid-"
    name = upload.name.removesuffix(".zip")
    return student_id_for(upload) or prefix + untrusted.file_name(name, MAX_ID_LENGTH - len(prefix))


def intake(upload: Path, assignment: str, dest: Path) -> Submission:
    """Unpack one upload (zip or folder) into ``dest``; an unusable upload yields problems only.
    ``dest`` exists afterwards, whatever the upload was."""
    student = record_id_for(upload)
    if student_id_for(upload) is None:
        dest.mkdir(parents=True, exist_ok=True)
        problem = (
            f"the upload {untrusted.plain(repr(upload.name), 200)} is not named by a student id "
            "(letters, digits, _ . @ -): not graded"
        )
        return _timed(Submission(student, assignment, dest, [problem]), upload)
    if upload.is_dir():
        return copy_folder(upload, student, assignment, dest)
    if upload.suffix != ".zip":
        dest.mkdir(parents=True, exist_ok=True)
        problem = f"{upload.name} is neither a .zip nor a folder"
        return _timed(Submission(student, assignment, dest, [problem]), upload)
    return unpack_zip(upload, student, assignment, dest)
