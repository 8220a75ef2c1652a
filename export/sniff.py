"""What a model file really is, from its bytes: ONNX protobuf, TorchScript archive, ``.pt2`` archive.

A bundle's manifest and a file's suffix are claims; :func:`modelver_export.runtime.load`
loads a file only through the format these checks recognise, so a TorchScript archive
renamed ``model.onnx`` (or listed as ONNX in its manifest) never reaches torch unasked.
Pure Python (zipfile): nothing of the file is run.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

__all__ = ["is_onnx", "is_pt2", "is_torchscript", "is_zip", "zip_names"]

_ZIP_MAGIC = b"PK\x03\x04"
#: the protobuf tags a serialised onnx.ModelProto can start with: fields 1-8, 14, 20 and 25, varint or bytes
_MODEL_PROTO_TAGS = {(n << 3) | wire for n in (1, 2, 3, 4, 5, 6, 7, 8, 14, 20, 25) for wire in (0, 2)}


def _head(path: Path, size: int = 4) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return b""


def is_zip(path: Path) -> bool:
    return _head(path) == _ZIP_MAGIC


def zip_names(path: Path) -> list[str]:
    """The member names of a zip archive ([] when it is not one or is unreadable)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return []


def _relative(names: list[str]) -> set[str]:
    """Archive members without their top folder (torch writes ``<archive name>/...``)."""
    return {name.split("/", 1)[1] for name in names if "/" in name}


def is_torchscript(path: Path) -> bool:
    """A ``torch.jit.save`` archive: compiled code (``code/``) beside pickled constants."""
    members = _relative(zip_names(path)) if is_zip(path) else set()
    return any(m.startswith("code/") for m in members) and "constants.pkl" in members


def is_pt2(path: Path) -> bool:
    """A ``torch.export.save`` archive (PT2 archive format)."""
    members = _relative(zip_names(path)) if is_zip(path) else set()
    return "archive_format" in members or any(m.startswith("models/") for m in members)


def is_onnx(path: Path) -> bool:
    """A serialised ``onnx.ModelProto`` (protobuf): not an archive, and its first byte a ModelProto field tag."""
    head = _head(path, 1)
    return len(head) == 1 and head[0] in _MODEL_PROTO_TAGS
