"""sha256 checks, remembered by (size, mtime) so a file is hashed once, not on every load."""

from __future__ import annotations

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


def check_digest(digest: str, *, sha256: str, name: str, path: Path, origin: str) -> None:
    """Raise :class:`IntegrityError` unless ``digest`` matches the full sha256 or the name's prefix."""
    if sha256:
        if digest != sha256:
            raise IntegrityError(
                f"sha256 mismatch for {origin}: expected {sha256}, got {digest} (file {path}). "
                "The file is corrupt or was replaced; it was not used."
            )
        return
    prefix = hash_prefix_of(name)
    if prefix and not digest.startswith(prefix):
        raise IntegrityError(
            f"sha256 mismatch for {origin}: expected a digest starting with {prefix} (from the file name), "
            f"got {digest} (file {path}). The file is corrupt or was replaced; it was not used."
        )


def verify_file(path: Path, *, sha256: str, name: str, origin: str) -> str:
    """Check ``path`` against ``sha256`` (or the hash prefix in ``name``); returns its digest."""
    digest = _known_digest(path)
    if digest is None:
        if not sha256 and not hash_prefix_of(name):
            return ""  # nothing to check against: do not spend time hashing
        digest = sha256_of(path)
    check_digest(digest, sha256=sha256, name=name, path=path, origin=origin)
    remember(path, digest)
    return digest
