"""Read a weights file into tensors without ever running code from it.

``.safetensors`` through safetensors; ``.pt`` / ``.pth`` / ``.bin`` through
``torch.load(weights_only=True)``, memory-mapped when the file is in torch's zip format
(legacy, non-zip checkpoints cannot be mapped and are read normally).
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

from ..errors import UnsafeCheckpointError, WeightsError


def load_file(path: Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Tensors of a checkpoint file, as a dict; refuses pickles that carry code."""
    import torch

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
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsafeCheckpointError(
            f"Refused to load {path}: it contains pickled objects other than tensors ({first_line}). "
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
