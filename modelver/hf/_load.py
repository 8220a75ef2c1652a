"""from_pretrained / pretrained_weights: a repository folder or hf:// location → a model or a Weights."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import _registry
from .._build import build_model
from .._weights import METRICS, Weights
from ..errors import ModelverError, SourceError, UnknownModelError, UnknownWeightsError
from ._common import CONFIG_NAME, _read_config


def _locate(location: str | Path) -> tuple[dict[str, Any], str]:
    """(config, location of the weights file for the store) of a folder or an hf:// repository."""
    from ..store import fetch
    from ..store._sources import parse_hf

    text = str(location)
    if text.startswith("hf://"):
        repo_id, revision, subfolder = parse_hf(text)
        prefix = subfolder.strip("/") + "/" if subfolder.strip("/") else ""
        pin = f"@{revision}" if revision else ""
        config_path = fetch(f"hf://{repo_id}{pin}/{prefix}{CONFIG_NAME}")
        config = _read_config(config_path, text)
        # Take the weights from the commit the config came from, even if a branch moved since.
        snapshot = config_path.parents[len(Path(prefix + CONFIG_NAME).parts) - 1]
        if snapshot.parent.name == "snapshots":
            pin = f"@{snapshot.name}"
        return config, f"hf://{repo_id}{pin}/{prefix}{config['weights_file']}"
    folder = Path(text).expanduser()
    if not folder.is_dir():
        hint = f"; for a Hugging Face repository write 'hf://{text}'" if re.fullmatch(r"[\w.-]+/[\w.-]+", text) else ""
        raise SourceError(f"{text!r} is not a folder written by save_pretrained{hint}.")
    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ModelverError(f"{folder} has no {CONFIG_NAME}: it was not written by modelver's save_pretrained.")
    config = _read_config(config_path, str(folder))  # weights_file is checked there to stay in the folder
    return config, str(folder / config["weights_file"])


def _restore_shared(aliases: Mapping[str, str], state_dict: dict[str, Any]) -> dict[str, Any]:
    """Give tensors that safetensors stored once (tied weights) back all their names."""
    for alias, kept in aliases.items():
        state_dict.setdefault(alias, state_dict[kept])
    return state_dict


class _UnknownPreprocessing:
    """``transforms`` of weights whose preprocessing is not known here: calling it says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ModelverError(f"{self.reason}: preprocess as in training.")


def _weights_from_config(config: Mapping[str, Any], weights_location: str, origin: str) -> Weights:
    transforms: Callable[..., Any] = _UnknownPreprocessing(
        f"{origin} was saved without weights=, so its preprocessing is unknown (save it with "
        "save_pretrained(..., weights=<the entry it started from>) to record it)"
    )
    if config.get("weights"):
        try:
            transforms = _registry.get_weight(config["weights"]).transforms
        except (UnknownWeightsError, UnknownModelError) as exc:  # the model still loads; only preprocessing is unknown
            transforms = _UnknownPreprocessing(f"{origin} takes the preprocessing of {config['weights']}: {exc}")
    shared = config.get("shared_tensors") or {}
    return Weights(
        url=weights_location,
        sha256=config["sha256"],
        transforms=transforms,
        meta=_renamed_metrics(dict(config["meta"])),
        state_dict_adapter=partial(_restore_shared, dict(shared)) if shared else None,
    )


def pretrained_weights(location: str | Path) -> Weights:
    """The weights of a save_pretrained folder or ``hf://org/repo[@revision]`` as a ``Weights`` entry.

    Its ``url`` is pinned (the folder's file, or the repository's commit), its ``sha256``
    is the one ``config.json`` records, ``transforms`` are those of the entry the model
    started from and ``meta`` is the saved meta: what a library pastes into a new enum
    entry to publish the weights, and what ``weights.transforms()`` needs at inference.
    """
    config, weights_location = _locate(location)
    return _weights_from_config(config, weights_location, str(location))


def from_pretrained(location: str | Path, *, progress: bool = True) -> Any:
    """Rebuild the model saved by :func:`save_pretrained` from a folder or ``hf://org/repo[@revision]``.

    Builds ``builder(**builder_kwargs)`` from ``config.json`` through the registry, fetches
    ``model.safetensors`` (Hugging Face cache, ``HF_HUB_OFFLINE`` honoured), checks its
    sha256 against the one in ``config.json`` (a mismatch is refused, naming both digests)
    and loads it strictly.

    Example::

        model = from_pretrained("hf://org/lite0-flowers@v1")   # or from_pretrained("lite0-flowers")
        weights = pretrained_weights("hf://org/lite0-flowers@v1")
        batch = weights.transforms()(img).unsqueeze(0)
    """
    config, weights_location = _locate(location)
    weights = _weights_from_config(config, weights_location, str(location))
    try:
        builder = _registry.get_model_builder(config["builder"])
    except UnknownModelError:
        raise UnknownModelError(
            f"{location}: config.json names the builder {config['builder']!r} (module "
            f"{config.get('builder_module')!r}), which is not registered here: import that module first."
        ) from None
    factory = partial(builder, **config["builder_kwargs"])
    _check_shapes_first(factory, weights, config, str(location), progress)
    # Built normally (not on the meta device): any model, including ones that create plain
    # tensors in __init__ or tie weights, comes back exactly as builder(**kwargs) makes it.
    return build_model(factory, weights, progress, meta_init=False)


def _check_shapes_first(factory: Callable[[], Any], weights: Weights, config: Mapping[str, Any], origin: str,
                        progress: bool) -> None:
    """Compare the model ``config.json`` describes, built on the meta device (no memory), with the
    shapes in the safetensors file's header, before anything is allocated: a config asking for a
    million classes fails here in a moment, not after gigabytes of random initialisation."""
    import torch
    from safetensors import SafetensorError, safe_open

    from .._build import SkipInitOnMeta
    from ..store import fetch

    call = f"{config['builder']}({', '.join(f'{k}={v!r}' for k, v in config['builder_kwargs'].items())})"
    try:
        with torch.device("meta"), SkipInitOnMeta():
            skeleton = factory()
    except (TypeError, ValueError) as exc:
        raise ModelverError(
            f"{origin}: config.json's builder arguments do not build a model: {call} fails ({exc})."
        ) from None
    except Exception:  # noqa: BLE001 - a model that cannot be built on the meta device: checked at load instead
        return
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    path = fetch(weights, progress=progress)
    try:
        with safe_open(str(path), framework="pt") as f:
            stored = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118 - header only
    except (SafetensorError, OSError) as exc:
        raise ModelverError(f"{origin}: {path} is not a readable safetensors file ({exc}).") from None
    aliases = set(config.get("shared_tensors") or {})
    problems = [f"{k} is {stored[k]} in the file but {expected[k]} from {call}"
                for k in expected if k in stored and stored[k] != expected[k]]
    problems += [f"{k} is missing from the file" for k in expected if k not in stored and k not in aliases]
    problems += [f"{k} is in the file but {call} has no such tensor" for k in stored if k not in expected]
    if problems:
        shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
        raise ModelverError(
            f"{origin}: config.json does not describe the weights file: {shown}. Nothing was built; fix "
            "builder_kwargs in config.json (or save the model again with save_pretrained)."
        )


def _renamed_metrics(meta: dict[str, Any]) -> dict[str, Any]:
    """A config.json saved before torchvision's key: its ``metrics`` are the ``_metrics`` (no warning:
    the reader did nothing wrong)."""
    if "metrics" in meta and METRICS not in meta:
        meta[METRICS] = meta.pop("metrics")
    return meta
