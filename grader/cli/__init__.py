"""Command line: ``python -m grader <command>``; one module per command in this package.

The arguments of every command are declared in :mod:`grader.cli.arguments` (a light module, so
``--help`` and argument errors are instant); a command's module, and with it torch or nbgrader, is
imported only when that command runs.
"""

from __future__ import annotations

import importlib
import logging

from grader.cli.arguments import build_parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Our library modules log (e.g. which isolation runs student code); commands print their
    # output. Only the grader's loggers: nbgrader and Jupyter keep their own handlers and levels.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("grader: %(levelname)s: %(message)s"))
    logging.getLogger("grader").addHandler(handler)
    logging.getLogger("grader").setLevel(logging.WARNING)
    import torch

    # The grader's own tensor work is small; one thread per process avoids oversubscribing
    # the cores that parallel workers and the children share.
    torch.set_num_threads(1)
    return importlib.import_module(f"grader.cli.{args.command.replace('-', '_')}").main(args)
