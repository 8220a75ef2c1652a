"""Make a :class:`Pin`: resolve a builder's entry, fetch and hash its file, resolve ``hf://`` commits, fingerprint it."""

from __future__ import annotations

import re
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .. import store
from .._version import __version__
from ..errors import LockError, ModelverError, WeightsError
from ..store._integrity import sha256_of
from . import _format

__all__ = ["enum_of_builder", "fingerprint_difference", "make_pin", "member_of", "metrics_of", "same_file", "short"]

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def enum_of_builder(builder: str) -> type:
    from .._registry import _enum_of, get_model_builder

    enum = _enum_of(get_model_builder(builder))
    if enum is None or not enum.__members__:
        raise LockError(
            f"{builder!r} has no released weights{f' ({enum.__name__} is empty)' if enum is not None else ''}: "
            "there is nothing to pin. Lock builders with released weights."
        )
    return enum


def member_of(enum: type, name: str) -> Any:
    """The member called ``name`` (``DEFAULT``, ``IMAGENET1K_V1`` or ``X_Weights.IMAGENET1K_V1``)."""
    return enum.verify(name)  # type: ignore[attr-defined]


def default_name(enum: type) -> str:
    default = enum.__members__.get("DEFAULT")  # type: ignore[attr-defined]
    return "" if default is None else str(default.name)



def _commit_of(location: str, path: Path) -> str:
    """The commit of the snapshot huggingface_hub returned ``path`` from (``snapshots/<commit>/<file>``)."""
    filename = store.parse_location(location).filename  # type: ignore[union-attr]
    parts = Path(path).parts
    depth = len(filename.split("/")) + 1
    if len(parts) > depth and parts[-depth - 1] == "snapshots" and _COMMIT.match(parts[-depth]):
        return parts[-depth]
    raise LockError(f"{location}: cannot tell which commit {path} belongs to (not a Hugging Face snapshot path).")


def is_commit(revision: str | None) -> bool:
    return revision is not None and bool(_COMMIT.match(revision))


def current_commit(location: str) -> str:
    """The commit an ``hf://`` location's revision (a branch, or none: the default branch) resolves to now."""
    return _commit_of(location, store.fetch(location, progress=False))


def _resolve_commits(weights: Any, path: Path, digest: str, notes: list[str]) -> dict[str, str]:
    """hf:// location → commit, for every hf:// location of the entry that can be reached."""
    commits = {}
    for location in (weights.url, *weights.mirrors):
        if not location.startswith("hf://"):
            continue
        revision = store.parse_location(location).revision  # type: ignore[union-attr]
        if is_commit(revision):
            commits[location] = revision
            continue
        try:
            found = store.fetch(location, progress=False)
        except WeightsError as exc:
            notes.append(f"{location}: its commit is not recorded ({exc}); the sha256 still pins the bytes")
            continue
        if found != path and sha256_of(found) != digest:
            raise LockError(
                f"{location} serves a different file than {weights.url} (sha256 {sha256_of(found)}, not {digest}): "
                "the entry's locations disagree, so there is no one file to pin. Fix the entry's mirrors."
            )
        commits[location] = _commit_of(location, found)
    return commits


def _fingerprint(builder: str, member: Any, notes: list[str]) -> dict[str, Any] | None:
    from .. import fingerprint

    try:
        return fingerprint.compute(builder, member)
    except ModelverError as exc:
        if "no fingerprint probe" not in str(exc):
            raise
        notes.append(f"no output fingerprint ({exc})")
        return None


def make_pin(builder: str, member: Any, *, progress: bool = False) -> tuple[_format.Pin, list[str]]:
    """Pin ``member`` for ``builder`` as it is today; returns the pin and notes worth printing."""
    notes: list[str] = []
    weights = member.value
    path = store.fetch(weights, progress=progress)  # verified against the entry's own sha256, when it has one
    digest = sha256_of(path)
    pin = _format.Pin(
        builder=builder,
        entry=f"{type(member).__name__}.{member.name}",
        default=default_name(type(member)),
        url=weights.url,
        mirrors=tuple(weights.mirrors),
        sha256=digest,
        size=path.stat().st_size,
        commits=MappingProxyType(_resolve_commits(weights, path, digest, notes)),
        fingerprint=_fingerprint(builder, member, notes),
        locked_with=f"modelver {__version__}",
    )
    return pin, notes


def fingerprint_difference(recorded: Any, current: Any) -> str:
    """'' when two fingerprints agree within modelver's tolerance, else where they differ most."""
    from ..fingerprint import _max_difference

    if recorded is None or current is None:
        return "" if recorded is None and current is None else "recorded in one, not the other"
    difference, where = _max_difference(dict(recorded), dict(current))
    return f"{where} differs by {difference:.3g}" if difference > 0 else ""


def same_file(a: _format.Pin, b: _format.Pin) -> bool:
    return (a.entry, a.url, a.mirrors, a.sha256, a.size, dict(a.commits)) == (
        b.entry, b.url, b.mirrors, b.sha256, b.size, dict(b.commits)
    )


def metrics_of(member: Any) -> dict[str, Any]:
    """``{"ImageNet-1K acc@1": 76.13, ...}`` from ``meta["_metrics"]`` (torchvision's key) or ``meta["metrics"]``."""
    meta = member.meta
    metrics = (meta["_metrics"] if "_metrics" in meta else meta.get("metrics")) or {}
    flat = {}
    for dataset, values in metrics.items():
        if isinstance(values, dict):
            flat.update({f"{dataset} {name}": value for name, value in values.items()})
        else:
            flat[dataset] = values
    return flat


def short(pin: _format.Pin) -> str:
    """The file of a pin in a few words: its location, digest prefix and size."""
    return f"{pin.url} sha256 {pin.sha256[:12]}… ({pin.size} bytes)"


def provenance(weights: Any, *, fetch: bool = True) -> dict[str, Any]:
    """Exactly which weights: the entry, its file's sha256 and size, and the pin when a lock is in force.

    What a bundle's manifest records (``modelver export``). Under a lock pinning the entry's
    enum to another entry, raises :class:`LockError`, as loading it would. With ``fetch``
    the file is fetched (found in the cache after a build) and verified or hashed, and
    ``verified`` is true; without it (a model built elsewhere) the digest is the pin's or
    the entry's, if either knows one.
    """
    from .._weights import WeightsEnum, weights_label
    from ._active import at_pinned_commits, pin_of, pinned_weights

    found = None
    if isinstance(weights, WeightsEnum):
        pinned_weights(weights)  # another entry than the lock's pin: LockError
        found = pin_of(weights)
    lock, pin = found if found is not None else (None, None)
    record: dict[str, Any] = {
        "entry": weights_label(weights),
        "sha256": pin.sha256 if pin else (weights.sha256 or None),
        "size": pin.size if pin else None,
        "lock": pin.line() if pin else None,
        "lock_file": str(lock.path) if lock else None,
        "verified": False,
    }
    if fetch:
        if pin is not None:
            path = store.fetch(at_pinned_commits(weights.value, pin), progress=False, sha256=pin.sha256, size=pin.size)
        else:
            path = store.fetch(weights, progress=False)
        record.update(sha256=pin.sha256 if pin else sha256_of(path), size=path.stat().st_size, verified=True)
    return record
