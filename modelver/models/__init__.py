"""The model zoo: ``from modelver.models import resnet50, ResNet50_Weights``.

Builders and weights enums are looked up in the generated manifest (``_manifest.py``) and
their module is imported on first access, so importing this package is free.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._manifest import MODELS, WEIGHTS


def __getattr__(name: str) -> Any:
    module = MODELS.get(name) or WEIGHTS.get(name)
    if module is None:
        raise AttributeError(f"module 'modelver.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(MODELS) | set(WEIGHTS))
