"""Read a weights file into tensors without ever running code from it.

``.safetensors`` through safetensors; ``.pt`` / ``.pth`` / ``.bin`` through
``torch.load(weights_only=True)``, memory-mapped when the file is in torch's zip format
(legacy, non-zip checkpoints cannot be mapped and are read normally).
"""

from __future__ import annotations

import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

from ..errors import UnsafeCheckpointError, WeightsError, first_line

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".safetensors")
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml")


def _looks_like_html(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(_HTML_STARTS) or b"<html" in text[:1024]


def _is_checkpoint_start(head: bytes, suffix: str) -> bool:
    if suffix == ".safetensors":  # 8-byte little-endian header length, then a JSON object
        return len(head) > 8 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1
    # torch.save's zip format, or a pickle (legacy torch.save and plain pickles start with PROTO)
    return head.startswith((b"PK\x03\x04", b"\x80"))


def not_a_checkpoint(path: Path, name: str | None = None, *, checkpoint: bool | None = None) -> str | None:
    """Why ``path`` is certainly not what its name says (an HTML page, text, empty), else None.

    ``checkpoint`` (default: decided by the suffix of ``name``, itself the file's name by
    default) says whether a checkpoint is expected: one must start like a zip, a pickle or
    a safetensors file; any other file only must not be an HTML page (an error or login
    page served under its name).
    """
    suffix = Path(name or path.name).suffix.lower()
    with open(path, "rb") as f:
        head = f.read(4096)
    if suffix in (".html", ".htm"):
        return None
    if _looks_like_html(head):
        return "this is an HTML page, not a checkpoint (the server answered with a web page: an error or login page?)"
    if checkpoint is None:
        checkpoint = suffix in CHECKPOINT_SUFFIXES
    if not checkpoint or _is_checkpoint_start(head, suffix):
        return None
    if not head:
        return "the file is empty"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = ""  # (a multi-byte character cut at 4096 bytes is not worth telling apart)
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return f"it is a text file ({text[:40].strip()!r}...), not a checkpoint"
    kind = "safetensors file" if suffix == ".safetensors" else "PyTorch checkpoint (zip or pickle)"
    return f"its first bytes {head[:8]!r} are not those of a {kind}"


def load_file(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Tensors of a checkpoint file, as a dict; refuses pickles that carry code."""
    import torch

    path = Path(path)
    if path.is_dir():
        raise WeightsError(f"{path} is a directory, not a checkpoint file.")
    try:
        reason = not_a_checkpoint(path, checkpoint=True)
    except OSError as exc:
        raise WeightsError(f"Cannot read checkpoint {path}: {exc.strerror or exc}.") from None
    if reason is not None:
        raise WeightsError(
            f"{path} is not a checkpoint: {reason}. Give the path of a .pth/.pt/.bin or .safetensors "
            "file (if it was downloaded, delete it and fetch it again)."
        )
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file as load_safetensors

        try:
            tensors = load_safetensors(str(path), device=str(torch.device(map_location)))
        except (SafetensorError, OSError) as exc:
            raise WeightsError(f"{path} is not a readable safetensors file ({exc}). Delete it and fetch it again.") from exc
        # safetensors leaves tensors where the header ends, 8-byte aligned only. CPU kernels take
        # other code paths (other rounding) on memory that is not 64-byte aligned, so a model that
        # assigns these tensors (meta-device build) would not match one that copies them: copy them.
        return {key: t.clone() if t.data_ptr() % 64 else t for key, t in tensors.items()}
    is_zip = zipfile.is_zipfile(path)
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError(
            f"Refused to load {path}: it contains pickled objects other than tensors ({first_line(exc)}). "
            "modelver never unpickles code. Convert the checkpoint to safetensors in a trusted "
            "environment, or load only files from sources you trust."
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"{path} is not a readable checkpoint ({exc}). Delete it and fetch it again.") from exc
    if not isinstance(obj, dict):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state_dict (a dict of tensors).")
    # Some checkpoints store views (transposed or sliced storages); a model that is assigned
    # such tensors runs slower and cannot be exported cleanly.
    return {k: v.contiguous() if isinstance(v, torch.Tensor) and not v.is_contiguous() else v for k, v in obj.items()}
