"""What a file must be (:class:`Expected`) and the checks against it: sha256, hash prefix, size.

Digests are remembered by (size, mtime) so a file is hashed once, not on every load.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from pathlib import Path

from ..errors import IntegrityError
from . import _settings

# torch.hub's convention: a hex prefix of the sha256 after the last '-' of the file name.
_HASH_PREFIX = re.compile(r"-([a-f0-9]{6,64})\.")
_CHUNK = 1 << 20
_memo: dict[str, tuple[int, int, str]] = {}


def hash_prefix_of(name: str) -> str | None:
    """``resnet50-11ad3fa6.pth`` → ``11ad3fa6`` (None when the name carries no hash)."""
    match = _HASH_PREFIX.search(name)
    return match.group(1) if match else None


@dataclasses.dataclass(frozen=True)
class Expected:
    """What a fetched file must be.

    ``sha256``: the full digest (empty when unknown). ``check_hash``: also accept a file
    whose digest starts with the hex after the last ``-`` of its name (torch.hub's
    ``check_hash=True``), for entries whose full digest is unknown; opt-in, because a
    user's ``ckpt-500000.pth`` is a step count, not a digest. ``size``: the exact byte
    count, when known. ``max_size``: a bound (an entry's declared ``_file_size``).
    """

    sha256: str = ""
    check_hash: bool = False
    size: int | None = None
    max_size: int | None = None

    def prefix(self, name: str) -> str | None:
        return None if self.sha256 or not self.check_hash else hash_prefix_of(name)

    def pins(self, name: str) -> bool:
        """Whether a file's bytes can be checked against this (a digest or a hash prefix)."""
        return bool(self.sha256 or self.prefix(name))

    def limit(self) -> tuple[int, str]:
        """The byte count no download may pass, and where that limit comes from."""
        if self.size is not None:
            return self.size, "the expected size of the file"
        configured = _settings.max_download_size()
        if self.max_size is not None and self.max_size < configured:
            return self.max_size, "the size the weights entry declares (meta _file_size)"
        return configured, f"{_settings.MAX_DOWNLOAD_VAR}"


def expected_of(weights: object, *, sha256: str | None = None, size: int | None = None) -> Expected:
    """The :class:`Expected` of a ``Weights`` (or enum member); ``sha256``/``size`` given here win."""
    declared = (getattr(weights, "meta", None) or {}).get("_file_size")
    max_size = None
    if isinstance(declared, (int, float)) and not isinstance(declared, bool) and declared > 0:
        # torchvision's MB (rounded to 3 decimals), with room for a re-saved file of the same
        # architecture given the entry's meta (custom Weights often copy it): 5% and 1 MiB.
        max_size = int(declared * 1024**2 * 1.05) + 2**20
    return Expected(
        sha256=(getattr(weights, "sha256", "") if sha256 is None else sha256).lower(),
        check_hash=bool(getattr(weights, "check_hash", False)),
        size=size,
        max_size=max_size,
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _record_path(path: Path) -> Path:
    key = hashlib.sha1(str(path.resolve()).encode()).hexdigest()
    return _settings.state_dir() / "verified" / f"{key}.json"


def _stat_key(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _known_digest(path: Path) -> str | None:
    size, mtime = _stat_key(path)
    key = str(path.resolve())
    if key in _memo and _memo[key][:2] == (size, mtime):
        return _memo[key][2]
    try:
        record = json.loads(_record_path(path).read_text())
    except (OSError, ValueError):
        return None
    if record.get("path") == key and record.get("size") == size and record.get("mtime_ns") == mtime:
        _memo[key] = (size, mtime, record["sha256"])
        return str(record["sha256"])
    return None


def remember(path: Path, digest: str) -> None:
    """Note that ``path`` (as it is now) has ``digest``; best effort on a read-only cache."""
    size, mtime = _stat_key(path)
    key = str(path.resolve())
    _memo[key] = (size, mtime, digest)
    record = _record_path(path)
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        tmp = record.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"path": key, "size": size, "mtime_ns": mtime, "sha256": digest}))
        os.replace(tmp, record)
    except OSError:
        pass  # the in-process memo still avoids re-hashing in this process


def check_size(size: int, expect: Expected, *, path: Path, origin: str) -> None:
    if expect.size is not None and size != expect.size:
        raise IntegrityError(
            f"Size mismatch for {origin}: expected {expect.size} bytes, got {size} (file {path}). "
            "The file is corrupt or was replaced; it was not used."
        )


def check_digest(digest: str, expect: Expected, *, name: str, path: Path, origin: str) -> None:
    """Raise :class:`IntegrityError` unless ``digest`` matches the full sha256 or the name's prefix."""
    if expect.sha256:
        if digest != expect.sha256:
            raise IntegrityError(
                f"sha256 mismatch for {origin}: expected {expect.sha256}, got {digest} (file {path}). "
                "The file is corrupt or was replaced; it was not used."
            )
        return
    prefix = expect.prefix(name)
    if prefix and not digest.startswith(prefix):
        raise IntegrityError(
            f"sha256 mismatch for {origin}: expected a digest starting with {prefix} (from the file name), "
            f"got {digest} (file {path}). The file is corrupt or was replaced; it was not used."
        )


def verify_file(path: Path, expect: Expected, *, name: str, origin: str) -> str:
    """Check ``path`` against ``expect`` (size, sha256 or the hash prefix in ``name``); returns its digest."""
    check_size(path.stat().st_size, expect, path=path, origin=origin)
    digest = _known_digest(path)
    if digest is None:
        if not expect.pins(name):
            return ""  # nothing to check against: do not spend time hashing
        digest = sha256_of(path)
    check_digest(digest, expect, name=name, path=path, origin=origin)
    remember(path, digest)
    return digest
