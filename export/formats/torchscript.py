"""TorchScript: ``torch.jit.script`` of the whole pipeline, frozen, meta in ``_extra_files``.

torch deprecates TorchScript (``.pt2`` is the way forward); it is still what
many C++ and mobile deployments load with plain ``torch.jit.load``. The module is saved
frozen but not ``optimize_for_inference``-d: that pass rewrites the module in place for the
machine at hand, so it belongs after loading.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from modelver.errors import BundleError, first_line

from .._bundle import META_DIGEST_FILE, META_FILE, canonical_json, meta_digest
from ..registry import get_format
from ..tasks._base import TaskExporter
from . import Written


def write(task: TaskExporter, meta: dict[str, Any], directory: Path, options: dict[str, Any]) -> Written:
    name = get_format("torchscript").model_file
    module = task.torch_module()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        try:
            scripted = torch.jit.script(module)
        except Exception as exc:
            raise BundleError(f"torch.jit.script failed for {task.name}: {first_line(exc)}") from exc
        frozen = torch.jit.freeze(scripted.eval())
        tmp = directory / (name + ".tmp")
        torch.jit.save(
            frozen, str(tmp), _extra_files={META_FILE: canonical_json(meta), META_DIGEST_FILE: meta_digest(meta)}
        )
    tmp.replace(directory / name)
    return Written(name, [name], {"method": "torch.jit.script + torch.jit.freeze", "torch": torch.__version__})
