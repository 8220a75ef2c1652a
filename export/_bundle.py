"""What a bundle is on disk: the manifest (``bundle.json``), file digests and the embedded meta.

Pure Python (json, hashlib): the torch-free runtime reads bundles through this module.

A bundle is a directory::

    bundle.json        the manifest: format, files with sha256, inputs/outputs, meta, parity report
    model.onnx | model.pt | model.pt2

A Triton bundle is a model repository whose model directory holds the manifest::

    triton/<name>/config.pbtxt, labels.txt, bundle.json, 1/model.onnx

Every model file also carries the meta itself (ONNX ``metadata_props``, TorchScript
``_extra_files``, ``.pt2`` ``extra_files``) together with the sha256 of its canonical
JSON, so a file copied without its manifest still describes itself, and an edited meta is
detected.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

from modelver.errors import BundleError

__all__ = [
    "BUNDLE_VERSION",
    "MANIFEST",
    "META_DIGEST_FILE",
    "META_FILE",
    "canonical_json",
    "meta_digest",
    "read_manifest",
    "sha256_file",
    "verify_files",
    "write_manifest",
]

BUNDLE_VERSION = 1
MANIFEST = "bundle.json"
# Names inside TorchScript / .pt2 archives, and the ONNX metadata_props key of the digest.
META_FILE = "meta.json"
META_DIGEST_FILE = "meta.sha256"
META_DIGEST_KEY = "modelver.meta_sha256"


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value`` that digests are computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def meta_digest(meta: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(meta).encode("utf-8")).hexdigest()


def check_meta_digest(meta: Mapping[str, Any], digest: str | None, where: str) -> None:
    """Refuse meta that was edited after export (its recorded digest no longer matches)."""
    if digest is None:
        raise BundleError(f"{where} carries no meta digest: it was not written by modelver's exporter or was altered.")
    actual = meta_digest(meta)
    if actual != digest.strip():
        raise BundleError(
            f"The meta embedded in {where} was changed after export (sha256 {actual[:12]}..., "
            f"recorded {digest.strip()[:12]}...); re-export the bundle."
        )


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def file_entry(root: Path, relative: str) -> dict[str, Any]:
    path = root / relative
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def write_manifest(directory: str | os.PathLike[str], manifest: Mapping[str, Any]) -> Path:
    path = Path(directory) / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path} does not exist: {directory} is not a bundle directory.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(
            f"{path} is not valid JSON ({exc}); the manifest is corrupted, re-export the bundle."
        ) from None
    if not isinstance(manifest, dict) or manifest.get("bundle_version") is None:
        raise BundleError(f"{path} is not a modelver bundle manifest (no 'bundle_version').")
    if manifest["bundle_version"] != BUNDLE_VERSION:
        raise BundleError(
            f"{path} has bundle_version {manifest['bundle_version']!r}; this runtime reads version {BUNDLE_VERSION}. "
            "Upgrade modelver or re-export the bundle."
        )
    for key, kind in (("format", str), ("model_file", str), ("files", dict), ("meta", dict)):
        if not isinstance(manifest.get(key), kind):
            raise BundleError(
                f"{path}: {key!r} is missing or not a {kind.__name__}; the manifest is corrupted, re-export the bundle."
            )
    for name in [manifest["model_file"], *manifest["files"]]:
        inside(Path(directory), name, path)
    for name, entry in manifest["files"].items():
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("sha256"), str)
            or not isinstance(entry.get("size"), int)
        ):
            raise BundleError(f"{path}: the entry of {name!r} needs 'sha256' and 'size'; the manifest is corrupted.")
    return manifest


def inside(root: Path, relative: str, manifest: Path) -> Path:
    """``root / relative``, refusing names that leave the bundle directory."""
    if not isinstance(relative, str) or not relative or Path(relative).is_absolute():
        raise BundleError(f"{manifest} names {relative!r}, which is not a path inside the bundle; refusing it.")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise BundleError(f"{manifest} names {relative!r}, which is outside the bundle directory; refusing it.")
    return candidate


def verify_files(directory: str | os.PathLike[str], manifest: Mapping[str, Any]) -> None:
    """Every file the manifest lists exists with its recorded size and sha256."""
    root = Path(directory)
    for relative, entry in manifest["files"].items():
        path = root / relative
        if not path.is_file():
            raise BundleError(
                f"{path} is missing from the bundle (listed in {root / MANIFEST}); copy the whole directory."
            )
        size = path.stat().st_size
        if size != entry["size"]:
            raise BundleError(
                f"{path} has {size} bytes, {MANIFEST} says {entry['size']}: the file is truncated or was replaced; "
                "copy the bundle again or re-export it."
            )
        actual = sha256_file(path)
        if actual != entry.get("sha256"):
            raise BundleError(
                f"sha256 of {path} is {actual}, {MANIFEST} says {entry.get('sha256')}: the file was changed or "
                "corrupted; copy the bundle again or re-export it."
            )
