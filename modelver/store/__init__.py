"""The weights store: turn a ``Weights`` entry (or a location) into a verified local file and a state_dict.

One path for every entry: try ``url`` then each of ``mirrors`` (``MODELVER_MIRROR``
rewrites http(s) ones); take the file from the cache, the Hugging Face cache, an
installed package or disk, or download it; check its size and sha256 (or, for entries
that opt in with ``check_hash``, the hash prefix in its name); load it without
unpickling code; apply the entry's ``state_dict_adapter``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, SettingError, WeightsError
from . import _integrity, _sources
from ._integrity import Expected, expected_of
from ._serialization import load_file
from ._settings import cache_dir
from ._sources import parse as parse_location
from ._sources import sibling

__all__ = [
    "Expected",
    "cache_dir",
    "cache_path",
    "fetch",
    "fetch_beside",
    "load_file",
    "load_state_dict",
    "parse_location",
    "sibling",
]


def _quarantine(path: Path) -> str:
    """Move a bad cached file away from its cache name (kept for inspection, never reused)."""
    bad = path.with_name(path.name + ".corrupt")
    try:
        os.replace(path, bad)
    except OSError:
        return f"It could not be moved away from {path}: delete it."
    return f"It was moved to {bad}; run again to download a fresh copy."


def _fetch_one(location: str, *, expect: Expected, progress: bool) -> Path:
    source = _sources.parse(_sources.apply_mirror(location))
    path, cached = source.fetch(expect=expect, progress=progress)
    if cached:
        try:
            _integrity.verify_file(path, expect, name=source.name, origin=location)
        except IntegrityError as exc:
            if isinstance(source, _sources.HttpSource):
                raise IntegrityError(f"{exc} {_quarantine(path)}") from None
            raise
    return path


def fetch(weights: Any, progress: bool = True, *, sha256: str | None = None, size: int | None = None) -> Path:
    """Local path of a weights file: ``weights`` is a ``Weights``, an enum member or a location string.

    Locations are tried in order (``url``, then ``mirrors``); the first that yields a
    verified file wins. If none does, the error names every attempt. ``sha256`` (full hex
    digest) and ``size`` (bytes), when given, are what the file must be, in place of what
    the entry says (a lock file pins them per call).
    """
    if sha256 is not None and (len(sha256) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha256)):
        raise SettingError(f"fetch(sha256={sha256!r}): give the file's full 64-character hex digest (sha256sum FILE).")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise SettingError(f"fetch(size={size!r}): give the file's size in bytes, a whole number.")
    if isinstance(weights, str):
        return _fetch_first([weights], expect=Expected(sha256=(sha256 or "").lower(), size=size), progress=progress)
    expect = expected_of(weights, sha256=sha256, size=size)
    return _fetch_first([weights.url, *weights.mirrors], expect=expect, progress=progress)


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
    return _fetch_first([sibling(loc, name) for loc in locations], expect=Expected(sha256=sha256), progress=progress)


def _fetch_first(locations: list[str], *, expect: Expected, progress: bool) -> Path:
    errors: list[WeightsError] = []
    for location in locations:
        try:
            return _fetch_one(location, expect=expect, progress=progress)
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
        raise ValueError(f"{url!r} is not an http(s) URL; only those are cached by modelver.")  # noqa: TRY004 - a value (a URL kind), not a type
    return source.cache_path()


def load_state_dict(
    weights: Any,
    progress: bool = True,
    map_location: Any = "cpu",
    *,
    sha256: str | None = None,
    size: int | None = None,
    **_: Any,
) -> dict[str, Any]:
    """Fetch, verify and load ``weights`` as a state_dict with the entry's key adapter applied.

    ``sha256`` / ``size`` as in :func:`fetch`. Extra keyword arguments of torchvision's
    ``get_state_dict`` (``check_hash``) are accepted and ignored: an entry's own
    ``check_hash`` decides whether the hash prefix in its file name is checked.
    """
    state_dict = load_file(fetch(weights, progress=progress, sha256=sha256, size=size), map_location=map_location)
    adapter = getattr(weights, "state_dict_adapter", None)
    return adapter(state_dict) if adapter is not None else state_dict
