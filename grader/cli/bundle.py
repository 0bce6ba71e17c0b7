"""``python -m grader bundle --student --out DIR``: write the folder students receive."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grader.release.bundle import build


def main(args: Any) -> int:
    if not args.student:
        print("only the student bundle exists: pass --student")
        return 2
    out = build(Path(args.out))
    print(f"wrote the student bundle to {out}")
    return 0
