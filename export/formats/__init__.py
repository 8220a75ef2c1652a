"""The built-in formats' writers: ``write(task, meta, directory, options) -> Written``.

Each writer produces the model file (and any side files) in ``directory``; the exporter
then adds ``bundle.json`` and checks parity through :mod:`modelver_export.runtime`. Which
writer serves which format is registered in :mod:`modelver_export.registry`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from modelver.errors import BundleError

__all__ = ["DEFAULT_OPSET", "MAX_OPSET", "Written", "check_opset"]

DEFAULT_OPSET = 18  # the dynamo exporter's native opset; Resize's antialias needs >= 18
MAX_OPSET = 23


@dataclasses.dataclass
class Written:
    """What a writer produced: the model file and every file (relative to the bundle directory)."""

    model_file: str
    files: list[str]
    details: dict[str, Any]


def check_opset(opset: int) -> int:
    if not DEFAULT_OPSET <= opset <= MAX_OPSET:
        raise BundleError(
            f"--opset {opset} is not supported: choose {DEFAULT_OPSET} to {MAX_OPSET} (default {DEFAULT_OPSET})."
        )
    return opset
