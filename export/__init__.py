"""modelver's export subsystem: a model with its preprocessing and meta as one deployable bundle.

    from modelver_export import export_model
    export_model("efficientnet_lite0", formats="onnx,torchscript,pt2,triton", out="bundles/lite0")

    from modelver_export.runtime import load          # no torch needed for ONNX bundles
    load("bundles/lite0/onnx").predict_image("cat.jpg")
    load("bundles/minilm/onnx").embed(["A sentence.", "Another one."])

Which builders export to which formats: ``support_table()`` (``modelver export --list``).
Formats, tasks and ONNX engines are registered in :mod:`modelver_export.registry`.

Names load on first use, so ``import modelver_export.runtime`` imports neither torch nor modelver's
model code.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "export_model": "._exporter",
    "BundleResult": "._results",
    "summary_table": "._results",
    "support_table": ".support",
    "register_format": ".registry",
    "register_task": ".registry",
    "Format": ".registry",
    "Task": ".registry",
    "load": ".runtime",
    "Bundle": ".runtime",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'modelver_export' has no attribute {name!r}")
    value = getattr(importlib.import_module(target, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
