"""The ``modelver`` command.

Commands live in modules that each expose ``register(subparsers)``: the built-in ones in
this package, others (the ``export`` package's ``export`` and ``run``) through the
``modelver.commands`` entry-point group, so that modelver never imports them.

Every failure prints one line (``modelver: error: ...``) and exits non-zero;
``MODELVER_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from importlib import metadata
from typing import Any, Sequence

from ..errors import ModelverError

BUILTIN = ("core", "text", "verify", "lock", "docs")
ENTRY_POINT_GROUP = "modelver.commands"


def _command_modules() -> list[Any]:
    modules = [importlib.import_module(f"{__name__}.{name}") for name in BUILTIN]
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            modules.append(entry.load())
        except ImportError as exc:  # a plugin whose dependencies are missing must not break the rest
            print(f"modelver: warning: commands from {entry.value} unavailable ({exc})", file=sys.stderr)
    return modules


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(prog="modelver", description="Versioned pre-trained models for PyTorch.")
    parser.add_argument("--version", action="version", version=f"modelver {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in _command_modules():
        module.register(sub)
    return parser


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def run_command(prog: str, args: argparse.Namespace) -> int:
    """Run a parsed command (``args.func(args)``) the way every modelver command line does.

    Failures print one line, ``PROG: error: ...``, and return 1 (``MODELVER_DEBUG=1``
    raises instead); Ctrl-C returns 130; a closed pipe (``modelver info x | head``) is not an error.
    """
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except (ModelverError, TypeError, ValueError, OSError, RuntimeError) as exc:
        if os.environ.get("MODELVER_DEBUG"):
            raise
        print(f"{prog}: error: {one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    return run_command("modelver", build_parser().parse_args(argv))
