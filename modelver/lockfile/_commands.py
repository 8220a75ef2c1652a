"""``write_lock`` (lock, re-lock, upgrade), ``remove_pins`` and ``check_lock``: what ``modelver lock`` runs.

Locking follows package managers: a builder already in the file keeps its pinned entry
(re-running rewrites the same bytes); ``NAME=ENTRY`` pins that entry; ``upgrade`` moves
pins to today's ``DEFAULT`` and says what changes. Both commands run with any active lock
lifted, so they see the registry as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import store
from ..errors import IntegrityError, LockError, UnknownModelError, WeightsError
from . import _format, _pin
from ._active import at_pinned_commits, use_lock

__all__ = ["CheckReport", "LockResult", "PinCheck", "check_lock", "remove_pins", "write_lock"]


@dataclasses.dataclass
class LockResult:
    """What ``write_lock`` did: the file, whether it changed, and readable lines (one per pin, then details)."""

    path: Path
    changed: bool
    lines: list[str]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _parse_request(text: str) -> tuple[str, str | None]:
    name, eq, entry = str(text).partition("=")
    name, entry = name.strip().lower(), entry.strip()
    if not name or (eq and not entry):
        raise LockError(f"{text!r}: name a builder, optionally with an entry: NAME or NAME=ENTRY (resnet50=IMAGENET1K_V1).")
    return name, entry if eq else None


def _default_member(enum: Any, builder: str) -> Any:
    default = enum.__members__.get("DEFAULT")
    if default is None:
        raise LockError(f"{enum.__name__} has no DEFAULT: name the entry to pin, e.g. {builder}={next(iter(enum.__members__))}.")
    return default


def _differences(before: _format.Pin, now: _format.Pin) -> list[str]:
    """What differs between a pin and the same entry pinned today (empty: the pin holds)."""
    found = []
    if before.entry != now.entry:
        found.append(f"entry: {now.entry} (locked {before.entry})")
    if before.url != now.url:
        found.append(f"url: {now.url} (locked {before.url})")
    if before.mirrors != now.mirrors:
        found.append(f"mirrors: {list(now.mirrors)} (locked {list(before.mirrors)})")
    if (before.sha256, before.size) != (now.sha256, now.size):
        found.append(f"file: sha256 {now.sha256} ({now.size} bytes), locked {before.sha256} ({before.size} bytes)")
    if dict(before.commits) != dict(now.commits):
        found.append(f"commits: {dict(now.commits)} (locked {dict(before.commits)})")
    moved = _pin.fingerprint_difference(before.fingerprint, now.fingerprint)
    if moved:
        found.append(f"fingerprint: {moved}")
    return found


def _metric_lines(enum: Any, before: _format.Pin, now: _format.Pin, member: Any) -> list[str]:
    old_member = enum.__members__.get(before.member_name) if before.enum_name == enum.__name__ else None
    old = _pin.metrics_of(old_member) if old_member is not None else {}
    new = _pin.metrics_of(member)
    changes = [f"{key} {old.get(key, '?')} -> {new.get(key, '?')}" for key in {**old, **new} if old.get(key) != new.get(key)]
    return [f"  metrics: {', '.join(changes)}"] if changes else []


def _change_lines(enum: Any, member: Any, before: _format.Pin | None, now: _format.Pin) -> list[str]:
    if before is None:
        return [f"{now.builder}: pinned {now.entry} ({_pin.short(now)})"]
    head = f"{before.entry} -> {now.entry}" if before.entry != now.entry else f"{now.entry} re-pinned"
    lines = [f"{now.builder}: {head}", *_metric_lines(enum, before, now, member)]
    if (before.url, before.sha256) != (now.url, now.sha256):
        lines.append(f"  file: {_pin.short(before)} -> {_pin.short(now)}")
    if dict(before.commits) != dict(now.commits):
        lines.append(f"  commits: {dict(before.commits)} -> {dict(now.commits)}")
    moved = _pin.fingerprint_difference(before.fingerprint, now.fingerprint)
    lines.append(f"  fingerprint: {'changed (' + moved + ')' if moved else 'unchanged'}")
    return lines


def _one_pin_per_enum(path: Path, pins: dict[str, _format.Pin]) -> None:
    owners: dict[str, str] = {}
    for name, pin in sorted(pins.items()):
        other = owners.setdefault(pin.enum_name, name)
        if other != name:
            raise LockError(
                f"{path}: {other} and {name} share the weights enum {pin.enum_name}; a lock pins one entry per "
                "enum (it holds wherever the enum is loaded). Lock one of them."
            )


def write_lock(
    path: str | Path = _format.DEFAULT_FILE,
    requests: Iterable[str] = (),
    *,
    upgrade: bool = False,
    progress: bool = False,
) -> LockResult:
    """Pin builders' weights in the lock file ``path`` (created, or updated in place).

    Args:
        path: the lock file (default ``modelver.lock`` in the current directory).
        requests: ``"resnet50"`` (its pinned entry if the file has one, else today's
            ``DEFAULT``) or ``"minilm_l6=ALL_MINILM_L6_V2"`` (that entry). Empty: every
            builder already in the file.
        upgrade: move the named (or all) pins to today's ``DEFAULT``.
        progress: show download progress bars.

    Each pin records the entry, its url and mirrors, the file's sha256 and size (the file
    is fetched or found in the cache), the commit of each ``hf://`` location, the entry's
    output fingerprint and the modelver version. A pin that still holds is kept as it is,
    so re-running rewrites the same bytes; one that no longer holds is refused unless the
    entry is named (``NAME=ENTRY``) or ``upgrade`` is set.
    """
    path = Path(path)
    with use_lock(None):
        existing = dict(_format.read(path).pins) if path.exists() else {}
        wanted = dict(_parse_request(text) for text in requests)
        if upgrade and any(entry is not None for entry in wanted.values()):
            raise LockError("--upgrade moves pins to today's DEFAULT: give builder names without =ENTRY.")
        if not wanted:
            if not existing:
                raise LockError(f"{path}: nothing to lock. Name builders: `modelver lock resnet50 minilm_l6 --file {path}`.")
            wanted = dict.fromkeys(existing)
        pins, lines, changed = dict(existing), [], False
        for name, entry in wanted.items():
            enum = _pin.enum_of_builder(name)
            before = existing.get(name)
            keep = entry is None and not upgrade and before is not None
            if entry is not None:
                member = _pin.member_of(enum, entry)
            elif keep:
                member = _pin.member_of(enum, before.member_name)  # type: ignore[union-attr]
            else:
                member = _default_member(enum, name)
            now, notes = _pin.make_pin(name, member, progress=progress)
            differences = [] if before is None else _differences(before, now)
            if before is not None and not differences:
                pins[name] = before  # holds: keep its bytes (fingerprint floats, version, DEFAULT then)
                lines.append(f"{name}: unchanged ({before.entry})")
            elif keep:
                raise LockError(
                    f"{path}: the pin of {name} ({before.entry}) no longer holds: {'; '.join(differences)}. "  # type: ignore[union-attr]
                    f"Re-pin it as it is today on purpose: `modelver lock {name}={before.member_name} --file {path}` "  # type: ignore[union-attr]
                    f"(or `modelver lock --upgrade {name}` for today's DEFAULT)."
                )
            else:
                pins[name] = now
                lines += _change_lines(enum, member, before, now)
                changed = True
            lines += [f"  note: {note}" for note in notes]
        _one_pin_per_enum(path, pins)
        text = _format.dumps(pins)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _format.write(path, pins)
            changed = True
    return LockResult(path, changed, lines)


def remove_pins(path: str | Path, names: Iterable[str]) -> LockResult:
    """Drop the pins of ``names`` from the lock file ``path``: those builders load as usual again.

    Nothing is fetched. A name the file does not pin is refused (with the pins it has) and the
    file is left as it was; removing every pin leaves a valid, empty lock file.
    """
    path = Path(path)
    names = list(dict.fromkeys(names))
    if not names:
        raise LockError(f"--remove needs builder names: `modelver lock --remove resnet50 --file {path}`.")
    if not path.exists():
        raise LockError(f"{path}: no such lock file; there is nothing to remove.")
    pins = dict(_format.read(path).pins)
    unknown = [name for name in names if name not in pins]
    if unknown:
        raise LockError(
            f"{path} pins no {', '.join(unknown)}; it pins {', '.join(sorted(pins)) or 'nothing'}. Nothing was removed."
        )
    lines = [f"{name}: removed ({pins.pop(name).entry})" for name in names]
    _format.write(path, pins)
    return LockResult(path, True, lines)


@dataclasses.dataclass
class PinCheck:
    """One pin's verdict: ``problems`` break it (exit 1), ``news`` does not (a moved DEFAULT)."""

    builder: str
    entry: str
    problems: list[str] = dataclasses.field(default_factory=list)
    news: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclasses.dataclass
class CheckReport:
    """What ``check_lock`` found: ``.ok`` when every pin holds; ``.lines`` says what differs."""

    path: Path
    pins: list[PinCheck]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.pins)

    @property
    def lines(self) -> list[str]:
        lines = []
        for p in self.pins:
            lines.append(f"{p.builder}: {'ok' if p.ok else 'FAILED'} ({p.entry})")
            lines += [f"  {problem}" for problem in p.problems]
            lines += [f"  news: {item}" for item in p.news]
        failed = sum(not p.ok for p in self.pins)
        lines.append(f"{self.path}: {len(self.pins)} pins, {len(self.pins) - failed} ok, {failed} failed")
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _check_file(result: PinCheck, weights: Any, pin: _format.Pin) -> None:
    try:
        store.fetch(at_pinned_commits(weights, pin), progress=False, sha256=pin.sha256, size=pin.size)
    except IntegrityError as exc:
        result.problems.append(f"file: not the locked one: {exc}")
    except WeightsError as exc:
        result.problems.append(f"file: cannot be verified here: {exc}")


def _check_branches(result: PinCheck, pin: _format.Pin) -> None:
    """News when an ``hf://`` location that follows a branch has moved past its pinned commit."""
    for location, commit in sorted(pin.commits.items()):
        if _pin.is_commit(store.parse_location(location).revision):  # type: ignore[union-attr]
            continue  # pinned in the entry itself: cannot move
        try:
            now = _pin.current_commit(location)
        except (WeightsError, LockError):
            continue  # where it is now cannot be told here (offline, no cache): the pin is checked above
        if now != commit:
            result.news.append(f"{location} now resolves to commit {now} (locked {commit}); the lock keeps reading {commit}")


def _check_fingerprint(result: PinCheck, member: Any, pin: _format.Pin) -> None:
    from .. import fingerprint

    try:
        today = fingerprint.compute(pin.builder, member) if pin.fingerprint is not None else None
    except Exception as exc:  # noqa: BLE001 - a check reports what today's code does, it does not crash on it
        result.problems.append(f"fingerprint: cannot be computed with today's code ({type(exc).__name__}: {exc})")
        return
    moved = _pin.fingerprint_difference(pin.fingerprint, today)
    if moved:
        result.problems.append(
            f"fingerprint: today's code computes something else with these weights ({moved}); "
            "`modelver verify` shows which entries changed"
        )


def _check_pin(path: Path, pin: _format.Pin) -> PinCheck:
    result = PinCheck(pin.builder, pin.entry)
    try:
        enum = _pin.enum_of_builder(pin.builder)
    except (UnknownModelError, LockError) as exc:
        result.problems.append(f"builder: {exc}")
        return result
    if enum.__name__ != pin.enum_name:
        result.problems.append(f"weights enum: {pin.builder} now takes {enum.__name__}, locked {pin.enum_name}")
        return result
    member = enum.__members__.get(pin.member_name)
    if member is None:
        result.problems.append(f"entry: {enum.__name__} has no {pin.member_name} any more (entries: {', '.join(enum.__members__)})")
        return result
    weights = member.value
    if weights.url != pin.url:
        result.problems.append(f"url: the entry now points at {weights.url}, locked {pin.url}")
    if weights.sha256 and weights.sha256 != pin.sha256:
        result.problems.append(f"sha256: the entry now promises {weights.sha256}, locked {pin.sha256}")
    if tuple(weights.mirrors) != pin.mirrors:
        result.news.append(f"mirrors are now {list(weights.mirrors)} (locked {list(pin.mirrors)}); the sha256 guards them")
    _check_file(result, weights, pin)
    _check_branches(result, pin)
    _check_fingerprint(result, member, pin)
    default = _pin.default_name(enum)
    if default != pin.default:
        result.news.append(
            f"DEFAULT is now {default or 'gone'} ({pin.default or 'none'} when locked); the pin holds. "
            f"To move it: `modelver lock --upgrade {pin.builder} --file {path}`"
        )
    return result


def check_lock(path: str | Path = _format.DEFAULT_FILE, names: Iterable[str] = ()) -> CheckReport:
    """Does every pin of ``path`` (or of the named builders) still hold with today's code and files?

    A pin holds when its builder and entry exist, the entry's url and sha256 are the locked
    ones, the file (fetched or found in the cache, ``hf://`` at the locked commit) has the
    locked sha256, and the entry's output fingerprint is unchanged. A moved ``DEFAULT`` or
    changed mirrors are news, not failures.
    """
    path = Path(path)
    with use_lock(None):
        lock = _format.read(path)
        selected = [n.strip().lower() for n in names]
        missing = [n for n in selected if n not in lock.pins]
        if missing:
            raise LockError(f"{path} pins no {', '.join(missing)} (it pins {', '.join(lock.pins) or 'nothing'}).")
        return CheckReport(path, [_check_pin(path, lock.pins[n]) for n in selected or lock.pins])
