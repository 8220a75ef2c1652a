"""Detection models: ``from modelver.models.detection import fasterrcnn_resnet50_fpn``.

Like :mod:`modelver.models`, builders and weights enums are found through the manifest and
their module is imported on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._manifest import MODELS, WEIGHTS


def _here(mapping: dict[str, str]) -> dict[str, str]:
    return {name: module for name, module in mapping.items() if module.startswith(__name__ + ".")}


def __getattr__(name: str) -> Any:
    module = _here(MODELS).get(name) or _here(WEIGHTS).get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_here(MODELS)) | set(_here(WEIGHTS)))
