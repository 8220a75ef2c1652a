"""ONNX: one file with the preprocessing in the graph, meta in ``metadata_props``, a Markdown ``doc_string``.

Runs on onnxruntime with numpy alone. The model part comes from ``torch.onnx.export``
(the dynamo exporter) at the weights' crop size with a dynamic batch; the task adds its
preprocessing as a separate ONNX graph (dynamic batch, height and width) in front of it.
The file holds its weights (no external data), so it is limited to protobuf's 2 GB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx

from modelver import __version__
from modelver.errors import BundleError

from .._bundle import META_DIGEST_KEY, meta_digest
from ..registry import get_format
from ..tasks._base import TaskExporter
from . import DEFAULT_OPSET, Written, check_opset

PROTOBUF_LIMIT = 2**31 - 1


def doc_string(task: TaskExporter, meta: dict[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    lines = [
        f"# {meta['name']} ({meta['weights']})",
        "",
        f"Exported by modelver {__version__} from `{meta['name']}(weights={meta['weights']})`; task `{meta['task']}`.",
        "",
        *task.doc_lines(),
        "",
        f"- License of the weights: {meta.get('license') or 'not stated'}",
        f"- Weights file: {meta.get('source_url')} (sha256 {meta.get('source_sha256') or 'unknown'})",
    ]
    for dataset, values in metrics.items():
        lines.append(f"- {dataset}: " + ", ".join(f"{k} {v}" for k, v in (values or {}).items()))
    lines += [
        "",
        "Every metadata_props value is JSON. Run it with `python -m modelver_export.runtime model.onnx INPUT...`",
        "(a photo; texts for text bundles) or onnxruntime directly.",
    ]
    return "\n".join(lines)


def onnx_proto(task: TaskExporter, meta: dict[str, Any], options: dict[str, Any]) -> onnx.ModelProto:
    """The task's ONNX model with modelver's meta (built once per opset, shared with Triton)."""
    opset = check_opset(int(options.get("opset") or DEFAULT_OPSET))
    cache = options.setdefault("onnx_cache", {})
    if opset in cache:
        return cache[opset]
    model = task.onnx_model(opset)
    # merge_models lists the default domain once per input model
    versions: dict[str, int] = {}
    for entry in model.opset_import:
        versions[entry.domain] = max(versions.get(entry.domain, 0), entry.version)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(domain, version) for domain, version in versions.items())
    model.producer_name = "modelver"
    model.producer_version = __version__
    model.doc_string = doc_string(task, meta)
    del model.metadata_props[:]
    props = {key: json.dumps(value, ensure_ascii=False) for key, value in meta.items()}
    props[META_DIGEST_KEY] = meta_digest(meta)
    onnx.helper.set_model_props(model, props)
    size = model.ByteSize()
    if size > PROTOBUF_LIMIT:
        raise BundleError(
            f"The ONNX model of {task.name} is {size / 2**30:.1f} GiB, over protobuf's 2 GB limit for one file; "
            "export it to pt2 instead."
        )
    cache[opset] = model
    return model


def save(model: onnx.ModelProto, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(model.SerializeToString())
    tmp.replace(path)


def details(task: TaskExporter, model: onnx.ModelProto) -> dict[str, Any]:
    import torch

    return {
        **task.onnx_details(),
        "opset": max(e.version for e in model.opset_import if e.domain in ("", "ai.onnx")),
        "ir_version": model.ir_version,
        "torch": torch.__version__,
        "onnx": onnx.__version__,
    }


def write(task: TaskExporter, meta: dict[str, Any], directory: Path, options: dict[str, Any]) -> Written:
    name = get_format("onnx").model_file
    model = onnx_proto(task, meta, options)
    save(model, directory / name)
    return Written(name, [name], details(task, model))
