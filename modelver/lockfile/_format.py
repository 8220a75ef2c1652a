"""The lock file itself: one :class:`Pin` per builder, read with ``tomllib``, written deterministically.

The file is TOML, one table per builder, keys in a fixed order, builders sorted by name,
each fingerprint output on one line, so the same pins always give the same bytes and a
changed pin is a readable diff::

    version = 1

    [builders.resnet50]
    entry = "ResNet50_Weights.IMAGENET1K_V1"
    default = "IMAGENET1K_V2"
    url = "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    mirrors = []
    sha256 = "0676ba61..."
    size = 102530333
    locked_with = "modelver 0.1.0"

    [builders.resnet50.fingerprint]
    logits = { shape = [1, 1000], stats = { mean = ..., ... }, values = [...] }

No torch here: ``import modelver`` reads lock files through this module.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import LockError

__all__ = ["DEFAULT_FILE", "FORMAT_VERSION", "LockFile", "Pin", "dumps", "read", "write"]

FORMAT_VERSION = 1
DEFAULT_FILE = "modelver.lock"
HEADER = (
    "# Weights pinned by `modelver lock`: commit this file.\n"
    "# `modelver lock --check` verifies the pins; `modelver lock --upgrade NAME` moves one on purpose.\n"
)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class Pin:
    """What one builder is locked to.

    Attributes:
        builder: the builder's registered name.
        entry: the full entry name, ``"X_Weights.MEMBER"``.
        default: the member ``DEFAULT`` named when the pin was written (to report a move).
        url, mirrors: the entry's locations when the pin was written.
        sha256, size: the file's full digest and size in bytes.
        commits: for ``hf://`` locations, location → the commit its revision resolved to.
        fingerprint: the entry's output fingerprint (:mod:`modelver.fingerprint`), or None
            when its task has no probe.
        locked_with: the modelver version that wrote the pin.
    """

    builder: str
    entry: str
    default: str
    url: str
    mirrors: tuple[str, ...]
    sha256: str
    size: int
    commits: Mapping[str, str]
    fingerprint: Mapping[str, Any] | None
    locked_with: str

    @property
    def enum_name(self) -> str:
        return self.entry.partition(".")[0]

    @property
    def member_name(self) -> str:
        return self.entry.partition(".")[2]

    def line(self) -> str:
        """One line naming the pin: what a bundle's manifest and messages quote."""
        return f"{self.builder} = {self.entry} sha256:{self.sha256} ({self.size} bytes)"


@dataclasses.dataclass(frozen=True)
class LockFile:
    path: Path
    pins: Mapping[str, Pin]

    def by_enum(self, enum_name: str) -> Pin | None:
        """The pin of the builder whose weights enum is ``enum_name`` (one per enum: see ``write_lock``)."""
        for pin in self.pins.values():
            if pin.enum_name == enum_name:
                return pin
        return None


def _fail(path: Path, message: str) -> LockError:
    return LockError(f"{path}: {message} Fix the file, or rewrite it with `modelver lock NAME ... --file {path}`.")


def _expect(path: Path, table: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise _fail(path, f"{where}.{key} must be a {kind.__name__}, got {value!r}.")
    return value


def _pin(path: Path, builder: str, table: Any) -> Pin:
    where = f"[builders.{builder}]"
    if not isinstance(table, dict):
        raise _fail(path, f"{where} must be a table.")
    entry = _expect(path, table, "entry", str, where)
    if entry.count(".") != 1 or not all(entry.split(".")):
        raise _fail(path, f"{where}.entry must be a full entry name like 'X_Weights.NAME', got {entry!r}.")
    sha256 = _expect(path, table, "sha256", str, where)
    if not _HEX64.match(sha256):
        raise _fail(path, f"{where}.sha256 must be 64 lowercase hex digits, got {sha256!r}.")
    mirrors = table.get("mirrors", [])
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        raise _fail(path, f"{where}.mirrors must be a list of strings, got {mirrors!r}.")
    commits = table.get("commits", {})
    if not isinstance(commits, dict) or not all(isinstance(v, str) for v in commits.values()):
        raise _fail(path, f"{where}.commits must map hf:// locations to commit hashes, got {commits!r}.")
    fingerprint = table.get("fingerprint")
    if fingerprint is not None and not isinstance(fingerprint, dict):
        raise _fail(path, f"{where}.fingerprint must be a table, got {fingerprint!r}.")
    size = _expect(path, table, "size", int, where)
    if size < 0:
        raise _fail(path, f"{where}.size must not be negative, got {size}.")
    return Pin(
        builder=builder,
        entry=entry,
        default=_expect(path, table, "default", str, where),
        url=_expect(path, table, "url", str, where),
        mirrors=tuple(mirrors),
        sha256=sha256,
        size=size,
        commits=MappingProxyType(dict(commits)),
        fingerprint=None if fingerprint is None else MappingProxyType(fingerprint),
        locked_with=_expect(path, table, "locked_with", str, where),
    )


def read(path: str | Path) -> LockFile:
    """Parse and validate a lock file; any problem is one :class:`LockError` naming the file."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LockError(f"{path}: no such lock file. Write one with `modelver lock NAME ... --file {path}`.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"{path}: cannot read the lock file ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"not valid TOML ({exc}).") from None
    if data.get("version") != FORMAT_VERSION:
        raise _fail(path, f"version must be {FORMAT_VERSION} (this modelver's lock format), got {data.get('version')!r}.")
    builders = data.get("builders", {})
    if not isinstance(builders, dict):
        raise _fail(path, "[builders] must be a table of builder tables.")
    pins = {name: _pin(path, name, table) for name, table in builders.items()}
    return LockFile(path, MappingProxyType(dict(sorted(pins.items()))))


# Writing: a tiny emitter for the few value kinds a lock holds, so layout and order are ours.
def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are TOML basic-string escapes; DEL is the one control character JSON leaves raw.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a lock file holds finite numbers only, got {value!r}")
        return repr(value)  # shortest round-trip form; valid TOML (1e-05, 0.5, -3.0)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to a lock file: {value!r}")


def _pin_text(pin: Pin) -> str:
    head = f"builders.{_key(pin.builder)}"
    mirrors = "[]" if not pin.mirrors else "[\n" + "".join(f"  {_string(m)},\n" for m in pin.mirrors) + "]"
    lines = [
        f"[{head}]",
        f"entry = {_string(pin.entry)}",
        f"default = {_string(pin.default)}",
        f"url = {_string(pin.url)}",
        f"mirrors = {mirrors}",
        f"sha256 = {_string(pin.sha256)}",
        f"size = {pin.size}",
        f"locked_with = {_string(pin.locked_with)}",
    ]
    if pin.commits:
        lines += ["", f"[{head}.commits]"]
        lines += [f"{_string(loc)} = {_string(commit)}" for loc, commit in sorted(pin.commits.items())]
    if pin.fingerprint is not None:
        lines += ["", f"[{head}.fingerprint]"]
        lines += [f"{_key(name)} = {_value(summary)}" for name, summary in sorted(pin.fingerprint.items())]
    return "\n".join(lines) + "\n"


def dumps(pins: Mapping[str, Pin]) -> str:
    """The lock file's text: same pins, same bytes."""
    parts = [HEADER + f"version = {FORMAT_VERSION}\n"]
    parts += [_pin_text(pins[name]) for name in sorted(pins)]
    return "\n".join(parts)


def write(path: str | Path, pins: Mapping[str, Pin]) -> Path:
    """Write the lock file atomically (a reader never sees half a file)."""
    import os

    path = Path(path)
    text = dumps(pins)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LockError(f"{path}: cannot write the lock file ({exc}).") from None
    return path
