"""The weights store: turn a ``Weights`` entry (or a location) into a verified local file and a state_dict.

One path for every entry: try ``url`` then each of ``mirrors`` (``MODELVER_MIRROR``
rewrites http(s) ones); take the file from the cache, the Hugging Face cache, an
installed package or disk, or download it; check its sha256 (or the hash prefix in its
name); load it without unpickling code; apply the entry's ``state_dict_adapter``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, WeightsError
from . import _integrity, _sources
from ._serialization import load_file
from ._settings import cache_dir
from ._sources import parse as parse_location
from ._sources import sibling

__all__ = ["fetch", "fetch_beside", "sibling", "load_state_dict", "load_file", "cache_dir", "parse_location", "cache_path"]


def _quarantine(path: Path) -> str:
    """Move a bad cached file away from its cache name (kept for inspection, never reused)."""
    bad = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, bad)
    except OSError:
        return f"It could not be moved away from {path}: delete it."
    return f"It was moved to {bad}; run again to download a fresh copy."


def _fetch_one(location: str, *, sha256: str, progress: bool) -> Path:
    source = _sources.parse(_sources.apply_mirror(location))
    path, cached = source.fetch(sha256=sha256, progress=progress)
    if cached:
        try:
            _integrity.verify_file(path, sha256=sha256, name=source.name, origin=location)
        except IntegrityError as exc:
            if isinstance(source, _sources.HttpSource):
                raise IntegrityError(f"{exc} {_quarantine(path)}") from None
            raise
    return path


def fetch(weights: Any, progress: bool = True) -> Path:
    """Local path of a weights file: ``weights`` is a ``Weights``, an enum member or a location string.

    Locations are tried in order (``url``, then ``mirrors``); the first that yields a
    verified file wins. If none does, the error names every attempt.
    """
    if isinstance(weights, str):
        return _fetch_first([weights], sha256="", progress=progress)
    return _fetch_first([weights.url, *weights.mirrors], sha256=weights.sha256, progress=progress)


def fetch_beside(weights: Any, name: str, *, sha256: str = "", progress: bool = False) -> Path:
    """A file released next to a weights file (a tokenizer, a vocabulary, a config), fetched the same way.

    ``weights`` is a ``Weights``, an enum member, or a sequence of locations of the weights
    file; ``name`` (e.g. ``"tokenizer.json"``) is looked for beside each of them in order
    (``hf://org/repo@rev/tokenizer.json``, ``pkg://dist/dir/tokenizer.json``, ...), so an
    entry's mirrors serve its auxiliary files too. ``sha256`` pins the file when known.
    """
    if isinstance(weights, str):
        locations = [weights]
    elif hasattr(weights, "url"):
        locations = [weights.url, *weights.mirrors]
    else:
        locations = list(weights)
    if not locations:
        raise ValueError(f"No location to look for {name!r} beside.")
    return _fetch_first([sibling(loc, name) for loc in locations], sha256=sha256, progress=progress)


def _fetch_first(locations: list[str], *, sha256: str, progress: bool) -> Path:
    errors: list[WeightsError] = []
    for location in locations:
        try:
            return _fetch_one(location, sha256=sha256, progress=progress)
        except WeightsError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    detail = " | ".join(f"{loc}: {err}" for loc, err in zip(locations, errors))
    integrity = [e for e in errors if isinstance(e, IntegrityError)]
    raise type(integrity[0] if integrity else errors[0])(f"No location of these weights worked. {detail}")


def cache_path(url: str) -> Path:
    """Where an http(s) URL's file is (or would be) cached."""
    source = _sources.parse(url)
    if not isinstance(source, _sources.HttpSource):
        raise ValueError(f"{url!r} is not an http(s) URL; only those are cached by modelver.")
    return source.cache_path()


def load_state_dict(weights: Any, progress: bool = True, map_location: Any = "cpu", **_: Any) -> dict[str, Any]:
    """Fetch, verify and load ``weights`` as a state_dict with the entry's key adapter applied.

    Extra keyword arguments of torchvision's ``get_state_dict`` (``check_hash``) are
    accepted and ignored: modelver always checks.
    """
    state_dict = load_file(fetch(weights, progress=progress), map_location=map_location)
    adapter = getattr(weights, "state_dict_adapter", None)
    return adapter(state_dict) if adapter is not None else state_dict
