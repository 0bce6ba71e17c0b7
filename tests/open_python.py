"""An interpreter every Unix user can run, as on a course server or in Gradescope's container.

This machine's Python may live under a 0700 home, so processes that switch to another uid could
not import its standard library. The system's Python 3.11 gets a venv that imports this test
run's packages (same ABI) and the Jupyter configuration and data of this venv (enabled extensions, templates).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

SYSTEM_PYTHON = Path("/usr/bin/python3.11")
SCRIPTS = {"alembic": "alembic.config:main"}


def _open_to_others(path: Path) -> bool:
    return all(os.stat(p).st_mode & stat.S_IXOTH for p in [*reversed(path.parents), path])


def make(folder: Path) -> Path | None:
    """``folder/bin/python``, or None when the system Python or open packages are missing."""
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    if not SYSTEM_PYTHON.exists() or not _open_to_others(site_packages.resolve()):
        return None
    subprocess.run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(folder)], check=True)
    (next(folder.glob("lib/python3.11/site-packages")) / "packages.pth").write_text(f"{site_packages}\n")
    for name, entry in SCRIPTS.items():  # programs that nbgrader runs by name
        module, function = entry.split(":")
        script = folder / "bin" / name
        script.write_text(
            f"#!{folder}/bin/python\nimport sys\nfrom {module} import {function}\nsys.exit({function}())\n"
        )
    for shared in ("etc/jupyter", "share/jupyter"):  # enabled extensions; nbconvert's templates
        if (Path(sys.prefix) / shared).is_dir():
            (folder / shared).parent.mkdir(parents=True, exist_ok=True)
            (folder / shared).symlink_to(Path(sys.prefix) / shared)
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or path.parent.name == "bin" else 0o644)
    return folder / "bin" / "python"
