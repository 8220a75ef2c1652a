"""Hugging Face repository layout: publish a model's weights where users look, and load them back.

A repository (or a local folder) written by :func:`save_pretrained` holds:

- ``config.json``: the registered builder's name and the arguments that build the
  architecture, the weights entry it started from, modelver's version and the sha256 of
  the weights file;
- ``model.safetensors``: the tensors (shared tensors stored once, as safetensors does);
- ``README.md``: a model card whose YAML front matter (library, license, tags, metrics)
  and text are generated from the weights' meta.

:func:`from_pretrained` rebuilds the model through its registered builder and loads the
tensors after checking their sha256 against ``config.json``; :func:`push_to_hub` uploads
the folder with huggingface_hub. A folder pushed at a commit is also a weights file any
``Weights`` entry can name (``hf://org/repo@<commit>/model.safetensors``), so a library
publishes a new weights version as a new enum entry.
"""

from __future__ import annotations

import json
import re
import tempfile
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from . import _modeldocs, _registry
from ._build import build_model
from ._version import __version__
from ._weights import Weights, WeightsEnum
from .errors import ModelverError, SourceError, UnknownModelError, UnknownWeightsError

__all__ = ["save_pretrained", "from_pretrained", "pretrained_weights", "push_to_hub", "CONFIG_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
LIBRARY_NAME = "modelver"

# modelver tasks → Hugging Face pipeline tags (the Hub's task filter); others get no pipeline tag.
_PIPELINE_TAGS = {
    "image_classification": "image-classification",
    "object_detection": "object-detection",
    "semantic_segmentation": "image-segmentation",
    "speech_recognition": "automatic-speech-recognition",
    "audio_classification": "audio-classification",
    "text_classification": "text-classification",
    "text_embedding": "sentence-similarity",
    "sentence_embedding": "sentence-similarity",
    "feature_extraction": "feature-extraction",
}


# --------------------------------------------------------------------------- save


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
        meta: meta of the new weights: your ``metrics``, ``categories`` for a new head,
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
                        meta={"categories": FLOWERS, "metrics": {"flowers": {"acc@1": 91.2}}},
                        num_classes=10)
        model = from_pretrained("lite0-flowers")
    """
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_model

    from .store._integrity import sha256_of

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
    save_model(model, str(weights_path), metadata={"format": "pt"})
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
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _model_card(config, repo_id).save(folder / CARD_NAME)
    return folder


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
        for key, fn in _registry._BUILDERS.items():
            if fn is builder:
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
    candidates = sorted(
        key
        for key, module in _registry._all_models().items()
        if module == enum.__module__ and _registry._enum_of(_registry.get_model_builder(key)) is enum
    )
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
_FILE_FACTS = ("metrics", "num_params", "_ops", "_file_size", "_docs", "_deprecated", "source", "recipe")


def _merged_meta(base: WeightsEnum | None, meta: Mapping[str, Any] | None, model: Any) -> dict[str, Any]:
    """The new weights' meta: the base entry's interface (task, categories, preprocessing, license...),
    the model's parameter count, then what the caller gives."""
    inherited = {k: v for k, v in (base.meta if base is not None else {}).items() if k not in _FILE_FACTS}
    counted = {"num_params": sum(p.numel() for p in model.parameters())}
    merged = {**inherited, **counted, **(meta or {})}
    _check_json("meta entry", merged)
    return json.loads(json.dumps(merged))  # tuples → lists, as they will read back


def _check_architecture(model: Any, name: str, kwargs: Mapping[str, Any]) -> None:
    """Fail early (at save) if ``builder(**kwargs)`` would not accept these tensors at load."""
    import torch

    fn = _registry.get_model_builder(name)
    call = f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        with torch.device("meta"):  # shapes only: no memory, no initialisation
            reference = fn(**kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{call} fails, so from_pretrained could not rebuild this model: {exc}") from exc
    except Exception:  # a model that cannot be built on the meta device: build it for real
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


def _hf_license(value: Any) -> dict[str, str]:
    if not value:
        return {}
    slug = str(value).strip().lower()
    if re.fullmatch(r"[a-z0-9][a-z0-9.\-]*", slug):
        return {"license": slug}
    return {"license": "other", "license_name": re.sub(r"[^a-z0-9.\-]+", "-", slug).strip("-")}


def _model_card(config: Mapping[str, Any], repo_id: str | None) -> Any:
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    meta = config["meta"]
    task = meta.get("task")
    name = config["builder"]
    results = [
        EvalResult(
            task_type=str(task or "other").replace("_", "-"),
            dataset_type=re.sub(r"[^a-z0-9]+", "-", str(dataset).lower()).strip("-"),
            dataset_name=str(dataset),
            metric_type=str(metric),
            metric_value=value,
        )
        for dataset, metrics in (meta.get("metrics") or {}).items()
        if isinstance(metrics, dict)
        for metric, value in metrics.items()
        if value is not None
    ]
    tags = [LIBRARY_NAME, name] + ([str(task).replace("_", "-")] if task else [])
    data = ModelCardData(
        library_name=LIBRARY_NAME,
        tags=tags,
        pipeline_tag=_PIPELINE_TAGS.get(str(task)),
        model_name=name,
        eval_results=results or None,
        **_hf_license(meta.get("license")),
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{_card_text(config, repo_id)}")


def _card_text(config: Mapping[str, Any], repo_id: str | None) -> str:
    meta, name = config["meta"], config["builder"]
    kwargs = ", ".join(f"{k}={v!r}" for k, v in sorted(config["builder_kwargs"].items()))
    lines = [
        f"# {name}" + (f" ({meta['task'].replace('_', ' ')})" if meta.get("task") else ""),
        "",
        f"Weights for modelver's `{name}` builder"
        + (f", starting from `{config['weights']}`" if config["weights"] else "")
        + f", saved by modelver {config['modelver_version']}.",
        "",
        "## Use",
        "",
        "```python",
        "from modelver.hf import from_pretrained",
        "",
        f'model = from_pretrained("hf://{repo_id}")'
        if repo_id
        else 'model = from_pretrained("path/to/this/folder")  # or "hf://org/name" once pushed',
        "```",
        "",
        f"`from_pretrained` builds `{name}({kwargs})`, checks `{WEIGHTS_NAME}` against the sha256 in "
        f"`{CONFIG_NAME}` and loads it. `modelver.hf.pretrained_weights(...)` gives the same weights as a "
        "`Weights` entry (url, sha256, preprocessing, meta).",
        "",
    ]
    metrics = _modeldocs.format_metrics(meta)
    facts = [
        ("metrics", metrics),
        ("parameters", _modeldocs.format_params(meta)),
        ("categories", f"{len(meta['categories'])}" if isinstance(meta.get("categories"), list) else ""),
        ("license", meta.get("license", "")),
        ("source", meta.get("source", "")),
        ("recipe", meta.get("recipe", "")),
        (f"sha256 of {WEIGHTS_NAME}", f"`{config['sha256']}`"),
    ]
    lines += ["## Facts", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {' '.join(str(value).split()).replace('|', '/')} |" for key, value in facts if value]
    if meta.get("_docs"):
        lines += ["", str(meta["_docs"])]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- load


def _read_config(path: Path, origin: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelverError(f"{origin}: {CONFIG_NAME} is not readable JSON ({exc}).") from None
    missing = [k for k in ("builder", "builder_kwargs", "sha256", "weights_file", "meta") if k not in config]
    if not isinstance(config, dict) or config.get("library_name") != LIBRARY_NAME or missing:
        raise ModelverError(
            f"{origin}: {CONFIG_NAME} was not written by modelver's save_pretrained "
            f"(library_name {config.get('library_name') if isinstance(config, dict) else None!r}"
            f"{', missing ' + ', '.join(missing) if missing else ''})."
        )
    return config


def _locate(location: str | Path) -> tuple[dict[str, Any], str]:
    """(config, location of the weights file for the store) of a folder or an hf:// repository."""
    from .store import fetch
    from .store._sources import parse_hf

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
    config = _read_config(config_path, str(folder))
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
        meta=dict(config["meta"]),
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
    # Built normally (not on the meta device): any model, including ones that create plain
    # tensors in __init__ or tie weights, comes back exactly as builder(**kwargs) makes it.
    return build_model(partial(builder, **config["builder_kwargs"]), weights, progress, meta_init=False)


# --------------------------------------------------------------------------- push


def push_to_hub(
    source: Any,
    repo_id: str,
    *,
    revision: str | None = None,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | None = None,
    create_repo: bool = True,
    **save_kwargs: Any,
) -> str:
    """Upload a save_pretrained folder (or save ``source``, a model, first) to the Hugging Face Hub.

    Args:
        source: a folder written by :func:`save_pretrained`, or a model; then ``save_kwargs``
            (``weights=``, ``builder=``, ``meta=``, builder arguments) go to save_pretrained.
        repo_id: ``"org/name"``.
        revision: the branch to commit to (default: the repository's default branch).
        commit_message, private, token: as huggingface_hub's ``HfApi``.
        create_repo: create the repository if it does not exist.

    Returns the pinned location of the upload, ``hf://org/name@<commit>``: give it to
    :func:`from_pretrained`, or add ``/model.safetensors`` for a ``Weights`` url.

    Example::

        location = push_to_hub(model, "me/lite0-flowers", weights=EfficientNet_Lite0_Weights.DEFAULT,
                               meta={"categories": FLOWERS}, num_classes=10)
        model = from_pretrained(location)
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise SourceError(f"{repo_id!r} is not a Hugging Face repository id like 'org/name': {exc}") from None
    if isinstance(source, (str, Path)):
        if save_kwargs:
            raise TypeError(
                f"push_to_hub got a folder and save_pretrained arguments ({', '.join(save_kwargs)}): "
                "those apply only when pushing a model."
            )
        return _upload(HfApi(token=token), Path(source), repo_id, revision, commit_message, private, create_repo)
    with tempfile.TemporaryDirectory(prefix="modelver-push-") as tmp:
        folder = save_pretrained(source, tmp, repo_id=repo_id, **save_kwargs)
        return _upload(HfApi(token=token), folder, repo_id, revision, commit_message, private, create_repo)


def _upload(
    api: Any, folder: Path, repo_id: str, revision: str | None, message: str | None, private: bool | None, create: bool
) -> str:
    from .store._integrity import sha256_of

    config_path = folder / CONFIG_NAME
    if not config_path.is_file():
        raise ModelverError(f"{folder} has no {CONFIG_NAME}: write it with modelver.hf.save_pretrained first.")
    config = _read_config(config_path, str(folder))
    weights_path = folder / config["weights_file"]
    if not weights_path.is_file():
        raise ModelverError(f"{folder} has no {config['weights_file']}: write it with save_pretrained again.")
    digest = sha256_of(weights_path)
    if digest != config["sha256"]:
        raise ModelverError(
            f"{weights_path} does not match {CONFIG_NAME} (sha256 expected {config['sha256']}, got {digest}): "
            "it changed after save_pretrained; save again instead of publishing it."
        )
    if create:
        api.create_repo(repo_id, private=private, exist_ok=True)
    info = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        commit_message=message or f"Upload {config['builder']} weights with modelver {__version__}",
        revision=revision,
        allow_patterns=[CONFIG_NAME, config["weights_file"], CARD_NAME],
    )
    return f"hf://{repo_id}@{info.oid}"
