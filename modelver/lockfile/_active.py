"""The lock in force: ``use_lock(path)`` (this thread / task) or ``MODELVER_LOCK=path`` (the process).

The weights API asks here, cheaply, at three points:

- ``X_Weights.verify("DEFAULT")`` → :func:`pinned_member`: the pinned entry, whatever
  ``DEFAULT`` is today (torch.hub passes the string);
- legacy ``pretrained=True`` → :func:`instead_of_legacy`: the pinned entry too;
- loading a file (``member.get_state_dict``) → :func:`pinned_weights`: refuses another
  entry of a pinned enum with :class:`LockError`, and loads the pinned one with the
  pinned sha256 and size (the store's per-call ``sha256=``/``size=``; :func:`expected`)
  and ``hf://`` locations at their pinned commits;
- fetching a file beside the weights (``tokenizer_beside``) → :func:`pinned_location`: read
  at the weights' pinned commit.

A pin holds for its weights enum wherever the process loads it, as a package lock pins a
package for every dependent: a Faster R-CNN backbone taken from ``ResNet50_Weights``
follows the ``resnet50`` pin. Enums that no pin names load as usual.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import IntegrityError, LockError
from . import _format

__all__ = [
    "LOCK_VAR",
    "active",
    "at_commit",
    "at_pinned_commits",
    "expected",
    "explain_integrity",
    "instead_of_legacy",
    "pin_of",
    "pinned_location",
    "pinned_member",
    "pinned_weights",
    "use_lock",
]

LOCK_VAR = "MODELVER_LOCK"
_UNSET: Any = object()
_CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("modelver_lock", default=_UNSET)
_cache: dict[str, tuple[tuple[int, int], _format.LockFile]] = {}


def _from_environment() -> _format.LockFile | None:
    value = os.environ.get(LOCK_VAR, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    try:
        st = path.stat()
    except OSError:
        raise LockError(
            f"{LOCK_VAR}={value}: no such lock file. Write it with `modelver lock NAME ... --file {value}`, "
            f"or unset {LOCK_VAR}."
        ) from None
    key, stamp = str(path.resolve()), (st.st_size, st.st_mtime_ns)
    known = _cache.get(key)
    if known is None or known[0] != stamp:
        known = (stamp, _format.read(path))
        _cache[key] = known
    return known[1]


def active() -> _format.LockFile | None:
    """The lock in force here: the innermost ``use_lock``, else ``$MODELVER_LOCK``, else None."""
    current = _CURRENT.get()
    if current is not _UNSET:
        return current  # type: ignore[no-any-return]
    return _from_environment()


@contextlib.contextmanager
def use_lock(path: str | os.PathLike[str] | None) -> Iterator[_format.LockFile | None]:
    """Apply the lock file ``path`` to the weights this thread (or asyncio task) resolves and loads.

    ``use_lock(None)`` lifts any lock (``MODELVER_LOCK`` included) inside the block. The file
    is read once, on entry; a malformed one raises :class:`LockError` there. For the whole
    process, torch.hub calls and worker threads included, set ``MODELVER_LOCK=path``.
    """
    lock = None if path is None else _format.read(path)
    token = _CURRENT.set(lock)
    try:
        yield lock
    finally:
        _CURRENT.reset(token)


def _pin_of(enum: type) -> tuple[_format.LockFile, _format.Pin] | None:
    lock = active()
    if lock is None:
        return None
    pin = lock.by_enum(enum.__name__)
    return None if pin is None else (lock, pin)


def pin_of(member: Any) -> tuple[_format.LockFile, _format.Pin] | None:
    """(lock, pin) when the lock in force pins ``member`` itself; None otherwise."""
    found = _pin_of(type(member))
    return found if found is not None and found[1].member_name == member.name else None


def _upgrade_hint(lock: _format.LockFile, pin: _format.Pin) -> str:
    return f"`modelver lock --upgrade {pin.builder} --file {lock.path}`"


def pinned_member(enum: type) -> Any:
    """The member the lock pins for ``enum`` (None when no pin names it)."""
    found = _pin_of(enum)
    if found is None:
        return None
    lock, pin = found
    member = enum.__members__.get(pin.member_name)  # type: ignore[attr-defined]
    if member is None:
        raise LockError(
            f"{lock.path} pins {pin.builder} to {pin.entry}, which {enum.__name__} no longer has "
            f"(entries: {', '.join(enum.__members__)}). Re-pin it: {_upgrade_hint(lock, pin)}."  # type: ignore[attr-defined]
        )
    return member


def instead_of_legacy(chosen: Any) -> Any:
    """``pretrained=True`` under a lock: the pinned member of ``chosen``'s enum, else ``chosen``."""
    if chosen is None:
        return None
    pinned = pinned_member(type(chosen))
    return chosen if pinned is None else pinned


def at_commit(location: str, commit: str | None) -> str:
    """``hf://org/repo[@rev]/file`` read at ``commit`` (other locations, or no commit: unchanged)."""
    if not commit or not location.startswith("hf://"):
        return location
    from ..store import parse_location

    source = parse_location(location)
    return f"hf://{source.repo_id}@{commit}/{source.filename}"  # type: ignore[union-attr]


def pinned_location(location: str) -> str:
    """``location`` at the commit the lock in force recorded for it, else unchanged.

    For the files released beside a pinned ``hf://`` weights file (a tokenizer): they are read
    from the same commit as the weights, not from wherever the branch points today.
    """
    lock = active()
    for pin in lock.pins.values() if lock is not None else ():
        commit = pin.commits.get(location)
        if commit:
            return at_commit(location, commit)
    return location


def pinned_weights(member: Any) -> Any:
    """The ``Weights`` to load for ``member`` under the lock (None: not pinned, load as usual).

    Raises :class:`LockError` when the lock pins another entry of its enum. The returned
    value is the entry's own with its ``hf://`` locations at their pinned commits; load it
    with :func:`expected` (the pinned sha256 and size), so that the file loaded is the file
    that was locked, or nothing.
    """
    found = _pin_of(type(member))
    if found is None:
        return None
    lock, pin = found
    requested = f"{type(member).__name__}.{member.name}"
    if member.name != pin.member_name:
        default = type(member).__members__.get("DEFAULT")
        today = " (today's DEFAULT)" if default is member else ""
        raise LockError(
            f"{requested}{today} is not what {lock.path} pins for {pin.builder}: it pins {pin.entry}. "
            f'Ask for {pin.entry} (or weights="DEFAULT", which resolves to it under the lock), or move the pin '
            f"on purpose: {_upgrade_hint(lock, pin)}."
        )
    return at_pinned_commits(member.value, pin)


def expected(member: Any) -> dict[str, Any]:
    """What the store must find for ``member``'s file under the lock: ``{"sha256": ..., "size": ...}``."""
    found = _pin_of(type(member))
    return {} if found is None else {"sha256": found[1].sha256, "size": found[1].size}


def at_pinned_commits(weights: Any, pin: _format.Pin) -> Any:
    """``weights`` with its ``hf://`` locations read at the commits ``pin`` recorded."""
    return dataclasses.replace(
        weights,
        url=at_commit(weights.url, pin.commits.get(weights.url)),
        mirrors=tuple(at_commit(m, pin.commits.get(m)) for m in weights.mirrors),
    )


@contextlib.contextmanager
def explain_integrity(member: Any) -> Iterator[None]:
    """Name the lock in an integrity failure of a pinned file: it is the lock that refuses it."""
    try:
        yield
    except IntegrityError as exc:
        found = _pin_of(type(member))
        if found is None:
            raise
        lock, pin = found
        raise IntegrityError(
            f"{exc} {lock.path} pins {pin.entry} to sha256 {pin.sha256} ({pin.size} bytes); the file is not "
            f"the one that was locked. `modelver lock --check --file {lock.path}` lists every difference."
        ) from exc
