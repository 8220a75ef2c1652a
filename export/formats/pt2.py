"""``.pt2``: ``torch.export`` of the whole pipeline with dynamic batch and input sizes, meta in ``extra_files``.

The successor of TorchScript: load with ``torch.export.load(path).module()``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from modelver.errors import BundleError, first_line

from .._bundle import META_DIGEST_FILE, META_FILE, canonical_json, meta_digest
from .._torch_export import out_of_place
from ..registry import get_format
from ..tasks._base import TaskExporter
from . import Written


def write(task: TaskExporter, meta: dict[str, Any], directory: Path, options: dict[str, Any]) -> Written:
    name = get_format("pt2").model_file
    module = task.torch_module()
    with out_of_place(module), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        try:
            program = torch.export.export(
                module, task.export_args(), dynamic_shapes=task.dynamic_shapes(), strict=False
            )
        except Exception as exc:
            raise BundleError(f"torch.export failed for {task.name}: {first_line(exc)}") from exc
    tmp = directory / ("partial-" + name)  # torch.export.save wants the .pt2 suffix
    with warnings.catch_warnings():
        # "No complete tensor found in the group": weights with non-contiguous strides are stored whole
        warnings.simplefilter("ignore", category=UserWarning)
        torch.export.save(
            program, str(tmp), extra_files={META_FILE: canonical_json(meta), META_DIGEST_FILE: meta_digest(meta)}
        )
    tmp.replace(directory / name)
    return Written(
        name, [name], {"method": "torch.export.export (non-strict), dynamic shapes", "torch": torch.__version__}
    )
