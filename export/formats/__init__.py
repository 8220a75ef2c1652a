"""One writer per bundle format: ``write(task, meta, directory, options) -> Written``.

Each writer produces the model file (and any side files) in ``directory``; the exporter
then adds ``bundle.json`` and checks parity through :mod:`export.runtime`.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

__all__ = ["Written", "WRITERS", "writer"]


@dataclasses.dataclass
class Written:
    """What a writer produced: the model file and every file (relative to the bundle directory)."""

    model_file: str
    files: list[str]
    details: dict[str, Any]


WRITERS = {
    "torchscript": "export.formats.torchscript",
    "onnx": "export.formats.onnx",
    "pt2": "export.formats.pt2",
    "triton": "export.formats.triton",
}


def writer(fmt: str) -> Any:
    return importlib.import_module(WRITERS[fmt])
