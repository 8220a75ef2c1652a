"""modelver: versioned pre-trained weights for PyTorch models, across vision, text and audio.

Everything public is importable from here; submodules load on first use, so
``import modelver; modelver.list_models()`` imports no torch, torchvision, torchaudio
or huggingface_hub.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_EXPORTS = {
    "Weights": "._weights",
    "WeightsEnum": "._weights",
    "register_model": "._registry",
    "list_models": "._registry",
    "get_model": "._registry",
    "get_model_builder": "._registry",
    "get_model_weights": "._registry",
    "get_weight": "._registry",
    "handle_legacy_interface": "._legacy",
    "kwonly_to_pos_or_kw": "._legacy",
    "ContextParams": ".context",
    "build_model": "._build",
    "load_weights": "._build",
    "write_lock": ".lockfile._commands",
    "check_lock": ".lockfile._commands",
    "use_lock": ".lockfile._active",
    "LockError": ".errors",
    "errors": ".errors",
    "store": ".store",
    "transforms": ".transforms",
    "models": ".models",
}

__all__ = ["__version__", *_EXPORTS]  # noqa: PLE0604 - _EXPORTS' keys are the names (strings)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'modelver' has no attribute {name!r}")
    module = importlib.import_module(target, __name__)
    value = module if module.__name__.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
