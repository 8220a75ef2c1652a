"""One writer per bundle format: ``write(task, meta, directory, options) -> Written``.

Each writer produces the model file (and any side files) in ``directory``; the exporter
then adds ``bundle.json`` and checks parity through :mod:`modelver_export.runtime`.
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
    "torchscript": "modelver_export.formats.torchscript",
    "onnx": "modelver_export.formats.onnx",
    "pt2": "modelver_export.formats.pt2",
    "triton": "modelver_export.formats.triton",
}


def writer(fmt: str) -> Any:
    return importlib.import_module(WRITERS[fmt])
