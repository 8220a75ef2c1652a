"""``modelver docs``: write docs/models.md (every builder and weights entry) from the weights' meta."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import ModelverError

DEFAULT_OUTPUT = Path("docs") / "models.md"


def render() -> str:
    """The page for every builder of the package (imports every model module)."""
    from .._modeldocs import builtin_builders, render_models_page
    from .._torchhub import HUB_REPO

    return render_models_page(builtin_builders(), HUB_REPO)


def cmd_docs(args: argparse.Namespace) -> int:
    text = render()
    output = Path(args.output)
    if args.check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            state = "missing" if current is None else "out of date"
            raise ModelverError(f"{output} is {state}: run `modelver docs` (or `make docs`) and commit it.")
        print(f"{output} is current")
        return 0
    if str(output) == "-":
        sys.stdout.write(text)
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(f"wrote {output}")
    return 0


def register(sub: Any) -> None:
    p = sub.add_parser("docs", help="write docs/models.md: every builder and weights entry, from their meta")
    p.add_argument(
        "--output", "-o", default=str(DEFAULT_OUTPUT), help="where to write (default: docs/models.md; - for stdout)"
    )
    p.add_argument("--check", action="store_true", help="fail if the file differs from what would be written")
    p.set_defaults(func=cmd_docs)
