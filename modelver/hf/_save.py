"""save_pretrained: a model → a repository folder (config.json, model.safetensors, README.md)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import _registry
from .._build import SkipInitOnMeta
from .._version import __version__
from .._weights import Weights, WeightsEnum, WeightsMeta
from ..errors import ModelverError, UnknownModelError
from ._card import _model_card
from ._common import CARD_NAME, CONFIG_NAME, LIBRARY_NAME, WEIGHTS_NAME


def save_pretrained(
    model: Any,
    directory: str | Path,
    *,
    weights: WeightsEnum | str | None = None,
    builder: Callable[..., Any] | str | None = None,
    meta: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
    **builder_kwargs: Any,
) -> Path:
    """Write ``model`` as a Hugging Face style repository folder (config.json, model.safetensors, README.md).

    Args:
        model: the model, e.g. fine-tuned from a modelver builder.
        directory: the folder to write (created if needed; these three files are replaced).
        weights: the entry the model started from (member or full name ``"X_Weights.NAME"``):
            its meta (categories, license, metrics...) and preprocessing carry over.
        builder: the registered builder (name or function) whose output ``model`` is;
            default: the builder of ``weights``' enum.
        meta: meta of the new weights: your ``_metrics``, ``categories`` for a new head,
            ``license``, ``source``... laid over what carries over from ``weights``' meta
            (task, categories, preprocessing, license: not its metrics, size or source).
            ``num_params`` and ``_file_size`` are measured.
        repo_id: the Hub repository this folder is for (``"org/name"``), named in the model card.
        **builder_kwargs: the arguments that build this architecture, e.g. ``num_classes=10``
            for a new 10-class head; :func:`from_pretrained` calls ``builder(**builder_kwargs)``.
            JSON values only.

    Returns the folder. Raises if ``builder(**builder_kwargs)`` builds a different
    architecture (names or shapes of the tensors differ), naming the first differences.

    Example::

        model = efficientnet_lite0(num_classes=10)          # ... fine-tuned on your data
        save_pretrained(model, "lite0-flowers", weights=EfficientNet_Lite0_Weights.DEFAULT,
                        meta={"categories": FLOWERS, "_metrics": {"flowers": {"acc@1": 91.2}}},
                        num_classes=10)
        model = from_pretrained("lite0-flowers")
    """
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_model

    from ..store._integrity import sha256_of

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"save_pretrained needs a torch.nn.Module, got {type(model).__name__}.")
    base = _resolve_base_weights(weights, builder)
    name = _builder_name(builder, base)
    _check_json("builder argument", builder_kwargs)
    merged = _merged_meta(base, meta, model)
    _check_architecture(model, name, builder_kwargs)

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / WEIGHTS_NAME
    with _replacing(weights_path) as tmp:
        save_model(model, str(tmp), metadata={"format": "pt"})
    with safe_open(str(weights_path), framework="pt") as f:
        stored = f.metadata() or {}
    state_keys = set(model.state_dict())
    shared = {alias: kept for alias, kept in sorted(stored.items()) if alias in state_keys}
    merged["_file_size"] = round(weights_path.stat().st_size / 1024**2, 3)  # MB, as torchvision
    config = {
        "library_name": LIBRARY_NAME,
        "modelver_version": __version__,
        "builder": name,
        "builder_module": _registry.get_model_builder(name).__module__,
        "builder_kwargs": dict(builder_kwargs),
        "weights": repr(base) if base is not None else None,
        "weights_file": WEIGHTS_NAME,
        "sha256": sha256_of(weights_path),
        "shared_tensors": shared,
        "meta": merged,
    }
    with _replacing(folder / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    with _replacing(folder / CARD_NAME) as tmp:
        _model_card(config, repo_id).save(tmp)
    return folder


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path`` that then replaces it (``os.replace``): a symlink found at
    ``path`` (into a Hugging Face cache's blobs, or anywhere) is replaced, never written through,
    and a failed save leaves the previous file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _resolve_base_weights(weights: Any, builder: Callable[..., Any] | str | None) -> WeightsEnum | None:
    if weights is None or isinstance(weights, WeightsEnum):
        return weights
    if isinstance(weights, Weights):
        raise TypeError(
            "save_pretrained(weights=...) takes an enum entry (X_Weights.NAME) so that config.json can name "
            "it; give this Weights' meta as meta= instead."
        )
    if isinstance(weights, str):
        if "." in weights or builder is None:
            return _registry.get_weight(weights)
        return _registry.get_model_weights(builder).verify(weights)
    raise TypeError(f"weights must be a weights entry, its name or None; got {type(weights).__name__}.")


def _builder_name(builder: Callable[..., Any] | str | None, base: WeightsEnum | None) -> str:
    if isinstance(builder, str):
        _registry.get_model_builder(builder)  # unknown names fail here, with suggestions
        return builder.strip().lower()
    if builder is not None:
        key = _registry.builder_name(builder)
        if key is not None:
            return key
        raise UnknownModelError(
            f"{getattr(builder, '__name__', builder)!r} is not a registered builder: register it with "
            "@register_model() so that from_pretrained can find it by name."
        )
    if base is None:
        raise ModelverError(
            "save_pretrained needs builder= (the registered builder's name) when weights= is not given."
        )
    enum = type(base)
    candidates = _registry.builders_of(enum)
    if len(candidates) != 1:
        found = f"builders {', '.join(candidates)} share" if candidates else "no registered builder takes"
        raise ModelverError(f"{found} {enum.__name__}: pass builder= to save_pretrained.")
    return candidates[0]


def _check_json(what: str, values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"The {what} {key}={value!r} cannot be written to config.json: only JSON values "
                "(numbers, strings, lists, dicts, None) can."
            ) from None


# Facts about one file (its accuracy, size, provenance): not inherited by new weights made from it.
_FILE_FACTS = ("_metrics", "num_params", "_ops", "_file_size", "_docs", "_deprecated", "source", "recipe")


def _merged_meta(base: WeightsEnum | None, meta: Mapping[str, Any] | None, model: Any) -> dict[str, Any]:
    """The new weights' meta: the base entry's interface (task, categories, preprocessing, license...),
    the model's parameter count, then what the caller gives."""
    inherited = {k: v for k, v in (base.meta if base is not None else {}).items() if k not in _FILE_FACTS}
    counted = {"num_params": sum(p.numel() for p in model.parameters())}
    merged = {**inherited, **counted, **WeightsMeta.of(meta or {})}  # the old 'metrics' key → '_metrics'
    _check_json("meta entry", merged)
    return json.loads(json.dumps(merged))  # tuples → lists, as they will read back


def _check_architecture(model: Any, name: str, kwargs: Mapping[str, Any]) -> None:
    """Fail early (at save) if ``builder(**kwargs)`` would not accept these tensors at load."""
    import torch

    fn = _registry.get_model_builder(name)
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        with torch.device("meta"), SkipInitOnMeta():  # shapes only: no memory, no initialisation
            reference = fn(**kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{call} fails, so from_pretrained could not rebuild this model: {exc}") from exc
    except Exception:  # noqa: BLE001 - a model that cannot be built on the meta device: build it for real
        reference = fn(**kwargs)
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    actual = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = [
        f"{k} is {actual[k]} here but {expected[k]} from {call}"
        for k in actual
        if k in expected and actual[k] != expected[k]
    ]
    problems += [f"{k} is missing (the builder makes it)" for k in expected if k not in actual]
    problems += [f"{k} is extra (the builder does not make it)" for k in actual if k not in expected]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4 else "")
        raise ModelverError(
            f"The model is not what {call} builds: {shown}. Pass the builder arguments that build this "
            "architecture to save_pretrained (e.g. num_classes=...)."
        )
