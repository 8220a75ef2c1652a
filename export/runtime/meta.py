"""The embedded meta of a bundle, checked field by field before anything reads it (no torch).

The meta digest proves the meta was not edited after export, not that whoever exported it
meant well: a field of the wrong type is one :class:`~modelver.errors.BundleError` naming
the field, never a raw ``TypeError`` later; a file the meta names (the tokenizer) must be a
file inside the bundle.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modelver.errors import BundleError

__all__ = ["bundle_file", "validate_meta"]


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _problem(meta: dict[str, Any]) -> str | None:
    for key in ("name", "task"):
        if key in meta and not isinstance(meta[key], str):
            return f"{key}={meta[key]!r} is not a string"
    if meta.get("weights") is not None and not isinstance(meta["weights"], str):
        return f"weights={meta['weights']!r} is not a weights name"
    categories = meta.get("categories")
    if categories is not None and not (isinstance(categories, list) and all(isinstance(c, str) for c in categories)):
        return f"categories={categories!r} is not a list of names"
    if "sample_rate" in meta and not _is_int(meta["sample_rate"], 1):
        return f"sample_rate={meta['sample_rate']!r} is not a positive whole number"
    tokenization = meta.get("tokenization")
    if tokenization is not None:
        if not isinstance(tokenization, dict):
            return f"tokenization={tokenization!r} is not an object"
        if not isinstance(tokenization.get("file", "tokenizer.json"), str):
            return f"tokenization.file={tokenization['file']!r} is not a file name"
        for key, low in (("max_length", 1), ("pad_id", 0)):
            if key in tokenization and not _is_int(tokenization[key], low):
                return f"tokenization.{key}={tokenization[key]!r} is not a whole number of at least {low}"
    processing = meta.get("text_processing")
    if processing is not None:
        symbols = processing.get("symbols") if isinstance(processing, dict) else None
        if not isinstance(processing, dict) or not (
            symbols is None or (isinstance(symbols, list) and all(isinstance(s, str) for s in symbols))
        ):
            return f"text_processing={processing!r} is not an object with a list of symbols"
    preprocessing = meta.get("preprocessing")
    if preprocessing is not None:
        if not isinstance(preprocessing, dict):
            return f"preprocessing={preprocessing!r} is not an object"
        for key in ("resize_size", "crop_size"):
            if key in preprocessing and not _is_int(preprocessing[key], 1):
                return f"preprocessing.{key}={preprocessing[key]!r} is not a positive whole number"
    for group in ("inputs", "outputs"):
        specs = meta.get(group)
        for spec in specs if isinstance(specs, list) else []:
            if not isinstance(spec, dict):
                continue  # validate_specs names it
            limits, bounds = spec.get("max"), spec.get("range")
            if limits is not None and not (
                isinstance(limits, dict) and all(isinstance(k, str) and _is_int(v, 1) for k, v in limits.items())
            ):
                return f"{group} {spec.get('name')!r}: max={limits!r} is not an object of axis sizes"
            if bounds is not None and not (
                isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)
            ):
                return f"{group} {spec.get('name')!r}: range={bounds!r} is not [low, high]"
    return None


def validate_meta(meta: Any, where: Path) -> dict[str, Any]:
    """``meta`` if every field it has is of the right type; else one BundleError naming the field."""
    if not isinstance(meta, dict):
        kind = type(meta).__name__
        raise BundleError(f"{where}: the embedded meta is a {kind}, not an object; re-export the bundle.")
    problem = _problem(meta)
    if problem:
        raise BundleError(f"{where}: the embedded meta's {problem}; re-export the bundle.")
    return meta


def bundle_file(directory: Path, name: str, what: str) -> Path:
    """``directory / name`` for a file the meta names, which must stay inside the bundle directory."""
    parts = name.replace("\\", "/").split("/")
    candidate = directory / name
    inside = (
        bool(name)
        and not name.startswith("/")
        and not any(p in ("", ".", "..") for p in parts)
        and ":" not in parts[0]
        and candidate.resolve().is_relative_to(directory.resolve())
    )
    if not inside:
        raise BundleError(
            f"The bundle's meta names its {what} {name!r}, which is not a file inside the bundle "
            f"{directory}; re-export the bundle."
        )
    return candidate
